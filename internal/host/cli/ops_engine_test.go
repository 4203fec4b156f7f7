package cli

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/host/bottle"
	"github.com/bot-bottle/bot-bottle/internal/host/docker"
	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// TestOpsOnTheEngine runs list, logs and doctor against a real engine: a
// tiny compose project labelled as a bottle, with a state directory and
// metadata. list --json shows it running with its services and logs
// shows its output; once its containers are stopped doctor reports them
// (fix: compose down), once its state directory is gone too doctor
// reports an orphan with a fix that, run as printed, leaves nothing.
func TestOpsOnTheEngine(t *testing.T) {
	img := testutil.DockerImages(t, "local", "agent-test")[0]
	home := t.TempDir()
	slug := "bbops-" + strings.ToLower(strings.ReplaceAll(time.Now().Format("150405.000"), ".", ""))
	project := "bot-bottle-" + slug
	dir := testutil.BottleDir(t, home, slug)
	if err := os.MkdirAll(string(dir), 0o700); err != nil {
		t.Fatal(err)
	}
	labels := `{` + contract.LabelBottle + `: ` + slug + `, ` + contract.LabelAgent + `: bbops}`
	yml := `name: ` + project + `
services:
  agent:
    image: ` + img + `
    labels: ` + labels + `
    command: ["sh", "-c", "echo bbops-hello-from-the-agent; exec sleep 600"]
    volumes: [workspace:/workspace]
    networks: [internal]
  egress:
    image: ` + img + `
    labels: ` + labels + `
    command: ["sleep", "600"]
    healthcheck: {test: ["CMD", "true"], interval: 1s}
    networks: [internal]
networks:
  internal: {internal: true, labels: ` + labels + `}
volumes:
  workspace: {labels: ` + labels + `}
`
	if err := os.WriteFile(dir.Path(contract.BottleComposeFile), []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	started := time.Now().UTC().Truncate(time.Second)
	if err := bottle.Write(dir, &bottle.Metadata{Version: bottle.MetadataVersion, Slug: slug, Agent: "bbops", Bottle: "base", Provider: "custom",
		Image: img, ComposeProject: project, StartedAt: started, BotBottleVersion: "test", State: bottle.StateRunning}); err != nil {
		t.Fatal(err)
	}
	var r docker.Runner
	t.Cleanup(func() {
		// By project name alone, as the state directory may be gone;
		// t.Context() is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = r.Run(ctx, nil, nil, "compose", "-p", project, "down", "--volumes", "--remove-orphans", "--timeout", "1")
	})
	c := &docker.Compose{Dir: dir, Project: project}
	if err := c.Up(t.Context(), nil); err != nil {
		t.Fatal(err)
	}

	res := run(t, "/", nil, "--home", home, "list", "--json")
	var list []listedBottle
	if err := json.Unmarshal([]byte(res.stdout), &list); res.code != 0 || err != nil {
		t.Fatalf("list --json: exit %d, %v\n%s%s", res.code, err, res.stdout, res.stderr)
	}
	if len(list) != 1 || list[0].Slug != slug || list[0].Status != statusRunning || list[0].Agent != "bbops" ||
		list[0].StartedAt != started.Format(time.RFC3339) || list[0].Services["agent"] != "running" || list[0].Services["egress"] != "healthy" {
		t.Fatalf("list --json:\n%s", res.stdout)
	}
	if res := run(t, "/", nil, "--home", home, "list"); res.code != 0 || !strings.HasPrefix(listRow(res.stdout, slug), slug+" bbops running ") ||
		!strings.HasSuffix(listRow(res.stdout, slug), " agent running, egress healthy") {
		t.Fatalf("list: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}

	for deadline := time.Now().Add(30 * time.Second); ; {
		res := run(t, "/", nil, "--home", home, "logs", slug, "agent", "--tail", "5")
		if res.code != 0 {
			t.Fatalf("logs: exit %d\n%s%s", res.code, res.stdout, res.stderr)
		}
		if strings.Contains(res.stdout, "bbops-hello-from-the-agent") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs never showed the agent's output:\n%s", res.stdout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if res := run(t, "/", nil, "--home", home, "logs", slug, "nosuch"); res.code != 1 || !strings.Contains(res.stderr, "its services: agent, egress") {
		t.Fatalf("logs of an unknown service: exit %d\n%s", res.code, res.stderr)
	}

	// Stopped: the containers stay, the agent does not run.
	if err := c.Run(t.Context(), nil, nil, "stop", "--timeout", "1"); err != nil {
		t.Fatal(err)
	}
	res = run(t, "/", nil, "--home", home, "doctor", "--check", "leftovers")
	if res.code != 1 || !strings.Contains(res.stdout, "FAIL leftovers: bottle "+slug+" is stopped") ||
		!strings.Contains(res.stdout, "fix: docker compose -p "+project+" down\n") {
		t.Fatalf("doctor on a stopped bottle: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if res := run(t, "/", nil, "--home", home, "list", "--all"); !strings.HasPrefix(listRow(res.stdout, slug), slug+" bbops stopped running ") {
		t.Fatalf("list --all of the stopped bottle:\n%s%s", res.stdout, res.stderr)
	}

	// Orphaned: the state directory is gone too.
	if err := os.RemoveAll(string(dir)); err != nil {
		t.Fatal(err)
	}
	res = run(t, "/", nil, "--home", home, "doctor", "--check", "leftovers")
	var fix string
	for _, line := range strings.Split(res.stdout, "\n") {
		if strings.HasPrefix(line, "FAIL leftovers: bottle "+slug+" has no state dir") {
			_, fix, _ = strings.Cut(line, "; fix: ")
		}
	}
	if res.code != 1 || fix != "docker compose -p "+project+" down --volumes" ||
		!strings.Contains(res.stdout, "2 containers") || !strings.Contains(res.stdout, project+"_internal") || !strings.Contains(res.stdout, project+"_workspace") {
		t.Fatalf("doctor on an orphan: exit %d, fix %q\n%s%s", res.code, fix, res.stdout, res.stderr)
	}
	if res := run(t, "/", nil, "--home", home, "list", "--all"); !strings.Contains(res.stdout, "orphaned (no state dir; remove with: "+fix+")") {
		t.Fatalf("list --all of the orphan:\n%s%s", res.stdout, res.stderr)
	}
	cmd := exec.Command("sh", "-c", fix)
	cmd.Dir = t.TempDir() // no compose file here: the fix works by project name
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", fix, err, out)
	}
	res = run(t, "/", nil, "--home", home, "doctor", "--check", "leftovers")
	if strings.Contains(res.stdout, slug) {
		t.Fatalf("after the fix doctor still reports %s:\n%s", slug, res.stdout)
	}
	// Other packages' tests may have their own labelled projects on the
	// engine at this moment; only those may fail the check now.
	if res.code != 0 {
		for _, line := range strings.Split(res.stdout, "\n") {
			if strings.HasPrefix(line, "FAIL") && !strings.Contains(line, "bottle ") {
				t.Fatalf("after the fix: %s\n%s", line, res.stdout)
			}
		}
	}
}

// listRow is the line of list's output for slug, its columns separated by
// one space (other tests' bottles on the engine may widen the columns).
func listRow(out, slug string) string {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == slug {
			return strings.Join(f, " ")
		}
	}
	return ""
}
