package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoPreflight: without what the demo needs, bot-bottle demo says
// what is missing and how to get it, before starting anything. The engine
// cannot be taken away from this machine's tests, so a stand-in docker on
// PATH plays each broken setup.
func TestDemoPreflight(t *testing.T) {
	tests := []struct {
		name   string
		docker string // script body; "" means no docker on PATH
		want   string
	}{
		{"no docker CLI", "", "the docker CLI is not installed"},
		{"engine down", `[ "$1" = info ] && { echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock" >&2; exit 1; }; exit 0`,
			"the Docker Engine is not reachable (docker info: Cannot connect to the Docker daemon"},
		{"no compose v2", `[ "$1" = compose ] && { echo "docker: 'compose' is not a docker command." >&2; exit 1; }; exit 0`,
			"docker compose v2 is not available (docker: 'compose' is not a docker command.); run `make compose-plugin`"},
		{"images missing", `[ "$1" = image ] && [ "$3" != bot-bottle/egress:local ] && exit 1; exit 0`,
			"images missing: bot-bottle/gitgate:local, bot-bottle/supervise:local, bot-bottle/netguard:local, bot-bottle/agent-test:local, bot-bottle/demo-upstream:local; build them with `make images`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin := t.TempDir()
			if tt.docker != "" {
				script := "#!/bin/sh\n" + tt.docker + "\n"
				if err := os.WriteFile(filepath.Join(bin, "docker"), []byte(script), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			t.Setenv("PATH", bin)
			r := run(t, t.TempDir(), nil, "demo")
			if r.code != exitError || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d and %q", r.code, r.stderr, exitError, tt.want)
			}
		})
	}
}
