package docker

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// TestParsePS reads what compose v2.28 printed for a healthy service and
// one that exited with 3 (testdata, recorded), and the array older
// versions print.
func TestParsePS(t *testing.T) {
	lines, err := os.ReadFile("testdata/ps-lines.json")
	if err != nil {
		t.Fatal(err)
	}
	array := "[" + strings.Join(strings.Split(strings.TrimSpace(string(lines)), "\n"), ",") + "]"
	for name, data := range map[string][]byte{"lines": lines, "array": []byte(array)} {
		t.Run(name, func(t *testing.T) {
			svcs, err := parsePS(data)
			if err != nil {
				t.Fatal(err)
			}
			if len(svcs) != 2 || svcs[0].Service != "a" || svcs[1].Service != "b" {
				t.Fatalf("services %+v", svcs)
			}
			if got := svcs[0].Condition(); got != "healthy" {
				t.Errorf("a: %s, want healthy", got)
			}
			if got := svcs[1].Condition(); got != "exited (3)" {
				t.Errorf("b: %s, want exited (3)", got)
			}
		})
	}
	if _, err := parsePS([]byte(`{"Service":`)); err == nil {
		t.Error("a cut-off line was read")
	}
}

func TestContainerLabelsAndHealth(t *testing.T) {
	c := Container{Labels: "a=1,desc=x,y,z=w=v,com.docker.compose.service=egress," + contract.LabelBottle + "=dev-abcde", Status: "Up 2 minutes (health: starting)"}
	for key, want := range map[string]string{"a": "1", "desc": "x,y", "z": "w=v", "missing": ""} {
		if got := c.Label(key); got != want {
			t.Errorf("Label(%s) = %q, want %q", key, got, want)
		}
	}
	if c.Service() != "egress" || c.Bottle() != "dev-abcde" {
		t.Errorf("service %q bottle %q", c.Service(), c.Bottle())
	}
	for status, want := range map[string]string{
		"Up 2 minutes (health: starting)": "starting", "Up 1 second (healthy)": "healthy",
		"Up 5 seconds (unhealthy)": "unhealthy", "Exited (0) 2 hours ago": "", "Up 3 hours": "",
	} {
		if got := (Container{Status: status}).Health(); got != want {
			t.Errorf("Health(%q) = %q, want %q", status, got, want)
		}
	}
}

func TestErrorCarriesTheTailOfStderr(t *testing.T) {
	r := Runner{Bin: "sh"}
	_, err := r.Output(t.Context(), "-c", "echo "+strings.Repeat("x", 10000)+" >&2; echo the cause >&2; exit 7")
	e, ok := err.(*Error)
	if !ok || e.ExitCode() != 7 || !strings.HasSuffix(strings.TrimSpace(e.Stderr), "the cause") || len(e.Stderr) > maxErrOutput {
		t.Fatalf("err = %#v", err)
	}
}

// TestComposeOnTheEngine drives a two-service project on the real engine:
// up waits for health, ps reports it, a signal reaches the process, the
// engine-wide listing groups containers by bottle, and down leaves
// nothing.
func TestComposeOnTheEngine(t *testing.T) {
	img := testutilImages(t, "agent-test")[0]
	slug := "dockertest-" + strings.ToLower(strings.ReplaceAll(time.Now().Format("150405.000"), ".", ""))
	dir := contract.BottleDir(t.TempDir())
	compose := `name: ` + "bot-bottle-" + slug + `
services:
  a:
    image: ` + img + `
    labels: {` + contract.LabelBottle + `: ` + slug + `}
    command: ["sh", "-c", "trap 'echo got HUP > /tmp/hup' HUP; while :; do sleep 0.2; done"]
    healthcheck: {test: ["CMD", "true"], interval: 1s}
  b:
    image: ` + img + `
    labels: {` + contract.LabelBottle + `: ` + slug + `}
    command: ["sh", "-c", "exit 3"]
    restart: "no"
`
	if err := os.WriteFile(dir.Path(contract.BottleComposeFile), []byte(compose), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &Compose{Dir: dir, Project: "bot-bottle-" + slug}
	t.Cleanup(func() { _ = c.Down(context.Background(), nil, true) })
	if err := c.Up(t.Context(), nil, "a"); err != nil {
		t.Fatal(err)
	}
	if err := c.Run(t.Context(), nil, nil, "up", "--detach", "b"); err != nil {
		t.Fatal(err)
	}
	var svcs []Service
	for deadline := time.Now().Add(30 * time.Second); ; {
		var err error
		if svcs, err = c.PS(t.Context()); err != nil {
			t.Fatal(err)
		}
		if len(svcs) == 2 && svcs[1].State == "exited" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("b did not exit: %+v", svcs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if svcs[0].Condition() != "healthy" || svcs[1].Condition() != "exited (3)" {
		t.Fatalf("conditions %s, %s", svcs[0].Condition(), svcs[1].Condition())
	}
	if err := c.Signal(t.Context(), "a", "HUP"); err != nil {
		t.Fatal(err)
	}
	id, err := c.ContainerID(t.Context(), "a")
	if err != nil || id == "" {
		t.Fatalf("container id %q, %v", id, err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		out, _ := c.Runner.Output(t.Context(), "exec", id, "cat", "/tmp/hup")
		if strings.Contains(string(out), "got HUP") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the signal did not reach service a")
		}
		time.Sleep(100 * time.Millisecond)
	}
	all, err := c.Runner.BottleContainers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	mine := all[slug]
	if len(mine) != 2 || mine[0].Service() != "a" || mine[0].Health() != "healthy" || mine[1].State != "exited" {
		t.Fatalf("the engine's listing of %s: %+v", slug, mine)
	}
	if err := c.Down(t.Context(), nil, true); err != nil {
		t.Fatal(err)
	}
	if all, _ := c.Runner.BottleContainers(t.Context()); len(all[slug]) != 0 {
		t.Fatalf("down left %+v", all[slug])
	}
	if _, err := os.Stat(filepath.Join(string(dir), contract.BottleComposeFile)); err != nil {
		t.Fatal("down removed the compose file")
	}
}

func testutilImages(t *testing.T, names ...string) []string {
	return testutil.DockerImages(t, "local", names...)
}
