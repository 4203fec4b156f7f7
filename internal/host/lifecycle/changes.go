package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/bot-bottle/bot-bottle/internal/host/bottle"
	"github.com/bot-bottle/bot-bottle/internal/host/compose"
	"github.com/bot-bottle/bot-bottle/internal/host/manifest"
	"github.com/bot-bottle/bot-bottle/internal/host/render"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// Changes to a bottle that an operator's approval makes while it may be
// running.

// ErrNotRunning means the bottle's service is not running: a change
// applies when it starts.
var ErrNotRunning = errors.New("the bottle is not running")

// ReloadEgress makes the running bottle slug's egress reread its routes
// file: SIGHUP, which sidecar-init forwards to egress. The agent's next
// request uses the new table; nothing restarts.
func (m *Manager) ReloadEgress(ctx context.Context, slug string) error {
	b, err := m.Open(slug)
	if errors.Is(err, bottle.ErrUnknown) {
		return ErrNotRunning // a directory up did not start: nothing runs it
	}
	if err != nil {
		return err
	}
	if ok, err := m.serviceRunning(ctx, b, contract.EgressHost); err != nil {
		return err
	} else if !ok {
		return ErrNotRunning
	}
	return b.Compose.Signal(ctx, contract.EgressHost, "HUP")
}

func (m *Manager) serviceRunning(ctx context.Context, b *Bottle, service string) (bool, error) {
	svcs, err := b.Compose.PS(ctx)
	if err != nil {
		return false, err
	}
	for _, s := range svcs {
		if s.Service == service {
			return s.State == "running", nil
		}
	}
	return false, nil
}

// AddCredential writes value as the secret name of the bottle slug, gives
// it to egress in its compose project, and recreates egress when it runs,
// so the route whose auth names the secret injects it. The caller has
// written that route already. ErrNotRunning: it applies at the next start.
func (m *Manager) AddCredential(ctx context.Context, slug, name string, value []byte) error {
	b, err := m.Open(slug)
	if err != nil {
		return err
	}
	if err := render.WriteSecret(b.Dir, name, value); err != nil {
		return err
	}
	if err := editCompose(b, func(data []byte) ([]byte, error) {
		return compose.AddServiceSecret(data, contract.EgressHost, name)
	}); err != nil {
		return err
	}
	if ok, err := m.serviceRunning(ctx, b, contract.EgressHost); err != nil {
		return err
	} else if !ok {
		return ErrNotRunning
	}
	m.logf("proposals: restarting egress of %s with the new credential", slug)
	if err := b.Compose.Up(ctx, m.Progress, "--no-deps", "--force-recreate", contract.EgressHost); err != nil {
		return fmt.Errorf("restart egress: %w", err)
	}
	return nil
}

// RebuildAgent builds the agent image of the bottle slug from its
// Dockerfile override (agent.Dockerfile), points the project at it and,
// when the bottle runs, recreates the agent container (the workspace
// volume stays) and provisions it again for eff. The build's context is
// an empty directory: a line cannot copy a file of the operator's.
// ErrNotRunning: the new image runs at the next start.
func (m *Manager) RebuildAgent(ctx context.Context, slug string, eff *manifest.Effective) error {
	b, err := m.Open(slug)
	if err != nil {
		return err
	}
	empty, err := os.MkdirTemp("", "bot-bottle-build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(empty)
	image := "bot-bottle/agent-" + slug + ":" + strconv.FormatInt(m.now().Unix(), 10)
	m.logf("proposals: building %s from %s", image, b.Dir.Path(contract.BottleAgentDockerfile))
	if err := m.Docker.Run(ctx, nil, m.Progress, "build", "--tag", image, "--file", b.Dir.Path(contract.BottleAgentDockerfile), "--", empty); err != nil {
		return fmt.Errorf("build the agent image: %w", err)
	}
	user, err := m.Docker.ImageUser(ctx, image)
	if err != nil {
		return fmt.Errorf("the rebuilt agent image: %w", err)
	}
	if user.UID != b.User.UID || user.Home != b.User.Home {
		return fmt.Errorf("the rebuilt image runs as uid %d (home %s), not as the agent (uid %d, home %s)", user.UID, user.Home, b.User.UID, b.User.Home)
	}
	if err := editCompose(b, func(data []byte) ([]byte, error) {
		return compose.SetServiceImage(data, compose.AgentService, image)
	}); err != nil {
		return err
	}
	b.Meta.Image = image
	b.Meta.Rebuilt = m.now().UTC()
	if err := bottle.Write(b.Dir, b.Meta); err != nil {
		return err
	}
	if ok, err := m.Running(ctx, b); err != nil {
		return err
	} else if !ok {
		return ErrNotRunning
	}
	m.logf("proposals: recreating the agent of %s (its workspace stays)", slug)
	if err := b.Compose.Up(ctx, m.Progress, "--no-deps", "--force-recreate", compose.AgentService); err != nil {
		return fmt.Errorf("recreate the agent: %w", err)
	}
	if m.Provision != nil {
		if err := m.Provision(ctx, b, eff); err != nil {
			return fmt.Errorf("provision the recreated agent: %w", err)
		}
	}
	return nil
}

// editCompose rewrites the bottle's compose.yaml with edit, atomically.
func editCompose(b *Bottle, edit func([]byte) ([]byte, error)) error {
	path := b.Dir.Path(contract.BottleComposeFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := edit(data)
	if err != nil {
		return fmt.Errorf("edit %s: %w", path, err)
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, out, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
