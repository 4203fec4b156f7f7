package docker

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestGroupRecordedListings reads what docker 28.2 printed for a bottle
// with a healthy agent, a service that exited with 3, a network and a
// volume (testdata, recorded), and groups them into that bottle.
func TestGroupRecordedListings(t *testing.T) {
	cs, err := ParseContainers(readFixture(t, "engine-ps.json"))
	if err != nil {
		t.Fatal(err)
	}
	ns, err := ParseNetworks(readFixture(t, "engine-networks.json"))
	if err != nil {
		t.Fatal(err)
	}
	vs, err := ParseVolumes(readFixture(t, "engine-volumes.json"))
	if err != nil {
		t.Fatal(err)
	}
	by := Group(cs, ns, vs)
	if len(by) != 1 || by["bbops-exp-aaaaa"] == nil {
		t.Fatalf("bottles %v", by)
	}
	r := by["bbops-exp-aaaaa"]
	var conds []string
	for _, c := range r.Containers {
		conds = append(conds, c.Service()+"="+c.Condition())
	}
	if want := []string{"agent=healthy", "side=exited (3)"}; !slices.Equal(conds, want) {
		t.Errorf("containers %v, want %v (sorted by service)", conds, want)
	}
	if len(r.Networks) != 1 || r.Networks[0].Name != "bot-bottle-bbops-exp-aaaaa_internal" {
		t.Errorf("networks %+v", r.Networks)
	}
	if len(r.Volumes) != 1 || r.Volumes[0].Name != "bot-bottle-bbops-exp-aaaaa_ws" {
		t.Errorf("volumes %+v", r.Volumes)
	}
	if p := r.Project(); p != "bot-bottle-bbops-exp-aaaaa" {
		t.Errorf("project %q", p)
	}
	if p := (&Resources{Volumes: vs}).Project(); p != "bot-bottle-bbops-exp-aaaaa" {
		t.Errorf("a volume alone: project %q", p)
	}
	if _, err := ParseNetworks([]byte(`{"Name":`)); err == nil {
		t.Error("a cut-off line was read")
	}
}

func TestContainerCondition(t *testing.T) {
	for _, tc := range []struct {
		state, status, want string
	}{
		{"running", "Up 2 minutes (healthy)", "healthy"},
		{"running", "Up 2 minutes (health: starting)", "starting"},
		{"running", "Up 2 minutes", "running"},
		{"exited", "Exited (137) 5 seconds ago", "exited (137)"},
		{"exited", "Exited (0) 5 seconds ago", "exited"},
		{"restarting", "Restarting (1) 2 seconds ago", "restarting"},
		{"created", "Created", "created"},
	} {
		if got := (Container{State: tc.state, Status: tc.status}).Condition(); got != tc.want {
			t.Errorf("%s %q: %q, want %q", tc.state, tc.status, got, tc.want)
		}
	}
}

func TestParseVersion(t *testing.T) {
	v, err := ParseVersion(readFixture(t, "version.json"))
	if err != nil {
		t.Fatal(err)
	}
	if v.Client.Version != "28.2.2" || v.Server == nil || v.Server.Version != "20.10.24+dfsg1" ||
		v.Server.APIVersion != "1.41" || v.Server.MinAPIVersion != "1.12" {
		t.Errorf("versions %+v server %+v", v, v.Server)
	}
	v, err = ParseVersion(readFixture(t, "version-no-engine.json"))
	if err != nil || v.Server != nil || v.Client.Version != "28.2.2" {
		t.Errorf("no engine: %+v, %v", v, err)
	}
}

