package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/host/bottle"
	"github.com/bot-bottle/bot-bottle/internal/host/compose"
	"github.com/bot-bottle/bot-bottle/internal/host/docker"
	"github.com/bot-bottle/bot-bottle/internal/host/manifest"
	"github.com/bot-bottle/bot-bottle/internal/host/render"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// Open returns the bottle slug as its directory records it. An unknown
// slug is an error that lists the known ones.
func (m *Manager) Open(slug string) (*Bottle, error) {
	d, meta, err := bottle.Find(m.Home, slug)
	if err != nil {
		return nil, err
	}
	u := meta.AgentUser
	return &Bottle{
		Dir: d, Meta: meta,
		Compose:   &docker.Compose{Runner: m.Docker, Dir: d, Project: meta.ComposeProject},
		User:      docker.ImageUser{UID: u.UID, GID: u.GID, Name: u.Name, Home: u.Home},
		Workspace: meta.Workspace,
	}, nil
}

// Running reports whether b's agent container runs.
func (m *Manager) Running(ctx context.Context, b *Bottle) (bool, error) {
	svcs, err := b.Compose.PS(ctx)
	if err != nil {
		return false, err
	}
	for _, s := range svcs {
		if s.Service == compose.AgentService {
			return s.State == "running", nil
		}
	}
	return false, nil
}

// Down stops the bottle slug and removes its containers and networks.
// Its secrets (tokens, keys, the agent's env values) always leave the
// disk. Without keepState its workspace volume and its directory go too;
// with it, both stay and Resume brings the bottle back.
func (m *Manager) Down(ctx context.Context, slug string, keepState bool) error {
	b, err := m.Open(slug)
	if err != nil {
		return err
	}
	var errs []error
	m.logf("down: stopping %s", b.Compose.Project)
	if err := b.Compose.Down(ctx, m.Progress, !keepState); err != nil {
		errs = append(errs, fmt.Errorf("remove the containers: %w", err))
	} else if err := m.leftovers(ctx, slug, b.Compose.Project, keepState); err != nil {
		errs = append(errs, err)
	}
	if err := render.RemoveSecrets(b.Dir); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		// Keep the directory: it is what the next down needs to retry.
		_ = bottle.SetState(b.Dir, bottle.StateFailed)
		return errors.Join(errs...)
	}
	if keepState {
		if err := bottle.SetState(b.Dir, bottle.StateStopped); err != nil {
			return err
		}
		m.logf("down: %s stopped; its state and workspace are kept in %s (bot-bottle resume %s)", slug, b.Dir, slug)
		return nil
	}
	if err := os.RemoveAll(string(b.Dir)); err != nil {
		return fmt.Errorf("remove %s: %w", b.Dir, err)
	}
	m.logf("down: %s removed", slug)
	return nil
}

// Resumption is what starting a stopped bottle again needs.
type Resumption struct {
	// Eff is the bottle's agent as its manifests say now.
	Eff *manifest.Effective
	// Env is the agent's env, resolved again.
	Env *render.ResolvedEnv
	// Getenv reads route tokens; nil: os.Getenv.
	Getenv func(string) string
	// HostCPUs: see Launch.
	HostCPUs int
	// CodexAccessToken: see Launch.
	CodexAccessToken func() (string, error)
	// Credential asks the operator again for a credential approved with
	// a cred-block, which no file on the host holds and which was deleted
	// with the other secrets when the bottle stopped; nil: such a bottle
	// is not resumed, and the error names the route.
	Credential func(host string, scheme contract.AuthScheme) ([]byte, error)
}

