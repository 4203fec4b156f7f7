package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/shared/termtext"
)

// An agent's text cannot drive the terminal of an operator who runs
// `bot-bottle config` on it: its prompt and git identity print escaped, in
// text and in JSON, and the JSON still holds them exactly. (A repository's
// agent with such text does not load at all, see
// TestRepositoryAgentControlCharactersAreRefused; this is the operator's
// own file, copied from somewhere.)
func TestConfigEscapesAnAgentsText(t *testing.T) {
	home, _ := hostileHome(t)
	cwd := t.TempDir()
	writeFiles(t, home, map[string]string{"agents/helper.md": hostileAgentFile})
	r := run(t, cwd, nil, "--home", home, "config", "helper")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for i, line := range strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n") {
		if termtext.Line(line) != line {
			t.Errorf("config line %d reaches the terminal unescaped: %q", i+1, line)
		}
	}
	for _, want := range []string{`| Do the task.\x1b[2J\x1b[H\r`, `git identity:  \x1b[31mroot\x1b[0m\u202e <x@example.test\x1b]8;;`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("config lacks %q:\n%s", want, r.stdout)
		}
	}

	r = run(t, cwd, nil, "--home", home, "config", "helper", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if strings.ContainsAny(r.stdout, "\x1b\u202e\u2028\x07") {
		t.Errorf("config --json holds raw control characters:\n%q", r.stdout)
	}
	var v struct {
		Agent struct {
			Prompt  string
			GitUser struct{ Name string } `json:"git_user"`
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(v.Agent.Prompt, "\x1b[8mhidden instructions") || v.Agent.GitUser.Name != "\x1b[31mroot\x1b[0m\u202e" {
		t.Errorf("the JSON does not decode to the manifest's text: %+v", v.Agent)
	}
}

// Host-attacks finding 3: a repository's agent file whose prompt and git
// identity carry escape sequences (raw, and as YAML "\e" escapes) that
// would hide which bottle it uses. It is refused at load, each problem at
// file:line, and the problems themselves print escaped; validate, config
// and render all refuse.
func TestRepositoryAgentControlCharactersAreRefused(t *testing.T) {
	home, cwd := hostileHome(t)
	writeFiles(t, cwd, map[string]string{".bot-bottle/agents/helper.md": hostileAgentFile})
	file := filepath.Join(".bot-bottle", "agents", "helper.md")
	for _, args := range [][]string{{"validate"}, {"config", "helper"}, {"render", "helper", "-o", filepath.Join(t.TempDir(), "o")}} {
		t.Run(args[0], func(t *testing.T) {
			r := run(t, cwd, nil, append([]string{"--home", home, "--repo-overrides"}, args...)...)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			for _, want := range []string{
				file + ":6: a quoted value decodes to the control character U+001B",
				file + ":7: a quoted value decodes to the control character U+001B",
				file + ":9: contains the control character U+001B;",
				file + ":11: contains the control character U+001B;",
				file + ":12: contains the characters U+202E, U+2028;",
			} {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
				}
			}
			for i, line := range strings.Split(strings.TrimSuffix(r.stdout+r.stderr, "\n"), "\n") {
				if termtext.Line(line) != line {
					t.Errorf("output line %d reaches the terminal unescaped: %q", i+1, line)
				}
			}
		})
	}
}
