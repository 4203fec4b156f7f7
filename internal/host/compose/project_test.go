package compose

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

var update = flag.Bool("update", false, "rewrite testdata/*.yaml from the current output")

// goldenSpecs are the Specs with a golden file each, testdata/<name>.yaml.
func goldenSpecs() map[string]Spec {
	gate := egressOnly()
	gate.Slug = "gated"
	gate.GitGate = true
	gate.GitGateSecrets = []string{"ssh_demo"}

	sup := egressOnly()
	sup.Slug = "supervised"
	sup.Supervise = true

	return map[string]Spec{
		"egress-only":      egressOnly(),
		"egress-gitgate":   gate,
		"egress-supervise": sup,
		"everything":       everything(),
	}
}

func generate(t *testing.T, s Spec) []byte {
	t.Helper()
	p, err := Project(s)
	if err != nil {
		t.Fatalf("Project: %v", err)
	}
	out, err := Marshal(p)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	return out
}

func TestGolden(t *testing.T) {
	for name, s := range goldenSpecs() {
		t.Run(name, func(t *testing.T) {
			got := generate(t, s)
			path := filepath.Join("testdata", name+".yaml")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden file (run go test -update to create it): %v", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
			}
		})
	}
}

func TestMarshalIsDeterministic(t *testing.T) {
	s := everything()
	first := generate(t, s)
	for range 20 {
		if got := generate(t, s); !bytes.Equal(got, first) {
			t.Fatalf("output changed between runs:\n%s", cmp.Diff(string(first), string(got)))
		}
	}
}

func TestMarshalHeader(t *testing.T) {
	out := generate(t, egressOnly())
	line, _, _ := strings.Cut(string(out), "\n")
	if !strings.HasPrefix(line, "# ") || !strings.Contains(line, "bot-bottle") || !strings.Contains(line, "docker compose up") {
		t.Errorf("first line = %q, want a comment naming bot-bottle and how to start the project", line)
	}
}

func TestMarshalEscapesDollars(t *testing.T) {
	out := string(generate(t, everything()))
	if !strings.Contains(out, "PRICE: costs $$5 or $${CENTS}") {
		t.Errorf("the literal $ in AgentEnv is not escaped for compose:\n%s", out)
	}
}

func TestMarshalOmitsNoise(t *testing.T) {
	out := string(generate(t, everything()))
	for _, noise := range []string{": null", ": []", ": {}", `: ""`, "content:"} {
		if strings.Contains(out, noise) {
			t.Errorf("output contains %q:\n%s", noise, out)
		}
	}
	// Only agent-net has a command ("netguard hold"), only the agent an
	// entrypoint (its idle process).
	if n := strings.Count(out, "command:"); n != 1 {
		t.Errorf("output has %d commands, want agent-net's alone:\n%s", n, out)
	}
	if n := strings.Count(out, "entrypoint:"); n != 1 {
		t.Errorf("output has %d entrypoints, want the agent's alone:\n%s", n, out)
	}
}

// TestPathsAreRelative: the project directory must stay movable, so every
// host path in it is relative.
func TestPathsAreRelative(t *testing.T) {
	for name, s := range goldenSpecs() {
		p, err := Project(s)
		if err != nil {
			t.Fatal(err)
		}
		for _, svc := range p.Services {
			for _, v := range svc.Volumes {
				if v.Type == types.VolumeTypeBind && !strings.HasPrefix(v.Source, "./") {
					t.Errorf("%s: %s mounts %q, not a path relative to the project directory", name, svc.Name, v.Source)
				}
			}
			for _, f := range svc.EnvFiles {
				if !strings.HasPrefix(f.Path, "./") {
					t.Errorf("%s: %s env_file %q is not relative", name, svc.Name, f.Path)
				}
			}
		}
		for n, sec := range p.Secrets {
			if sec.File != "./secrets/"+n {
				t.Errorf("%s: secret %s file = %q, want ./secrets/%s", name, n, sec.File, n)
			}
		}
	}
}

func TestProjectShape(t *testing.T) {
	p, err := Project(everything())
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "bot-bottle-demo" {
		t.Errorf("name = %q", p.Name)
	}
	if got := p.ServiceNames(); !cmp.Equal(got, []string{"agent", "agent-net", "egress", "git-gate", "netguard", "supervise"}) {
		t.Errorf("services = %v", got)
	}
	agent := p.Services[AgentService]
	wantEnv := map[string]string{
		"HTTPS_PROXY": "http://egress:8888", "https_proxy": "http://egress:8888",
		"HTTP_PROXY": "http://egress:8888", "http_proxy": "http://egress:8888",
		"NO_PROXY": "git-gate,supervise,localhost,127.0.0.1", "no_proxy": "git-gate,supervise,localhost,127.0.0.1",
		"BOT_BOTTLE_CA_CERT":  contract.AgentCACertPath,
		"NODE_EXTRA_CA_CERTS": contract.AgentCACertPath,
		"SSL_CERT_FILE":       "/etc/ssl/certs/ca-certificates.crt",
		"REQUESTS_CA_BUNDLE":  "/etc/ssl/certs/ca-certificates.crt",
		"CURL_CA_BUNDLE":      "/etc/ssl/certs/ca-certificates.crt",
		"GIT_SSL_CAINFO":      "/etc/ssl/certs/ca-certificates.crt",
		"LANG":                "C.UTF-8", "TICKET": "BB-7", "PRICE": "costs $5 or ${CENTS}",
	}
	if diff := cmp.Diff(wantEnv, envMap(agent.Environment)); diff != "" {
		t.Errorf("agent environment (-want +got):\n%s", diff)
	}

	solo, err := Project(egressOnly())
	if err != nil {
		t.Fatal(err)
	}
	if got := envMap(solo.Services[AgentService].Environment)["NO_PROXY"]; got != "localhost,127.0.0.1" {
		t.Errorf("egress-only NO_PROXY = %q, want only the loopback names", got)
	}
	if got := solo.ServiceNames(); !cmp.Equal(got, []string{"agent", "agent-net", "egress", "netguard"}) {
		t.Errorf("egress-only services = %v", got)
	}
}

func envMap(m types.MappingWithEquals) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if v == nil {
			out[k] = "<unset>"
			continue
		}
		out[k] = *v
	}
	return out
}
