package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/shared/termtext"
)

// A cloned repository's agent cannot drive the terminal of an operator
// who runs `bot-bottle config` on it: its prompt and git identity print
// escaped, in text and in JSON, and the JSON still holds them exactly.
func TestConfigEscapesARepositoryAgent(t *testing.T) {
	home, cwd := hostileHome(t)
	r := run(t, cwd, nil, "--home", home, "--repo-overrides", "config", "helper")
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

	r = run(t, cwd, nil, "--home", home, "--repo-overrides", "config", "helper", "--json")
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
