// Command netguard locks a bottle's network namespace down to its on-link
// subnets (the host's gateway prohibited). See 'netguard --help'.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/bot-bottle/bot-bottle/internal/sidecar/netguard"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := netguard.Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "netguard: %v\n", err)
		os.Exit(1)
	}
}
