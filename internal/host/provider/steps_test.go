package provider

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

// TestCodexHomeScript runs the script that prepares $CODEX_HOME with the
// real sh: the directory becomes 0700, the state databases at its top
// are removed, everything else stays; a symlink in its place is replaced
// by a directory, its target untouched.
func TestCodexHomeScript(t *testing.T) {
	run := func(t *testing.T, home string) {
		t.Helper()
		if out, err := exec.Command("sh", "-c", codexHomeScript, "codex-home", home).CombinedOutput(); err != nil {
			t.Fatalf("script: %v\n%s", err, out)
		}
	}
	t.Run("stale state", func(t *testing.T) {
		home := filepath.Join(t.TempDir(), ".codex")
		files := []string{"state.sqlite", "state.sqlite-wal", "logs.sqlite-shm", "x.codex-repair-1.bak", "config.toml", "sessions/s.sqlite", "notes.sqlite.txt"}
		for _, f := range files {
			p := filepath.Join(home, f)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(home, 0o755); err != nil {
			t.Fatal(err)
		}
		run(t, home)
		var left []string
		for _, f := range files {
			if _, err := os.Stat(filepath.Join(home, f)); err == nil {
				left = append(left, f)
			}
		}
		if want := []string{"config.toml", "sessions/s.sqlite", "notes.sqlite.txt"}; !slices.Equal(left, want) {
			t.Errorf("left %v, want %v", left, want)
		}
		if fi, err := os.Stat(home); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("CODEX_HOME mode: %v %v", fi.Mode(), err)
		}
	})
	t.Run("new", func(t *testing.T) {
		home := filepath.Join(t.TempDir(), ".codex")
		run(t, home)
		if fi, err := os.Stat(home); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Fatalf("CODEX_HOME: %v %v", fi, err)
		}
	})
	t.Run("symlink", func(t *testing.T) {
		dir := t.TempDir()
		elsewhere := filepath.Join(dir, "elsewhere")
		if err := os.Mkdir(elsewhere, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(elsewhere, "a.sqlite"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		home := filepath.Join(dir, ".codex")
		if err := os.Symlink(elsewhere, home); err != nil {
			t.Fatal(err)
		}
		run(t, home)
		if fi, err := os.Lstat(home); err != nil || !fi.IsDir() {
			t.Fatalf("CODEX_HOME is still %v (%v)", fi.Mode(), err)
		}
		if _, err := os.Stat(filepath.Join(elsewhere, "a.sqlite")); err != nil {
			t.Errorf("the symlink's target was touched: %v", err)
		}
	})
}

func TestBuildCommand(t *testing.T) {
	for image, want := range map[string]string{
		"bot-bottle/agent-claude:local": "docker build -t bot-bottle/agent-claude:local images/agent-claude",
		"bot-bottle/agent-codex:local":  "docker build -t bot-bottle/agent-codex:local images/agent-codex",
		"bot-bottle/agent-test:local":   "",
	} {
		got, ok := BuildCommand(image)
		if got != want || ok != (want != "") {
			t.Errorf("BuildCommand(%s) = %q, %v; want %q", image, got, ok, want)
		}
	}
}
