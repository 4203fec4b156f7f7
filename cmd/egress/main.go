// Command egress is the bottle's forward proxy. See 'egress --help'.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	// Root certificates for images without a system bundle (FROM scratch).
	_ "golang.org/x/crypto/x509roots/fallback"

	"github.com/bot-bottle/bot-bottle/internal/sidecar/egress"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := egress.Run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "egress: %v\n", err)
		os.Exit(1)
	}
}
