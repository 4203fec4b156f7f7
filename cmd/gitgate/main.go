// Command gitgate is the bottle's git gate. See 'gitgate --help'.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/bot-bottle/bot-bottle/internal/sidecar/gitgate"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := gitgate.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "gitgate: %v\n", err)
		os.Exit(1)
	}
}