func TestComposeMajor(t *testing.T) {
	for in, want := range map[string]int{"2.28.1": 2, "v2.40.0": 2, "1.29.2": 1, "10.0": 10} {
		if got, err := ComposeMajor(in); err != nil || got != want {
			t.Errorf("ComposeMajor(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := ComposeMajor("dev"); err == nil {
		t.Error(`ComposeMajor("dev") gave no error`)
	}
}

// TestComposeServices reads the service names from the compose file even
// when an env file it names is gone (compose itself would refuse).
func TestComposeServices(t *testing.T) {
	dir := contract.BottleDir(t.TempDir())
	c := &Compose{Dir: dir, Project: "bbops-x"}
	if _, err := c.Services(); err == nil {
		t.Fatal("no compose file, no error")
	}
	yml := "name: x\nservices:\n  egress: {image: a}\n  agent:\n    image: b\n    env_file: [agent.env]\n  agent-net: {image: c}\n"
	if err := os.WriteFile(dir.Path(contract.BottleComposeFile), []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := c.Services()
	if want := []string{"agent", "agent-net", "egress"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("services %v, %v; want %v", got, err, want)
	}
}

// TestEngineQueriesOnTheEngine asks the real engine what doctor asks, and
// finds a labelled project's containers, network and volume, then none
// once it is down.
func TestEngineQueriesOnTheEngine(t *testing.T) {
	img := testutil.DockerImages(t, "local", "agent-test")[0]
	var r Runner
	if _, err := r.CLIPath(); err != nil {
		t.Fatal(err)
	}
	if _, err := (Runner{Bin: "bbops-no-such-docker"}).CLIPath(); err == nil {
		t.Error("a missing CLI was found")
	}
	v, err := r.Version(t.Context())
	if err != nil || v.Server == nil || v.Server.APIVersion == "" || v.Client.Version == "" {
		t.Fatalf("version %+v, %v", v, err)
	}
	bad := Runner{Env: append(os.Environ(), "DOCKER_HOST=unix:///nonexistent/bbops.sock")}
	if v, err := bad.Version(t.Context()); err == nil || v.Server != nil || !strings.Contains(err.Error(), "bbops.sock") {
		t.Errorf("unreachable engine: %+v, %v", v, err)
	}
	cv, err := r.ComposeVersion(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if major, err := ComposeMajor(cv); err != nil || major < 2 {
		t.Errorf("compose %q: %d, %v", cv, major, err)
	}
	runtimes, err := r.Runtimes(t.Context())
	if err != nil || !slices.Contains(runtimes, "runc") {
		t.Errorf("runtimes %v, %v", runtimes, err)
	}
	if ok, err := r.ImagePresent(t.Context(), img); !ok || err != nil {
		t.Errorf("%s present: %v, %v", img, ok, err)
	}
	if ok, err := r.ImagePresent(t.Context(), "bot-bottle/bbops-no-such-image:none"); ok || err != nil {
		t.Errorf("a missing image present: %v, %v", ok, err)
	}

	slug := "bbops-res-" + strings.ToLower(strings.ReplaceAll(time.Now().Format("150405.000"), ".", ""))
	dir := contract.BottleDir(t.TempDir())
	label := `{` + contract.LabelBottle + `: ` + slug + `}`
	compose := `name: bot-bottle-` + slug + `
services:
  a:
    image: ` + img + `
    labels: ` + label + `
    command: ["sleep", "600"]
    volumes: [ws:/ws]
    networks: [inner]
networks:
  inner: {internal: true, labels: ` + label + `}
volumes:
  ws: {labels: ` + label + `}
`
	if err := os.WriteFile(dir.Path(contract.BottleComposeFile), []byte(compose), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &Compose{Dir: dir, Project: "bot-bottle-" + slug}
	t.Cleanup(func() {
		// t.Context() is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = c.Down(ctx, nil, true)
	})
	if err := c.Up(t.Context(), nil); err != nil {
		t.Fatal(err)
	}
	all, err := r.BottleResources(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	mine := all[slug]
	if mine == nil || len(mine.Containers) != 1 || mine.Containers[0].Service() != "a" ||
		len(mine.Networks) != 1 || mine.Networks[0].Name != c.Project+"_inner" ||
		len(mine.Volumes) != 1 || mine.Volumes[0].Name != c.Project+"_ws" || mine.Project() != c.Project {
		t.Fatalf("the engine's resources of %s: %+v", slug, mine)
	}
	if err := c.Down(t.Context(), nil, true); err != nil {
		t.Fatal(err)
	}
	if all, err := r.BottleResources(t.Context()); err != nil || all[slug] != nil {
		t.Fatalf("after down: %+v, %v", all[slug], err)
	}
}

// TestVersionWithoutAnEngine: a docker CLI that prints no server version
// and exits 0 (as a client with an unreachable context may) is an error,
// not an engine of version "".
func TestVersionWithoutAnEngine(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "docker")
	script := "#!/bin/sh\ncat <<'EOF'\n" + string(readFixture(t, "version-no-engine.json")) + "\nEOF\n"
	if err := os.WriteFile(bin, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	v, err := Runner{Bin: bin}.Version(t.Context())
	if err == nil || v.Server != nil || v.Client.Version != "28.2.2" {
		t.Fatalf("version %+v, %v", v, err)
	}
}
