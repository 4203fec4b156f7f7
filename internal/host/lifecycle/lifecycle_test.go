package lifecycle

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/host/bottle"
	"github.com/bot-bottle/bot-bottle/internal/host/manifest"
	"github.com/bot-bottle/bot-bottle/internal/host/render"
	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

func TestWorkspaceSizeAndTar(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a"), bytes.Repeat([]byte("x"), 3000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "b"), []byte("b"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../a", filepath.Join(dir, "sub", "link")); err != nil {
		t.Fatal(err)
	}
	if n, err := workspaceSize(dir, 1<<20); err != nil || n != 3001 {
		t.Fatalf("size %d, %v; want 3001", n, err)
	}
	if _, err := workspaceSize(dir, 2048); err == nil || !strings.Contains(err.Error(), "capped at 2.0 KiB") {
		t.Fatalf("over the cap: %v", err)
	}
	var buf bytes.Buffer
	if _, err := writeWorkspaceTar(&buf, dir, "workspace", 1000, 1001); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("tar", "--numeric-owner", "-tvf", "-")
	cmd.Stdin = &buf
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("tar -t: %v\n%s", err, out)
	}
	listing := string(out)
	for _, want := range []string{"1000/1001", "workspace/", "workspace/a", "workspace/sub/b", "workspace/sub/link -> ../a"} {
		if !strings.Contains(listing, want) {
			t.Errorf("listing lacks %q:\n%s", want, listing)
		}
	}
	if strings.Contains(listing, " 0/0 ") {
		t.Errorf("an entry is owned by root:\n%s", listing)
	}
}

