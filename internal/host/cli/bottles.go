package cli

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/bot-bottle/bot-bottle/internal/host/lifecycle"
	"github.com/bot-bottle/bot-bottle/internal/host/proposals"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// bottleChanges applies approvals to running bottles through the
// lifecycle manager: egress reloads and restarts, agent rebuilds.
type bottleChanges struct {
	env  Env
	g    *globals
	home string
}

func (c bottleChanges) manager() *lifecycle.Manager { return newManager(c.env, c.home, nil, nil) }

// ReloadEgress implements proposals.Reloader: a bottle run by compose
// gets SIGHUP through sidecar-init; an egress run by hand on this machine
// (development, tests) through its pid file.
func (c bottleChanges) ReloadEgress(ctx context.Context, slug string) error {
	if d, err := contract.StateBottleDir(c.home, slug); err == nil {
		if _, err := os.Stat(d.Path(contract.BottleEgressPIDFile)); err == nil {
			return proposals.PIDFileReloader{Home: c.home}.ReloadEgress(ctx, slug)
		}
	}
	return notRunning(c.manager().ReloadEgress(ctx, slug))
}

// AddCredential implements proposals.BottleChanger.
func (c bottleChanges) AddCredential(ctx context.Context, slug, secret string, value []byte) error {
	return notRunning(c.manager().AddCredential(ctx, slug, secret, value))
}

// RebuildAgent implements proposals.BottleChanger; the recreated agent is
// provisioned for its agent as the manifests say now.
func (c bottleChanges) RebuildAgent(ctx context.Context, slug string) error {
	mgr := c.manager()
	b, err := mgr.Open(slug)
	if err != nil {
		return err
	}
	m, d, err := c.g.load(c.env)
	if err != nil {
		return err
	}
	eff, err := m.Effective(b.Meta.Agent)
	if err != nil {
		return fmt.Errorf("bottle %s runs agent %q: %w", slug, b.Meta.Agent, err)
	}
	skills, err := resolveSkills(c.env, c.home, eff)
	if err != nil {
		return err
	}
	// The recreated agent gets a new stand-in of a forwarded Codex login.
	codex, err := hostCodexLogin(c.env, d, eff)
	if err != nil {
		return err
	}
	return notRunning(newManager(c.env, c.home, skills, codex).RebuildAgent(ctx, slug, eff))
}

// notRunning turns the lifecycle's not-running error into the one
// proposals reports as "applies at the next start".
func notRunning(err error) error {
	if errors.Is(err, lifecycle.ErrNotRunning) {
		return proposals.ErrNotRunning
	}
	return err
}
