// Command supervise is the bottle's MCP server for proposals. See
// 'supervise --help'.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/bot-bottle/bot-bottle/internal/sidecar/supervise"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := supervise.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "supervise: %v\n", err)
		os.Exit(1)
	}
}
