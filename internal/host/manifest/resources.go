package manifest

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
	"github.com/docker/go-units"
	"go.yaml.in/yaml/v3"
)

// Resources is a bottle's resources block: the agent container's limits.
// A zero field takes its default. The sidecars are not limited by it.
type Resources struct {
	// Memory is the agent's memory limit in bytes; it gets no swap beyond
	// it. Zero: DefaultMemory.
	Memory int64
	// CPUs is how many CPUs' worth of time the agent may use. Zero:
	// DefaultCPUs, or the machine's count when it has fewer.
	CPUs float64
	// Pids bounds the agent's processes and threads together. Zero:
	// DefaultPids.
	Pids int64
}

// Defaults and bounds of Resources.
const (
	// DefaultMemory is 4 GiB: room for an agent CLI, a language server and
	// a build, while a runaway cannot take the machine.
	DefaultMemory = 4 << 30
	// DefaultCPUs is two CPUs' worth of time (fewer on a smaller machine).
	DefaultCPUs = 2.0
	// DefaultPids is 1024 processes and threads: far above what an agent
	// and its builds use (a Go or npm build runs a few hundred), far below
	// what a fork bomb wants.
	DefaultPids = 1024
	// MinMemory is Docker's smallest memory limit, 6 MiB.
	MinMemory = 6 << 20
	// MinCPUs is Docker's smallest CPU limit.
	MinCPUs = 0.01
	// MaxCPUs bounds cpus at a number no machine here reaches; the render
	// also holds it to the machine's own count, as Docker does.
	MaxCPUs = 1024
	// MinPids is the fewest processes and threads a usable agent needs
	// (its runtime's threads, a shell, the command it runs, docker exec).
	MinPids = 64
	// MaxPids is Linux's own limit on process ids.
	MaxPids = 4 << 20
)

// WithDefaults returns r with each zero field set to its default; hostCPUs
// (when positive) caps the default CPUs.
func (r Resources) WithDefaults(hostCPUs int) Resources {
	if r.Memory == 0 {
		r.Memory = DefaultMemory
	}
	if r.CPUs == 0 {
		r.CPUs = DefaultCPUs
		if hostCPUs > 0 && float64(hostCPUs) < r.CPUs {
			r.CPUs = float64(hostCPUs)
		}
	}
	if r.Pids == 0 {
		r.Pids = DefaultPids
	}
	return r
}

// FormatMemory writes a byte count the way a manifest would: "4g",
// "512m", "64k", or bytes.
func FormatMemory(n int64) string {
	for _, u := range []struct {
		shift  uint
		suffix string
	}{{30, "g"}, {20, "m"}, {10, "k"}} {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10)
}

// FormatCPUs writes a CPU count without trailing zeros.
func FormatCPUs(c float64) string { return strconv.FormatFloat(c, 'f', -1, 64) }

func (r *reader) resources(n *yaml.Node, field string) Resources {
	var res Resources
	entries, _ := r.mapping(n, field)
	for _, e := range r.knownKeys(entries, "resources", resourcesKeys, nil) {
		switch e.key {
		case "memory":
			res.Memory = r.memory(e.value, e.field)
		case "cpus":
			res.CPUs = r.cpus(e.value, e.field)
		case "pids":
			res.Pids = r.pids(e.value, e.field)
		}
	}
	return res
}

// memory reads a size in Docker's syntax ("4g", "512m", "1.5g", bytes),
// binary units; 0 after a problem.
func (r *reader) memory(n *yaml.Node, field string) int64 {
	const hint = `write a size such as "4g" or "512m" (binary units, as docker run --memory takes)`
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!int") {
		r.add(n, field, "must be a size, not "+contract.DescribeYAML(n), hint)
		return 0
	}
	v, err := units.RAMInBytes(strings.TrimSpace(n.Value))
	if err != nil {
		r.add(n, field, fmt.Sprintf("%q is not a size", n.Value), hint)
		return 0
	}
	if v < MinMemory {
		r.add(n, field, fmt.Sprintf("%q is below Docker's minimum of %s", n.Value, FormatMemory(MinMemory)), hint)
		return 0
	}
	return v
}

// cpus reads a positive number of CPUs; 0 after a problem.
func (r *reader) cpus(n *yaml.Node, field string) float64 {
	const hint = "write a number of CPUs such as 2 or 0.5"
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
		r.add(n, field, "must be a number, not "+contract.DescribeYAML(n), hint)
		return 0
	}
	v, err := strconv.ParseFloat(n.Value, 64)
	if err != nil || math.IsNaN(v) || v < MinCPUs || v > MaxCPUs {
		r.add(n, field, fmt.Sprintf("%s is not between %s and %d", n.Value, FormatCPUs(MinCPUs), MaxCPUs), hint)
		return 0
	}
	return v
}

// pids reads a whole number of processes; 0 after a problem.
func (r *reader) pids(n *yaml.Node, field string) int64 {
	hint := fmt.Sprintf("write a whole number of processes and threads, at least %d, such as %d", MinPids, DefaultPids)
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
		r.add(n, field, "must be a whole number, not "+contract.DescribeYAML(n), hint)
		return 0
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil || v < MinPids || v > MaxPids {
		r.add(n, field, fmt.Sprintf("%s is not between %d and %d", n.Value, MinPids, MaxPids), hint)
		return 0
	}
	return v
}
