// Command demo-upstream serves the offline demo's pretend internet. See
// 'demo-upstream --help'.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/bot-bottle/bot-bottle/internal/scaffold/demoupstream"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := demoupstream.Run(ctx, os.Args[1:], os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo-upstream: %v\n", err)
		os.Exit(1)
	}
}
