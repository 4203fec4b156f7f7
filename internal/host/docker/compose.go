package docker

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// Compose is one bottle's compose project: the compose.yaml in its
// bottle directory, under its project name.
type Compose struct {
	Runner
	// Dir is the bottle directory.
	Dir contract.BottleDir
	// Project is the compose project name.
	Project string
}

// args prefixes a compose subcommand with the project's file, directory
// and name, so the command does the same from any working directory.
func (c *Compose) args(sub ...string) []string {
	return append([]string{"compose",
		"--project-directory", string(c.Dir),
		"-f", filepath.Join(string(c.Dir), contract.BottleComposeFile),
		"-p", c.Project}, sub...)
}

// Command returns `docker compose SUB...` for the project, not started,
// for a caller that wires its standard streams itself (an attached
// session).
func (c *Compose) Command(ctx context.Context, sub ...string) *exec.Cmd {
	return c.Runner.Command(ctx, c.args(sub...)...)
}

// Run runs `docker compose SUB...` for the project, its output going to
// stdout and stderr (nil: discarded, a failure then carries its tail).
func (c *Compose) Run(ctx context.Context, stdout, stderr io.Writer, sub ...string) error {
	return c.Runner.Run(ctx, stdout, stderr, c.args(sub...)...)
}

// Output runs `docker compose SUB...` and returns its standard output.
func (c *Compose) Output(ctx context.Context, sub ...string) ([]byte, error) {
	return c.Runner.Output(ctx, c.args(sub...)...)
}

// Up starts services (none: all) and waits until every one is running
// and healthy. Compose's progress goes to progress (nil: discarded).
func (c *Compose) Up(ctx context.Context, progress io.Writer, services ...string) error {
	return c.Run(ctx, nil, progress, append([]string{"up", "--detach", "--wait", "--remove-orphans"}, services...)...)
}

// Down removes the project's containers and networks, and its volumes
// when volumes is set.
func (c *Compose) Down(ctx context.Context, progress io.Writer, volumes bool) error {
	sub := []string{"down", "--remove-orphans", "--timeout", "10"}
	if volumes {
		sub = append(sub, "--volumes")
	}
	return c.Run(ctx, nil, progress, sub...)
}

// Signal sends sig (such as "HUP") to service's main process.
func (c *Compose) Signal(ctx context.Context, service, sig string) error {
	return c.Run(ctx, nil, nil, "kill", "--signal", sig, service)
}

// Service is one container of the project, as `compose ps` sees it.
type Service struct {
	// Service is the compose service's name.
	Service string `json:"Service"`
	// Name is the container's name.
	Name string `json:"Name"`
	// ID is the container's short id.
	ID string `json:"ID"`
	// State is "running", "exited", "restarting", "created", ...
	State string `json:"State"`
	// Health is "healthy", "unhealthy", "starting", or "" without a
	// healthcheck.
	Health   string `json:"Health"`
	ExitCode int    `json:"ExitCode"`
}

// Condition is one word for how the service is: its health when it has
// one and runs, else its state ("exited (3)" with a non-zero status).
func (s Service) Condition() string {
	switch {
	case s.State == "running" && s.Health != "":
		return s.Health
	case s.State == "exited" && s.ExitCode != 0:
		return fmt.Sprintf("exited (%d)", s.ExitCode)
	}
	return s.State
}

// PS lists the project's containers, stopped ones too, sorted by service.
func (c *Compose) PS(ctx context.Context) ([]Service, error) {
	out, err := c.Output(ctx, "ps", "--all", "--format", "json")
	if err != nil {
		return nil, err
	}
	return parsePS(out)
}

func parsePS(out []byte) ([]Service, error) {
	// compose v2.21+ prints one object per line; older ones one array.
	if t := strings.TrimSpace(string(out)); strings.HasPrefix(t, "[") {
		var arr []Service
		if err := jsonUnmarshal([]byte(t), &arr); err != nil {
			return nil, err
		}
		return sortServices(arr), nil
	}
	svcs, err := decodeLines[Service](out)
	return sortServices(svcs), err
}

func sortServices(s []Service) []Service {
	slices.SortFunc(s, func(a, b Service) int { return strings.Compare(a.Service, b.Service) })
	return s
}

// ContainerID returns the id of service's container, "" when it has none.
func (c *Compose) ContainerID(ctx context.Context, service string) (string, error) {
	out, err := c.Output(ctx, "ps", "--all", "--quiet", service)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// maxComposeFile bounds the compose file Services reads; a bottle's is a
// few kilobytes.
const maxComposeFile = 1 << 20

// Services are the names of the services the project's compose file
// declares, sorted. It reads the file rather than asking compose, which
// would also need every env file the project names.
func (c *Compose) Services() ([]string, error) {
	path := filepath.Join(string(c.Dir), contract.BottleComposeFile)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var file struct {
		Services map[string]yaml.Node `yaml:"services"`
	}
	if err := yaml.NewDecoder(io.LimitReader(f, maxComposeFile)).Decode(&file); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	names := make([]string, 0, len(file.Services))
	for name := range file.Services {
		names = append(names, name)
	}
	slices.Sort(names)
	return names, nil
}
