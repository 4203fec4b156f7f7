package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/host/codexauth"
	"github.com/bot-bottle/bot-bottle/internal/host/manifest"
	"github.com/bot-bottle/bot-bottle/internal/host/provider"
	"github.com/bot-bottle/bot-bottle/internal/shared/termtext"
)

// hostCredentials checks, before anything starts, the host side of the
// credential eff's provider gets from this machine: Claude's auth_token
// variable is set; Codex's forwarded login is read, and stderr says where
// it came from and when it expires (nil when the bottle forwards none).
// A credential that cannot be used is an error naming the fix.
func hostCredentials(env Env, d *display, eff *manifest.Effective) (*codexauth.Host, error) {
	p := eff.Bottle.Provider
	if p.Template == provider.Claude && p.AuthToken != "" && strings.TrimSpace(env.Getenv(p.AuthToken)) == "" {
		return nil, fmt.Errorf("bottle %s takes Claude Code's token from $%s (agent_provider.auth_token), which is not set in your environment; "+
			"export it (claude setup-token prints a token), or remove auth_token and log in inside the bottle", eff.Bottle.Name, p.AuthToken)
	}
	return hostCodexLogin(env, d, eff)
}

// hostCodexLogin reads the host's Codex login when eff's bottle forwards
// it; nil when it does not. See hostCredentials.
func hostCodexLogin(env Env, d *display, eff *manifest.Effective) (*codexauth.Host, error) {
	p := eff.Bottle.Provider
	if p.Template != provider.Codex || !p.ForwardHostCredentials {
		return nil, nil
	}
	now := time.Now()
	h, err := codexauth.Read(codexauth.Path(env.Getenv), now)
	if err != nil {
		return nil, fmt.Errorf("bottle %s forwards the host's Codex login (agent_provider.forward_host_credentials): %w", eff.Bottle.Name, err)
	}
	for _, w := range h.Warnings() {
		fmt.Fprintf(env.Stderr, "warning: %s\n", termtext.Line(w))
	}
	fmt.Fprintf(env.Stderr, "codex: forwarding %s; egress holds the token, the agent gets a stand-in\n", describeCodexLogin(d, h, now))
	return h, nil
}

// describeCodexLogin says where h is and until when it is valid.
func describeCodexLogin(d *display, h *codexauth.Host, now time.Time) string {
	return fmt.Sprintf("the host's ChatGPT login in %s, its access token valid until %s (%s left)",
		termtext.Line(d.path(h.Path())), h.Expires().Local().Format("15:04 MST, Jan 2"), age(h.Expires().Sub(now)))
}

// codexToken is the forwarded login's access token, for egress; nil
// without one.
func codexToken(h *codexauth.Host) func() (string, error) {
	if h == nil {
		return nil
	}
	return func() (string, error) { return h.AccessToken(), nil }
}

// codexStandIn is the agent's stand-in auth.json of the forwarded login;
// nil without one.
func codexStandIn(h *codexauth.Host) func() ([]byte, error) {
	if h == nil {
		return nil
	}
	return h.Dummy
}
