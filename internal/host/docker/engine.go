package docker

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// composeProjectLabel is the label compose puts on every container,
// network and volume of a project: the project's name.
const composeProjectLabel = "com.docker.compose.project"

// Labels are docker's "k=v,k=v" text, as `--format '{{json .}}'` prints a
// container's, network's or volume's labels.
type Labels string

// Get returns the value of label key, "" when absent. Values are taken
// up to the next ",k=" so a value holding a comma still reads whole.
func (l Labels) Get(key string) string {
	for _, part := range splitLabels(string(l)) {
		if k, v, ok := strings.Cut(part, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// Container is one container the engine has, as `docker ps` sees it.
type Container struct {
	ID    string `json:"ID"`
	Names string `json:"Names"`
	// State is "running", "exited", ...
	State string `json:"State"`
	// Status is docker's own words: "Up 3 minutes (healthy)".
	Status string `json:"Status"`
	// Labels are docker's "k=v,k=v" text; see Label.
	Labels Labels `json:"Labels"`
}

// Label returns the value of label key, "" when absent.
func (c Container) Label(key string) string { return c.Labels.Get(key) }

// splitLabels splits docker's "k=v,k=v" text at commas that start a new
// "k=" pair.
func splitLabels(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] != ',' {
			continue
		}
		rest := s[i+1:]
		eq := strings.IndexByte(rest, '=')
		comma := strings.IndexByte(rest, ',')
		if eq > 0 && (comma < 0 || eq < comma) {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// Health is the health docker's Status names ("healthy", "unhealthy",
// "starting"), "" when the container has no healthcheck or is not running.
func (c Container) Health() string {
	for _, h := range []string{"unhealthy", "healthy", "health: starting"} {
		if strings.Contains(c.Status, "("+h+")") {
			return strings.TrimPrefix(h, "health: ")
		}
	}
	return ""
}

// exitedStatus matches the exit code in docker's "Exited (3) 2 hours ago".
var exitedStatus = regexp.MustCompile(`^Exited \((-?\d+)\)`)

// Condition is one word for how the container is, like Service.Condition:
// its health when it runs and has a healthcheck, else its state
// ("exited (3)" with a non-zero status).
func (c Container) Condition() string {
	if h := c.Health(); c.State == "running" && h != "" {
		return h
	}
	if m := exitedStatus.FindStringSubmatch(c.Status); c.State == "exited" && m != nil && m[1] != "0" {
		return "exited (" + m[1] + ")"
	}
	return c.State
}

// Service is the container's compose service.
func (c Container) Service() string { return c.Label("com.docker.compose.service") }

// Bottle is the bottle slug the container belongs to.
func (c Container) Bottle() string { return c.Label(contract.LabelBottle) }

// Project is the compose project the container belongs to, "" when it
// was not started by compose.
func (c Container) Project() string { return c.Label(composeProjectLabel) }

// Network is one network the engine has, as `docker network ls` sees it.
type Network struct {
	ID     string `json:"ID"`
	Name   string `json:"Name"`
	Labels Labels `json:"Labels"`
}

// Bottle is the bottle slug the network belongs to.
func (n Network) Bottle() string { return n.Labels.Get(contract.LabelBottle) }

// Project is the compose project the network belongs to.
func (n Network) Project() string { return n.Labels.Get(composeProjectLabel) }

// Volume is one volume the engine has, as `docker volume ls` sees it.
type Volume struct {
	Name   string `json:"Name"`
	Labels Labels `json:"Labels"`
}

// Bottle is the bottle slug the volume belongs to.
func (v Volume) Bottle() string { return v.Labels.Get(contract.LabelBottle) }

// Project is the compose project the volume belongs to.
func (v Volume) Project() string { return v.Labels.Get(composeProjectLabel) }

// ParseContainers reads what `docker ps --format '{{json .}}'` prints.
func ParseContainers(out []byte) ([]Container, error) { return decodeLines[Container](out) }

// ParseNetworks reads what `docker network ls --format '{{json .}}'`
// prints.
func ParseNetworks(out []byte) ([]Network, error) { return decodeLines[Network](out) }

// ParseVolumes reads what `docker volume ls --format '{{json .}}'` prints.
func ParseVolumes(out []byte) ([]Volume, error) { return decodeLines[Volume](out) }

// bottleFilter selects what carries the bottle label: every container,
// network and volume of a bottle's compose project has it (see
// internal/host/compose's labels).
const bottleFilter = "label=" + contract.LabelBottle

// BottleContainers lists every container of every bottle on the engine,
// running or not, grouped by bottle slug and sorted by service.
func (r Runner) BottleContainers(ctx context.Context) (map[string][]Container, error) {
	out, err := r.Output(ctx, "ps", "--all", "--no-trunc", "--filter", bottleFilter, "--format", "{{json .}}")
	if err != nil {
		return nil, err
	}
	all, err := ParseContainers(out)
	if err != nil {
		return nil, err
	}
	by := map[string][]Container{}
	for slug, res := range Group(all, nil, nil) {
		by[slug] = res.Containers
	}
	return by, nil
}

// Resources are what one bottle has on the engine.
type Resources struct {
	// Containers are sorted by service, Networks and Volumes by name.
	Containers []Container
	Networks   []Network
	Volumes    []Volume
}

// Project is the compose project the resources belong to, as their
// labels say; "" when none says.
func (r *Resources) Project() string {
	for _, c := range r.Containers {
		if p := c.Project(); p != "" {
			return p
		}
	}
	for _, n := range r.Networks {
		if p := n.Project(); p != "" {
			return p
		}
	}
	for _, v := range r.Volumes {
		if p := v.Project(); p != "" {
			return p
		}
	}
	return ""
}

// Group sorts containers, networks and volumes into bottles by their
// bottle label (slug → resources).
func Group(cs []Container, ns []Network, vs []Volume) map[string]*Resources {
	by := map[string]*Resources{}
	get := func(slug string) *Resources {
		if by[slug] == nil {
			by[slug] = &Resources{}
		}
		return by[slug]
	}
	for _, c := range cs {
		r := get(c.Bottle())
		r.Containers = append(r.Containers, c)
	}
	for _, n := range ns {
		r := get(n.Bottle())
		r.Networks = append(r.Networks, n)
	}
	for _, v := range vs {
		r := get(v.Bottle())
		r.Volumes = append(r.Volumes, v)
	}
	for _, r := range by {
		slices.SortFunc(r.Containers, func(a, b Container) int {
			return cmp.Or(strings.Compare(a.Service(), b.Service()), strings.Compare(a.Names, b.Names))
		})
		slices.SortFunc(r.Networks, func(a, b Network) int { return strings.Compare(a.Name, b.Name) })
		slices.SortFunc(r.Volumes, func(a, b Volume) int { return strings.Compare(a.Name, b.Name) })
	}
	return by
}

// BottleResources lists every container, network and volume on the
// engine that carries a bottle label, grouped by bottle slug: what `docker
// compose down --volumes` of each bottle's project would remove.
func (r Runner) BottleResources(ctx context.Context) (map[string]*Resources, error) {
	psOut, err := r.Output(ctx, "ps", "--all", "--no-trunc", "--filter", bottleFilter, "--format", "{{json .}}")
	if err != nil {
		return nil, err
	}
	netOut, err := r.Output(ctx, "network", "ls", "--no-trunc", "--filter", bottleFilter, "--format", "{{json .}}")
	if err != nil {
		return nil, err
	}
	volOut, err := r.Output(ctx, "volume", "ls", "--filter", bottleFilter, "--format", "{{json .}}")
	if err != nil {
		return nil, err
	}
	cs, err := ParseContainers(psOut)
	if err != nil {
		return nil, err
	}
	ns, err := ParseNetworks(netOut)
	if err != nil {
		return nil, err
	}
	vs, err := ParseVolumes(volOut)
	if err != nil {
		return nil, err
	}
	return Group(cs, ns, vs), nil
}

// CLIPath is where the docker CLI is, or an error when it is not found.
func (r Runner) CLIPath() (string, error) { return exec.LookPath(r.bin()) }

// Versions are the docker CLI's and the engine's versions.
type Versions struct {
	Client ComponentVersion `json:"Client"`
	// Server is nil when the engine did not answer.
	Server *ComponentVersion `json:"Server"`
}

// ComponentVersion is one side's version and the Docker API version it
// speaks.
type ComponentVersion struct {
	Version    string `json:"Version"`
	APIVersion string `json:"ApiVersion"`
	// MinAPIVersion is the oldest API the engine accepts; "" for the CLI.
	MinAPIVersion string `json:"MinAPIVersion,omitempty"`
}

// ParseVersion reads what `docker version --format json` prints.
func ParseVersion(out []byte) (Versions, error) {
	var v Versions
	err := jsonUnmarshal(out, &v)
	return v, err
}

// Version asks the docker CLI and the engine for their versions. When the
// engine does not answer, the error says why and the CLI's version is
// still returned when it printed one.
func (r Runner) Version(ctx context.Context) (Versions, error) {
	out, runErr := r.Output(ctx, "version", "--format", "json")
	v, err := ParseVersion(out)
	if runErr != nil {
		return v, runErr
	}
	if err != nil {
		return v, err
	}
	if v.Server == nil {
		return v, errors.New("docker version: the engine did not answer")
	}
	return v, nil
}

// ComposeVersion is the compose plugin's version ("2.28.1"), or an error
// when `docker compose` is not there.
func (r Runner) ComposeVersion(ctx context.Context) (string, error) {
	out, err := r.Output(ctx, "compose", "version", "--short")
	if err != nil {
		return "", err
	}
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	if v == "" {
		return "", errors.New("docker compose version printed nothing")
	}
	return v, nil
}

// ComposeMajor is the major version in a ComposeVersion ("2.28.1" → 2).
func ComposeMajor(version string) (int, error) {
	major, _, _ := strings.Cut(strings.TrimPrefix(version, "v"), ".")
	n, err := strconv.Atoi(major)
	if err != nil {
		return 0, fmt.Errorf("compose version %q: no major version", version)
	}
	return n, nil
}

// Runtimes are the container runtimes the engine offers ("runc",
// "runsc", ...), sorted.
func (r Runner) Runtimes(ctx context.Context) ([]string, error) {
	out, err := r.Output(ctx, "info", "--format", "{{json .Runtimes}}")
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := jsonUnmarshal(out, &m); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names)
	return names, nil
}

// ImagePresent reports whether the engine has the image ref
// ("bot-bottle/egress:local").
func (r Runner) ImagePresent(ctx context.Context, ref string) (bool, error) {
	out, err := r.Output(ctx, "image", "ls", "--quiet", ref)
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(string(out)) != "", nil
}
