package gitgate

import (
	"context"
	"io"

	"github.com/bot-bottle/bot-bottle/internal/shared/daemon"
)

// Run is gitgate's main: parse flags (and their env vars), load the gate
// file and keys, serve until ctx ends. Logs go to stderr as JSON; push
// audit lines to stdout.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, log, ok, err := daemon.Start(ParseConfig, args, getenv, stderr)
	if !ok {
		return err
	}
	gate, err := readGateFile(cfg.ConfigFile)
	if err != nil {
		return err
	}
	s, err := NewServer(cfg, gate, log, stdout)
	if err != nil {
		return err
	}
	ln, adminLn, err := daemon.Listen(daemon.Endpoint{Addr: cfg.Listen, Peers: cfg.AllowPeers},
		daemon.Endpoint{Addr: cfg.Admin, Peers: cfg.AdminAllowPeers}, log)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln, adminLn)
}
