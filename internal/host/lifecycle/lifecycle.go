// Package lifecycle starts, attaches to, stops and resumes bottles: the
// work behind `bot-bottle up`, `down` and `resume`. A bottle is a compose
// project rendered into its directory under <home>/state/<slug>/, run by
// `docker compose`, with the operator's workspace copied onto a volume
// and the agent provisioned before anyone attaches to it.
//
// Every step says what it did in one line on Manager.Log. A step that
// fails is named in the error, and Start leaves nothing running and
// nothing on disk behind it.
package lifecycle

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/host/bottle"
	"github.com/bot-bottle/bot-bottle/internal/host/compose"
	"github.com/bot-bottle/bot-bottle/internal/host/docker"
	"github.com/bot-bottle/bot-bottle/internal/host/manifest"
	"github.com/bot-bottle/bot-bottle/internal/host/provider"
	"github.com/bot-bottle/bot-bottle/internal/host/render"
	"github.com/bot-bottle/bot-bottle/internal/shared/version"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// Manager manages the bottles under Home on the engine Docker reaches.
type Manager struct {
	// Home is the bot-bottle home; bottles live in Home/state/<slug>/.
	Home string
	// Docker runs the docker CLI.
	Docker docker.Runner
	// Log gets one line per step; nil: discarded.
	Log io.Writer
	// Progress gets docker's own progress output (image builds, compose
	// starting services); nil: discarded, and a failure carries its tail.
	Progress io.Writer
	// Provision readies a started bottle's agent (CA trust, prompt,
	// skills, git, MCP); nil: nothing is provisioned.
	Provision func(ctx context.Context, b *Bottle, eff *manifest.Effective) error
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Launch is what to start.
type Launch struct {
	// Slug is the new bottle's slug (bottle.NewSlug).
	Slug string
	// Eff is the agent and its bottle.
	Eff *manifest.Effective
	// Env is the agent's env, resolved before anything started.
	Env *render.ResolvedEnv
	// Getenv reads the operator's environment for route tokens; nil:
	// os.Getenv.
	Getenv func(string) string
	// Cwd is the directory copied in as the workspace; "" for none.
	Cwd string
	// MaxWorkspace caps what Cwd may hold; zero: DefaultMaxWorkspace.
	MaxWorkspace int64
	// AgentImage overrides the image the provider names; "" for that.
	AgentImage string
	// Runtime is the agent's container runtime; "" for Docker's default.
	Runtime string
	// HostCPUs caps the default cpus limit; zero: the machine's.
	HostCPUs int
	// CodexAccessToken reads the host's Codex access token, for a bottle
	// that forwards the host's login; nil: such a bottle cannot start.
	CodexAccessToken func() (string, error)
}

// Bottle is a started bottle.
type Bottle struct {
	Dir     contract.BottleDir
	Meta    *bottle.Metadata
	Compose *docker.Compose
	// User is who the agent runs as, and Workspace its workspace path.
	User      docker.ImageUser
	Workspace string
}

// PromptFile is where provisioning leaves the agent's prompt, under its
// home.
const PromptFile = ".bot-bottle-prompt.txt"

func (m *Manager) logf(format string, args ...any) {
	if m.Log != nil {
		fmt.Fprintf(m.Log, format+"\n", args...)
	}
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// step wraps err with the step that failed.
func step(name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", name, err)
}

// Start creates the bottle l describes and starts it: its image (built
// when the provider names a Dockerfile), its directory, its containers,
// its workspace and its agent's provisioning. On failure everything it
// made is removed and the error names the step.
func (m *Manager) Start(ctx context.Context, l Launch) (b *Bottle, err error) {
	d, err := contract.StateBottleDir(m.Home, l.Slug)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(string(d)); err == nil {
		return nil, fmt.Errorf("bottle %s already has a directory at %s", l.Slug, d)
	}
	image := l.AgentImage
	if image == "" {
		if image, err = render.AgentImage(l.Eff.Bottle); err != nil {
			return nil, step("agent image", err)
		}
		if df := l.Eff.Bottle.Provider.Dockerfile; df != "" {
			if err := m.build(ctx, image, df); err != nil {
				return nil, step("build the agent image", err)
			}
		}
	}
	user, err := m.Docker.ImageUser(ctx, image)
	if err != nil {
		return nil, step("agent image", missingImage(image, err))
	}
	b = &Bottle{Dir: d, User: user, Workspace: path.Join(user.Home, WorkspaceDir)}
	if l.Cwd != "" {
		max := l.MaxWorkspace
		if max == 0 {
			max = DefaultMaxWorkspace
		}
		size, err := workspaceSize(l.Cwd, max)
		if err != nil {
			return nil, step("workspace", err)
		}
		if err := CheckWorkspaceCredentials(l.Cwd); err != nil {
			return nil, step("workspace", err)
		}
		m.logf("up: workspace %s (%s) will be copied to %s", l.Cwd, humanBytes(size), b.Workspace)
	}

	res, err := render.Render(l.Eff, render.Options{
		Dir: string(d), Slug: l.Slug, AgentImage: image, Env: l.Env, Getenv: l.Getenv,
		Runtime: l.Runtime, HostCPUs: l.HostCPUs, AgentUser: agentUser(user), Workspace: b.Workspace,
		AgentHome: user.Home, CodexAccessToken: l.CodexAccessToken,
	})
	if err != nil {
		return nil, step("render", err)
	}
	b.Compose = &docker.Compose{Runner: m.Docker, Dir: d, Project: res.Project}
	b.Meta = &bottle.Metadata{
		Version: bottle.MetadataVersion, Slug: l.Slug, Agent: l.Eff.Agent.Name, AgentFile: l.Eff.Agent.File,
		Bottle: l.Eff.Bottle.Name, Provider: l.Eff.Bottle.Provider.Template, Image: image, Cwd: l.Cwd,
		AgentUser: bottle.User{UID: user.UID, GID: user.GID, Name: user.Name, Home: user.Home}, Workspace: b.Workspace,
		ComposeProject: res.Project, StartedAt: m.now().UTC(), BotBottleVersion: version.String(),
		State: bottle.StateStarting,
	}
	defer func() {
		if err != nil {
			m.remove(context.WithoutCancel(ctx), b)
		}
	}()
	if err := bottle.Write(d, b.Meta); err != nil {
		return nil, step("record the bottle", err)
	}
	m.logf("up: bottle %s rendered in %s", l.Slug, d)
	if err := m.up(ctx, b, l.Cwd); err != nil {
		return nil, err
	}
	if m.Provision != nil {
		if err := m.Provision(ctx, b, l.Eff); err != nil {
			return nil, step("provision", err)
		}
	}
	b.Meta.State = bottle.StateRunning
	if err := bottle.Write(d, b.Meta); err != nil {
		return nil, step("record the bottle", err)
	}
	return b, nil
}

// up starts b's containers and copies the workspace in.
func (m *Manager) up(ctx context.Context, b *Bottle, cwd string) error {
	start := m.now()
	m.logf("up: starting %s (egress, git gate, supervise and the agent; waiting for every service to be healthy)", b.Compose.Project)
	if err := b.Compose.Up(ctx, m.Progress); err != nil {
		return step("start the containers", err)
	}
	m.logf("up: every service is up (%s)", m.now().Sub(start).Round(100*time.Millisecond))
	if cwd == "" {
		return nil
	}
	id, err := b.Compose.ContainerID(ctx, compose.AgentService)
	if err != nil || id == "" {
		return step("copy the workspace", fmt.Errorf("no agent container (%v)", err))
	}
	skipped, err := copyWorkspace(ctx, m.Docker, id, cwd, b.Workspace, b.User.UID, b.User.GID)
	if err != nil {
		return step("copy the workspace", err)
	}
	note := ""
	if skipped > 0 {
		note = fmt.Sprintf("; %d sockets, devices or pipes left out", skipped)
	}
	m.logf("up: workspace copied to %s, owned by %d:%d%s", b.Workspace, b.User.UID, b.User.GID, note)
	st, isGit, err := m.gitState(ctx, b)
	if err != nil {
		return step("read the copied workspace", err)
	}
	if isGit {
		b.Meta.Copied = &st.GitState
	}
	return nil
}

// build builds the agent image from dockerfile (its context is the
// Dockerfile's directory).
func (m *Manager) build(ctx context.Context, image, dockerfile string) error {
	m.logf("up: building the agent image %s from %s", image, dockerfile)
	return m.Docker.Run(ctx, nil, m.Progress, "build", "--tag", image, "--file", dockerfile, "--", filepath.Dir(dockerfile))
}

// agentUser is the compose user of the agent: the bare uid when the
// image's passwd gives it the same group (Docker's copy into the
// container can then look the user up), else uid:gid.
func agentUser(u docker.ImageUser) string {
	if u.Name != "" {
		return strconv.Itoa(u.UID)
	}
	return strconv.Itoa(u.UID) + ":" + strconv.Itoa(u.GID)
}

// remove takes everything of b off the engine and the disk, reporting
// (not returning) what it could not: used when a start fails.
func (m *Manager) remove(ctx context.Context, b *Bottle) {
	if b.Compose != nil {
		if err := b.Compose.Down(ctx, m.Progress, true); err != nil {
			m.logf("up: warning: removing the half-started bottle: %v", err)
		}
	}
	if err := os.RemoveAll(string(b.Dir)); err != nil {
		m.logf("up: warning: removing %s: %v", b.Dir, err)
	}
}

// missingImage explains an agent image that is not on this machine: the
// templates' images are built from this repository's images/ (they need
// a registry for their base), any other is the operator's to build or
// pull.
func missingImage(image string, err error) error {
	if !strings.Contains(err.Error(), "No such image") {
		return err
	}
	if build, ok := provider.BuildCommand(image); ok {
		return fmt.Errorf("the agent image %s is not on this machine; build it from a bot-bottle checkout where a registry is reachable: "+
			"%s (or run another image with --agent-image)", image, build)
	}
	return fmt.Errorf("the agent image %s is not on this machine; build or pull it, or name another with --agent-image", image)
}
