package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/host/docker"
	"github.com/bot-bottle/bot-bottle/internal/host/manifest"
)

// opsDeps are what list, logs and doctor need beyond Env. The zero value
// is the real machine: the docker CLI, the clock, local time.
type opsDeps struct {
	// engine answers list's and doctor's questions of Docker; nil:
	// docker.Runner{}.
	engine engine
	// composeRun runs `docker compose SUB...` of one bottle for logs; nil:
	// c.Run.
	composeRun func(ctx context.Context, c *docker.Compose, stdout, stderr io.Writer, sub ...string) error
	// now is the clock ages are measured with; nil: time.Now.
	now func() time.Time
	// loc is the time zone audit times are shown in; nil: time.Local.
	loc *time.Location
	// poll is how often logs --audit -f looks for new lines; 0: 250ms.
	poll time.Duration
}

// engine is what list and doctor ask of the Docker engine.
// docker.Runner is the real one; tests answer from recorded docker JSON.
type engine interface {
	// BottleContainers: every container with a bottle label, by slug.
	BottleContainers(ctx context.Context) (map[string][]docker.Container, error)
	// BottleResources: every container, network and volume with a
	// bottle label, by slug.
	BottleResources(ctx context.Context) (map[string]*docker.Resources, error)
	CLIPath() (string, error)
	Version(ctx context.Context) (docker.Versions, error)
	ComposeVersion(ctx context.Context) (string, error)
	Runtimes(ctx context.Context) ([]string, error)
	ImagePresent(ctx context.Context, ref string) (bool, error)
}

var _ engine = docker.Runner{}

func (d *opsDeps) eng() engine {
	if d.engine == nil {
		return docker.Runner{}
	}
	return d.engine
}

func (d *opsDeps) clock() time.Time {
	if d.now == nil {
		return time.Now()
	}
	return d.now()
}

func (d *opsDeps) location() *time.Location {
	if d.loc == nil {
		return time.Local
	}
	return d.loc
}

func (d *opsDeps) pollEvery() time.Duration {
	if d.poll <= 0 {
		return 250 * time.Millisecond
	}
	return d.poll
}

func (d *opsDeps) runCompose(ctx context.Context, c *docker.Compose, stdout, stderr io.Writer, sub ...string) error {
	if d.composeRun == nil {
		return c.Run(ctx, stdout, stderr, sub...)
	}
	return d.composeRun(ctx, c, stdout, stderr, sub...)
}

// stateHome is the bot-bottle home the globals point at, and a display
// that shortens paths for people.
func (g *globals) stateHome(env Env) (string, *display, error) {
	cwd, err := env.Getwd()
	if err != nil {
		return "", nil, fmt.Errorf("find the working directory: %w", err)
	}
	home, err := manifest.ResolveHome(g.home, env.Getenv, cwd)
	if err != nil {
		return "", nil, err
	}
	return home, newDisplay(cwd, env.Getenv("HOME")), nil
}

// age says how long d is in its largest whole unit: 5s, 3m, 2h, 4d.
func age(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}

// errLine is err on one line: its lines joined with "; ".
func errLine(err error) string {
	var lines []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "; ")
}
