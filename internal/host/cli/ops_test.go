package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/host/bottle"
	"github.com/bot-bottle/bot-bottle/internal/host/docker"
	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// fixtureNow is the clock of the list and doctor fixtures.
var fixtureNow = time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)

// fakeEngine answers list's and doctor's questions from docker JSON in
// testdata/engine, shaped as docker 28.2 and compose 2.28 print it (the
// real engine's answers are parsed by the same docker.Parse* functions).
type fakeEngine struct {
	containers []docker.Container
	networks   []docker.Network
	volumes    []docker.Volume
	versions   docker.Versions
	versionErr error
	compose    string
	composeErr error
	runtimes   []string
	missing    []string // image refs the engine lacks
	noCLI      bool
	listErr    error
}

var _ engine = (*fakeEngine)(nil)

func loadFakeEngine(t *testing.T) *fakeEngine {
	t.Helper()
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join("testdata", "engine", name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	e := &fakeEngine{compose: "2.28.1", runtimes: []string{"io.containerd.runc.v2", "runc"}}
	var err error
	if e.containers, err = docker.ParseContainers(read("ps.json")); err != nil {
		t.Fatal(err)
	}
	if e.networks, err = docker.ParseNetworks(read("networks.json")); err != nil {
		t.Fatal(err)
	}
	if e.volumes, err = docker.ParseVolumes(read("volumes.json")); err != nil {
		t.Fatal(err)
	}
	if e.versions, err = docker.ParseVersion(read("version.json")); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *fakeEngine) BottleContainers(context.Context) (map[string][]docker.Container, error) {
	if e.listErr != nil {
		return nil, e.listErr
	}
	by := map[string][]docker.Container{}
	for slug, r := range docker.Group(e.containers, nil, nil) {
		by[slug] = r.Containers
	}
	return by, nil
}

func (e *fakeEngine) BottleResources(context.Context) (map[string]*docker.Resources, error) {
	if e.listErr != nil {
		return nil, e.listErr
	}
	return docker.Group(e.containers, e.networks, e.volumes), nil
}

func (e *fakeEngine) CLIPath() (string, error) {
	if e.noCLI {
		return "", errors.New(`exec: "docker": executable file not found in $PATH`)
	}
	return "/usr/bin/docker", nil
}

func (e *fakeEngine) Version(context.Context) (docker.Versions, error) {
	return e.versions, e.versionErr
}
func (e *fakeEngine) ComposeVersion(context.Context) (string, error) { return e.compose, e.composeErr }
func (e *fakeEngine) Runtimes(context.Context) ([]string, error)     { return e.runtimes, nil }
func (e *fakeEngine) ImagePresent(_ context.Context, ref string) (bool, error) {
	return !slices.Contains(e.missing, ref), nil
}

// engineDown makes e answer like an engine nobody runs.
func (e *fakeEngine) engineDown(t *testing.T) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "engine", "version-no-engine.json"))
	if err != nil {
		t.Fatal(err)
	}
	if e.versions, err = docker.ParseVersion(data); err != nil {
		t.Fatal(err)
	}
	down := errors.New("docker version --format json: exit status 1: Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?")
	e.versionErr, e.listErr = down, down
}

// fixtureBottle is one bottle directory of the fixture home.
type fixtureBottle struct {
	slug, agent string
	started     time.Duration // before fixtureNow
	state       bottle.State
}

// fixtureHome writes a home whose state directory holds the bottles the
// engine fixture knows, and one whose metadata.json cannot be read. The
// engine also has an orphan, ghost-g1g1g, with no directory here.
func fixtureHome(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	for _, b := range []fixtureBottle{
		{"dev-a1b2c", "dev", 3*time.Minute + 20*time.Second, bottle.StateRunning},
		{"dev-q7w8e", "dev", 2*time.Hour + 10*time.Minute, bottle.StateRunning},
		{"rev-bbbbb", "reviewer", 4*24*time.Hour + time.Hour, bottle.StateRunning},
		{"rev-aaaaa", "reviewer", 4*24*time.Hour + time.Hour, bottle.StateStopped},
		{"evil-e1e1e", "ev\x1b]0;pwned\x07il\u202e", 5 * time.Second, bottle.StateRunning},
	} {
		writeBottle(t, home, b)
	}
	d := mkBottleDir(t, home, "broken-b0b0b")
	if err := os.WriteFile(d.Path(contract.BottleMetadataFile), []byte(`{"version": 9}`), 0o600); err != nil {
		t.Fatal(err)
	}
	dev := testutil.BottleDir(t, home, "dev-a1b2c")
	yml := "name: bot-bottle-dev-a1b2c\nservices:\n  agent: {image: a}\n  agent-net: {image: n}\n  egress: {image: e}\n  netguard: {image: n}\n"
	if err := os.WriteFile(dev.Path(contract.BottleComposeFile), []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	return home
}

func mkBottleDir(t testing.TB, home, slug string) contract.BottleDir {
	t.Helper()
	d := testutil.BottleDir(t, home, slug)
	for _, dir := range []string{string(d), d.Path(contract.BottleSecretsDir), d.QueueDir()} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(contract.StateBottlesDir(home), 0o700); err != nil {
		t.Fatal(err)
	}
	return d
}

func writeBottle(t testing.TB, home string, b fixtureBottle) contract.BottleDir {
	t.Helper()
	d := mkBottleDir(t, home, b.slug)
	m := &bottle.Metadata{Version: bottle.MetadataVersion, Slug: b.slug, Agent: b.agent, Bottle: "base", Provider: "custom",
		Image: "bot-bottle/agent-test:local", ComposeProject: "bot-bottle-" + b.slug, StartedAt: fixtureNow.Add(-b.started),
		BotBottleVersion: "test", State: b.state}
	if err := bottle.Write(d, m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.SecretFile("ca_key"), []byte("not a key"), 0o400); err != nil {
		t.Fatal(err)
	}
	return d
}

// runOps runs the CLI like run, with deps for list, logs and doctor, in
// cwd, and returns what it printed with home shown as <home>.
func runOps(t *testing.T, ctx context.Context, cwd, home string, deps *opsDeps, args ...string) result {
	t.Helper()
	return runOpsEnv(t, ctx, cwd, home, deps, nil, args...)
}

// runOpsEnv is runOps with environment variables vars.
func runOpsEnv(t *testing.T, ctx context.Context, cwd, home string, deps *opsDeps, vars map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	env := Env{
		Getenv: func(k string) string {
			if k == "HOME" {
				return "/nonexistent-user-home"
			}
			return vars[k]
		},
		Getwd:  func() (string, error) { return cwd, nil },
		Stdin:  strings.NewReader(""),
		Stdout: &out, Stderr: &errb,
	}
	code := execute(ctx, newRootCmdWith(env, &proposalsDeps{}, deps), append([]string{"--home", home}, args...), env)
	return result{strings.ReplaceAll(out.String(), home, "<home>"), strings.ReplaceAll(errb.String(), home, "<home>"), code}
}

func fixtureDeps(e *fakeEngine) *opsDeps {
	return &opsDeps{engine: e, now: func() time.Time { return fixtureNow }, loc: time.FixedZone("UTC+2", 2*60*60), poll: 5 * time.Millisecond}
}

// checkNoControl fails when out holds a byte or character that could
// steer a terminal: every one must have been escaped.
func checkNoControl(t *testing.T, out string) {
	t.Helper()
	for i, r := range out {
		if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u202e' {
			t.Fatalf("output holds %U at byte %d:\n%s", r, i, out)
		}
	}
}
