package docker

import (
	"context"
	"slices"
	"strings"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// Container is one container the engine has, as `docker ps` sees it.
type Container struct {
	ID    string `json:"ID"`
	Names string `json:"Names"`
	// State is "running", "exited", ...
	State string `json:"State"`
	// Status is docker's own words: "Up 3 minutes (healthy)".
	Status string `json:"Status"`
	// Labels are docker's "k=v,k=v" text; see Label.
	Labels string `json:"Labels"`
}

// Label returns the value of label key, "" when absent. Values are taken
// up to the next ",k=" so a value holding a comma still reads whole.
func (c Container) Label(key string) string {
	for _, part := range splitLabels(c.Labels) {
		if k, v, ok := strings.Cut(part, "="); ok && k == key {
			return v
		}
	}
	return ""
}

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

// Service is the container's compose service.
func (c Container) Service() string { return c.Label("com.docker.compose.service") }

// Bottle is the bottle slug the container belongs to.
func (c Container) Bottle() string { return c.Label(contract.LabelBottle) }

// BottleContainers lists every container of every bottle on the engine,
// running or not, grouped by bottle slug and sorted by service.
func (r Runner) BottleContainers(ctx context.Context) (map[string][]Container, error) {
	out, err := r.Output(ctx, "ps", "--all", "--no-trunc", "--filter", "label="+contract.LabelBottle, "--format", "{{json .}}")
	if err != nil {
		return nil, err
	}
	all, err := decodeLines[Container](out)
	if err != nil {
		return nil, err
	}
	by := map[string][]Container{}
	for _, c := range all {
		by[c.Bottle()] = append(by[c.Bottle()], c)
	}
	for _, cs := range by {
		slices.SortFunc(cs, func(a, b Container) int { return strings.Compare(a.Service(), b.Service()) })
	}
	return by, nil
}