// home writes a bottle whose agent is the test image running argv.
func home(t *testing.T, argv string) (*manifest.Effective, string) {
	t.Helper()
	h := t.TempDir()
	for _, d := range []string{"bottles", "agents"} {
		if err := os.MkdirAll(filepath.Join(h, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	bottleMD := "---\nagent_provider:\n  template: custom\n  image: bot-bottle/agent-test:local\n  command: " + argv + "\nsupervise: true\nresources: {memory: 512m, cpus: 1, pids: 256}\n---\n"
	if err := os.WriteFile(filepath.Join(h, "bottles", "t.md"), []byte(bottleMD), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(h, "agents", "lc.md"), []byte("---\nbottle: t\n---\nDo the thing.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := manifest.Load(manifest.Options{Home: h, CWD: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	eff, err := m.Effective("lc")
	if err != nil {
		t.Fatal(err)
	}
	return eff, h
}

func gitRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, args := range [][]string{
		{"init", "--quiet", "-b", "main"},
		{"-c", "user.name=t", "-c", "user.email=t@example.test", "commit", "--quiet", "--allow-empty", "-m", "first"},
	} {
		if out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("from the host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestStartAttachDownOnTheEngine starts a bottle with a workspace, runs
// the agent's command attached, finds the work that would be lost, keeps
// the state through down --keep-state and resume, and leaves nothing
// after the last down.
func TestStartAttachDownOnTheEngine(t *testing.T) {
	testutil.DockerImages(t, render.DefaultImageTag, "egress", "netguard", "supervise", "agent-test")
	eff, h := home(t, `[sh, -c, "echo hello from $(id -un) in $(pwd); exit 3"]`)
	slug, err := bottle.NewSlug("lc")
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	m := &Manager{Home: h, Log: &log}
	m.Provision = Provisioner(nil, &log, nil)
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(contract.StateBottlesDir(h), slug)); err == nil {
			_ = m.Down(context.Background(), slug, false)
		}
	})
	ws := gitRepo(t)
	env, err := render.ResolveEnv(eff, func(string) (string, bool) { return "", false }, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Start(t.Context(), Launch{Slug: slug, Eff: eff, Env: env, Cwd: ws})
	if err != nil {
		t.Fatalf("start: %v\n%s", err, log.String())
	}
	if b.Workspace != "/home/agent/workspace" || b.User.UID != 1000 {
		t.Fatalf("workspace %s user %+v", b.Workspace, b.User)
	}
	if meta, err := bottle.Read(b.Dir); err != nil || meta.State != bottle.StateRunning {
		t.Fatalf("metadata %+v %v", meta, err)
	}

	// Provisioned: the prompt, the MCP registration, the CA trusted.
	if out, err := m.Exec(t.Context(), b, "1000:1000", nil, "sh", "-c", "stat -c '%a %u' "+b.PromptPath()+"; cat "+b.PromptPath()+"; cat ~/.bot-bottle/mcp.json"); err != nil ||
		!strings.Contains(string(out), "600 1000") || !strings.Contains(string(out), "Do the thing.") || !strings.Contains(string(out), "http://supervise:9100/mcp") {
		t.Errorf("provisioning: %q, %v\n%s", out, err, log.String())
	}

	// What came from the host (a commit, an untracked file) is not work
	// the bottle would lose.
	if why := m.KeepReasons(t.Context(), b); len(why) != 0 {
		t.Errorf("a fresh copy is kept for %q", why)
	}

	// The workspace: the files and .git, owned by the agent, writable.
	out, err := m.Exec(t.Context(), b, "1000:1000", nil, "sh", "-c", "cd /home/agent/workspace && stat -c '%u:%g %n' . notes.txt .git && cat notes.txt && touch made-by-agent && git log --oneline")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1000:1000 .", "1000:1000 notes.txt", "1000:1000 .git", "from the host", "first"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("workspace check lacks %q:\n%s", want, out)
		}
	}

	// Attach: the agent's command, in its workspace, as its user; its
	// exit status is returned.
	var stdout bytes.Buffer
	code, err := m.Attach(t.Context(), b, eff.Bottle.Provider.Command, Session{Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stdout})
	if err != nil || code != 3 || !strings.Contains(stdout.String(), "hello from agent in /home/agent/workspace") {
		t.Fatalf("attach: code %d, err %v, output %q", code, err, stdout.String())
	}

	// Work that would be lost keeps the bottle: a file the agent made,
	// then a commit of it no remote has.
	why := strings.Join(m.KeepReasons(t.Context(), b), "; ")
	if !strings.Contains(why, "not committed") || strings.Contains(why, "commits") {
		t.Errorf("keep reasons %q, want the changes not committed alone", why)
	}
	if _, err := m.Exec(t.Context(), b, "1000:1000", nil, "sh", "-c", `cd "$1" && git add made-by-agent && git -c user.name=a -c user.email=a@example.test commit --quiet -m "agent work"`, "commit", b.Workspace); err != nil {
		t.Fatal(err)
	}
	why = strings.Join(m.KeepReasons(t.Context(), b), "; ")
	if !strings.Contains(why, "commits no remote has") {
		t.Errorf("keep reasons %q, want the commit no remote has", why)
	}

	// down --keep-state: containers gone, secrets gone, the rest kept.
	if err := m.Down(t.Context(), slug, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(b.Dir.Path(contract.BottleSecretsDir)); !os.IsNotExist(err) {
		t.Errorf("secrets/ survived down: %v", err)
	}
	if running, _ := m.Running(t.Context(), b); running {
		t.Fatal("the agent still runs after down")
	}
	// resume: back as it was, the agent's file still in the workspace.
	b2, err := m.Resume(t.Context(), slug, Resumption{Eff: eff, Env: env})
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, log.String())
	}
	if out, err := m.Exec(t.Context(), b2, "1000:1000", nil, "ls", "/home/agent/workspace"); err != nil || !strings.Contains(string(out), "made-by-agent") {
		t.Fatalf("after resume the workspace is %q (%v)", out, err)
	}

	// down will not leave anything behind silently: a container someone
	// joined to the bottle's network keeps the network, and down says so.
	stray, err := exec.Command("docker", "run", "-d", "--network", b2.Compose.Project+"_egress", "--entrypoint", "sleep", "bot-bottle/agent-test:local", "60").Output()
	if err != nil {
		t.Fatal(err)
	}
	strayID := strings.TrimSpace(string(stray))
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", strayID).Run() })
	if err := m.Down(t.Context(), slug, false); err == nil || !strings.Contains(err.Error(), "network "+b2.Compose.Project+"_egress") {
		t.Fatalf("down with a stranger on the egress network: %v", err)
	}
	if err := exec.Command("docker", "rm", "-f", strayID).Run(); err != nil {
		t.Fatal(err)
	}

	// down: nothing of the bottle is left on the engine or the disk.
	if err := m.Down(t.Context(), slug, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(string(b.Dir)); !os.IsNotExist(err) {
		t.Errorf("the bottle directory survived down: %v", err)
	}
	for _, kind := range [][]string{{"ps", "-a", "-q"}, {"network", "ls", "-q"}, {"volume", "ls", "-q"}} {
		out, _ := exec.Command("docker", append(kind, "--filter", "label="+contract.LabelBottle+"="+slug)...).Output()
		if len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("docker %s still lists %s", kind[0], out)
		}
	}
}
