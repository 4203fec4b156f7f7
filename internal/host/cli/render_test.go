package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRenderCommand(t *testing.T) {
	home := abs(t, "../../../examples")
	key := filepath.Join(t.TempDir(), "bot-bottle-demo")
	if err := os.WriteFile(key, []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nnotakey\n-----END OPENSSH PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	userHome := filepath.Dir(filepath.Dir(key))
	if err := os.MkdirAll(filepath.Join(userHome, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", userHome) // the example's identity is ~/.ssh/bot-bottle-demo
	if err := os.Rename(key, filepath.Join(userHome, ".ssh", "bot-bottle-demo")); err != nil {
		t.Fatal(err)
	}

	if r := run(t, t.TempDir(), nil, "--home", home, "render", "demo"); r.code != exitUsage || !strings.Contains(r.stderr, "pass -o DIR") {
		t.Errorf("without -o: code %d, stderr %q", r.code, r.stderr)
	}

	out := filepath.Join(t.TempDir(), "p")
	r := run(t, t.TempDir(), map[string]string{"HOME": userHome}, "--home", home, "render", "demo", "-o", out, "--runtime", "default")
	if r.code != exitError || !strings.Contains(r.stderr, "$EXAMPLE_API_TOKEN, which is not set") {
		t.Errorf("without the token: code %d, stderr %q", r.code, r.stderr)
	}
	if want := "env TICKET (" + filepath.Join(home, "bottles", "dev.md") + ":10): $JIRA_TICKET is not set"; !strings.Contains(r.stderr, want) {
		t.Errorf("without $JIRA_TICKET: stderr lacks %q:\n%s", want, r.stderr)
	}
	// Set empty, $JIRA_TICKET is a value: render goes on to the prompt.
	r = run(t, t.TempDir(), map[string]string{"HOME": userHome, "EXAMPLE_API_TOKEN": "tok_example_0123456789abcdef", "JIRA_TICKET": "", "CLAUDE_CODE_OAUTH_TOKEN": "oauth-example"},
		"--home", home, "render", "demo", "-o", out, "--runtime", "default")
	if r.code != exitError || strings.Contains(r.stderr, "JIRA_TICKET") || !strings.Contains(r.stderr, "no terminal to ask on") {
		t.Errorf("$JIRA_TICKET set empty: code %d, stderr %q", r.code, r.stderr)
	}

	vars := map[string]string{"HOME": userHome, "EXAMPLE_API_TOKEN": "tok_example_0123456789abcdef", "JIRA_TICKET": "BB-1", "CLAUDE_CODE_OAUTH_TOKEN": "oauth-example"}
	r = run(t, t.TempDir(), vars, "--home", home, "render", "demo", "-o", out, "--runtime", "default")
	if r.code != exitError || !strings.Contains(r.stderr, "no terminal to ask on") {
		t.Errorf("prompted value without a terminal: code %d, stderr %q", r.code, r.stderr)
	}

	own := t.TempDir()
	for _, d := range []string{"bottles", "agents"} {
		if err := os.MkdirAll(filepath.Join(own, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	bottle := "---\negress:\n  routes:\n    - host: api.example.test\n      auth: {scheme: Bearer, token_ref: EXAMPLE_API_TOKEN}\n---\n"
	if err := os.WriteFile(filepath.Join(own, "bottles", "b.md"), []byte(bottle), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(own, "agents", "demo.md"), []byte("---\nbottle: b\n---\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	home = own
	r = run(t, t.TempDir(), vars, "--home", home, "render", "demo", "-o", out, "--runtime", "default")
	if r.code != exitOK || !strings.Contains(r.stdout, "rendered bot-bottle-demo") || !strings.Contains(r.stdout, "docker compose up -d") {
		t.Fatalf("render: code %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	yml, err := os.ReadFile(filepath.Join(out, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(yml), "tok_example_0123456789abcdef") || strings.Contains(r.stdout+r.stderr, "tok_example") {
		t.Error("the token leaked into compose.yaml or the output")
	}
	if r := run(t, t.TempDir(), vars, "--home", home, "render", "demo", "-o", out); r.code != exitError || !strings.Contains(r.stderr, "not empty") {
		t.Errorf("second render into the same dir: code %d, stderr %q", r.code, r.stderr)
	}
	if r := run(t, t.TempDir(), vars, "--home", home, "render", "demo", "-o", t.TempDir(), "--runtime", "gvisor"); r.code != exitUsage {
		t.Errorf("bad --runtime: code %d, stderr %q", r.code, r.stderr)
	}
}
