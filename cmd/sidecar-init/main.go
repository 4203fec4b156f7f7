// Command sidecar-init is PID 1 of the bot-bottle sidecar images. See
// 'sidecar-init --help'. Unlike the other mains it does not cancel a
// context on SIGTERM: it handles the signals itself, forwarding them to
// the daemons it runs.
package main

import (
	"context"
	"os"

	"github.com/bot-bottle/bot-bottle/internal/sidecar/sidecarinit"
)

func main() {
	os.Exit(sidecarinit.Run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}