// Resume brings the stopped bottle slug back as it was: its secrets read
// again from the host, a new CA, its containers started, its agent
// provisioned again, with the workspace volume and what the operator
// approved kept. A running bottle is returned as it is.
func (m *Manager) Resume(ctx context.Context, slug string, r Resumption) (*Bottle, error) {
	b, err := m.Open(slug)
	if err != nil {
		return nil, err
	}
	if running, err := m.Running(ctx, b); err != nil {
		return nil, step("ask docker about the bottle", err)
	} else if running {
		return b, nil
	}
	if _, err := os.Stat(b.Dir.Path(contract.BottleComposeFile)); err != nil {
		return nil, fmt.Errorf("bottle %s has no compose project in %s; remove it with 'bot-bottle down %s'", slug, b.Dir, slug)
	}
	err = render.RenewSecrets(r.Eff, b.Dir, slug, render.Options{
		AgentImage: b.Meta.Image, Env: r.Env, Getenv: r.Getenv, HostCPUs: r.HostCPUs,
		AgentUser: agentUser(b.User), Workspace: b.Workspace, AgentHome: b.User.Home, CodexAccessToken: r.CodexAccessToken,
	})
	if err != nil {
		return nil, step("read the secrets again", err)
	}
	if err := askApproved(b.Dir, r.Credential); err != nil {
		return nil, step("ask again for the credentials you approved", err)
	}
	if err := m.up(ctx, b, ""); err != nil {
		return nil, err
	}
	if m.Provision != nil {
		if err := m.Provision(ctx, b, r.Eff); err != nil {
			return nil, step("provision", err)
		}
	}
	b.Meta.State = bottle.StateRunning
	if err := bottle.Write(b.Dir, b.Meta); err != nil {
		return nil, step("record the bottle", err)
	}
	return b, nil
}

// askApproved writes again each secret that a route of the bottle's
// routes file injects and that RenewSecrets did not write: a credential
// the operator approved while the bottle ran, which only the operator
// holds. Without it egress could not start.
func askApproved(dir contract.BottleDir, ask func(string, contract.AuthScheme) ([]byte, error)) error {
	data, err := os.ReadFile(dir.RoutesFile())
	if err != nil {
		return fmt.Errorf("read the routes file: %w", err)
	}
	rf, err := contract.ParseRoutes(data)
	if err != nil {
		return fmt.Errorf("routes file %s: %w", dir.RoutesFile(), err)
	}
	for _, r := range rf.Routes {
		if r.Auth == nil {
			continue
		}
		if _, err := os.Lstat(dir.SecretFile(r.Auth.Secret)); err == nil {
			continue
		}
		if ask == nil {
			return fmt.Errorf("the route for %s injects the %s credential you approved (secret %s), which is not kept while the bottle is stopped; resume it on a terminal to type it again",
				r.Host, r.Auth.Scheme, r.Auth.Secret)
		}
		value, err := ask(r.Host, r.Auth.Scheme)
		if err != nil {
			return fmt.Errorf("the %s credential for %s: %w", r.Auth.Scheme, r.Host, err)
		}
		if len(value) == 0 {
			return fmt.Errorf("the %s credential for %s is empty", r.Auth.Scheme, r.Host)
		}
		if err := render.WriteSecret(dir, r.Auth.Secret, value); err != nil {
			return err
		}
	}
	return nil
}

// leftovers reports what of the bottle slug is still on the engine after
// compose took it down (compose says nothing of a network it could not
// remove because something else joined it): every container and network,
// and its volumes unless they are kept.
func (m *Manager) leftovers(ctx context.Context, slug, project string, keepVolumes bool) error {
	all, err := m.Docker.BottleResources(ctx)
	if err != nil {
		return fmt.Errorf("check that nothing is left: %w", err)
	}
	r := all[slug]
	if r == nil {
		return nil
	}
	var left []string
	for _, c := range r.Containers {
		left = append(left, "container "+c.Names)
	}
	for _, n := range r.Networks {
		left = append(left, "network "+n.Name)
	}
	if !keepVolumes {
		for _, v := range r.Volumes {
			left = append(left, "volume "+v.Name)
		}
	}
	if len(left) == 0 {
		return nil
	}
	return fmt.Errorf("still on the engine: %s (a container of someone else's may have joined a network); remove them with: docker compose -p %s down --volumes, and 'docker network disconnect' what holds a network",
		strings.Join(left, ", "), project)
}
