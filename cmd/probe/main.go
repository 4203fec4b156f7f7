// Command probe is the test and demo probe of the bot-bottle agent-test
// image: it tries the network and looks for leaked secrets from inside the
// agent container. See 'probe --help'.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/bot-bottle/bot-bottle/internal/scaffold/probe"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := probe.Run(ctx, os.Args[1:], os.Environ(), os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
