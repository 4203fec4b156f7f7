// Command bot-bottle is the host CLI: manifests → compose project → running
// bottle. See 'bot-bottle --help'.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/bot-bottle/bot-bottle/internal/host/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.OSEnv())
	stop()
	os.Exit(code)
}
