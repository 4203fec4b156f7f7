package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/golden files from the current output")

type result struct {
	stdout, stderr string
	code           int
}

// run executes the CLI in-process with a controlled environment.
func run(t *testing.T, cwd string, vars map[string]string, args ...string) result {
	t.Helper()
	if vars == nil {
		vars = map[string]string{}
	}
	if _, ok := vars["HOME"]; !ok {
		vars["HOME"] = "/nonexistent-user-home"
	}
	var out, errb bytes.Buffer
	env := Env{
		Getenv:    func(k string) string { return vars[k] },
		LookupEnv: func(k string) (string, bool) { v, ok := vars[k]; return v, ok },
		Getwd:     func() (string, error) { return cwd, nil },
		Stdin:     strings.NewReader(""),
		Stdout:    &out, Stderr: &errb,
	}
	code := Main(context.Background(), args, env)
	return result{out.String(), errb.String(), code}
}

func abs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden file (run go test -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", name, diff)
	}
}

func TestGoldenOutputs(t *testing.T) {
	repo := abs(t, "../../..")
	here := abs(t, ".")
	tests := []struct {
		name     string
		cwd      string
		args     []string
		code     int
		stream   string // which stream the golden file holds
		wantNone string // must appear in neither stream
	}{
		{"validate-examples.txt", repo, []string{"--home", "examples", "validate"}, 0, "stdout", ""},
		{"config-demo.txt", repo, []string{"--home", "examples", "config", "demo"}, 0, "stdout", ""},
		{"config-demo.json", repo, []string{"--home", "examples", "config", "demo", "--json"}, 0, "stdout", ""},
		{"config-reviewer.txt", repo, []string{"--home", "examples", "config", "reviewer"}, 0, "stdout", ""},
		{"config-shell.txt", repo, []string{"--home", "examples", "config", "shell"}, 0, "stdout", ""},
		{"config-shell.json", repo, []string{"--home", "examples", "config", "shell", "--json"}, 0, "stdout", ""},
		{"config-custom.txt", here, []string{"--home", "testdata/custom-home", "config", "builder"}, 0, "stdout", ""},
		{"config-custom.json", here, []string{"--home", "testdata/custom-home", "config", "builder", "--json"}, 0, "stdout", ""},
		{"validate-broken.txt", here, []string{"--home", "testdata/broken-home", "validate"}, 1, "stderr", ""},
		{"config-broken.txt", here, []string{"--home", "testdata/broken-home", "config", "helper"}, 1, "stderr", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			secret := "s3cr3t-value-from-the-host"
			r := run(t, tt.cwd, map[string]string{"JIRA_TICKET": secret, "EXAMPLE_API_TOKEN": secret, "CLAUDE_CODE_OAUTH_TOKEN": secret}, tt.args...)
			if r.code != tt.code {
				t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tt.code, r.stdout, r.stderr)
			}
			if strings.Contains(r.stdout+r.stderr, secret) {
				t.Fatal("a host variable's value was printed")
			}
			got := r.stdout
			if tt.stream == "stderr" {
				got = r.stderr
			}
			golden(t, tt.name, got)
		})
	}
}

func TestConfigJSONShape(t *testing.T) {
	r := run(t, abs(t, "../../.."), nil, "--home", "examples", "config", "demo", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var v struct {
		Agent struct {
			Name, Source, Prompt string
		}
		Bottle struct {
			Extends []string
			Env     []struct{ Name, Source, Value string }
			Routes  []struct {
				Host string
				Auth *struct{ Scheme, Token string }
			}
			Repos []struct {
				Name     string
				AgentURL string `json:"agent_url"`
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("config --json is not JSON: %v\n%s", err, r.stdout)
	}
	if v.Agent.Name != "demo" || v.Agent.Source != "home" || !strings.Contains(v.Agent.Prompt, "demo repository") {
		t.Errorf("agent = %+v", v.Agent)
	}
	if len(v.Bottle.Extends) != 1 || v.Bottle.Extends[0] != "base" {
		t.Errorf("extends = %v", v.Bottle.Extends)
	}
	values := map[string]string{}
	for _, e := range v.Bottle.Env {
		values[e.Name] = e.Source + " " + e.Value
	}
	want := map[string]string{"DEPLOY_KEY": "prompt <prompted>", "TICKET": "host <from $JIRA_TICKET>", "NODE_ENV": "literal test"}
	for k, w := range want {
		if values[k] != w {
			t.Errorf("env %s = %q, want %q", k, values[k], w)
		}
	}
	if v.Bottle.Routes[0].Auth == nil || v.Bottle.Routes[0].Auth.Token != "<from $EXAMPLE_API_TOKEN>" {
		t.Errorf("route auth = %+v", v.Bottle.Routes[0].Auth)
	}
	if len(v.Bottle.Repos) != 1 || v.Bottle.Repos[0].AgentURL != "http://git-gate:9420/demo.git" {
		t.Errorf("repos = %+v", v.Bottle.Repos)
	}
}

func TestExitCodesAndMessages(t *testing.T) {
	repo := abs(t, "../../..")
	tests := []struct {
		name   string
		args   []string
		vars   map[string]string
		code   int
		stdout string
		stderr string
	}{
		{"no args shows help", nil, nil, 0, "Usage:", ""},
		{"help teaches the manifest layout", []string{"--help"}, nil, 0, "bottles/NAME.md", ""},
		{"config help mentions placeholders", []string{"config", "--help"}, nil, 0, "<from $VAR>", ""},
		{"version", []string{"version"}, nil, 0, "bot-bottle ", ""},
		{"unknown command", []string{"valdate"}, nil, 2, "", "Did you mean this?"},
		{"unknown flag", []string{"validate", "--nope"}, nil, 2, "", "unknown flag: --nope"},
		{"config needs an agent", []string{"--home", "examples", "config"}, nil, 2, "", "config takes 1 argument(s) ([AGENT]), got 0"},
		{"validate takes no args", []string{"validate", "x"}, nil, 2, "", "validate takes 0 argument(s)"},
		{"unknown agent suggests", []string{"--home", "examples", "config", "dmeo"}, nil, 1, "", `did you mean "demo"`},
		{"empty home says what to do", []string{"--home", "nonexistent-dir", "validate"}, nil, 1, "", "no manifests found"},
		{"home from the environment", []string{"validate"}, map[string]string{"BOT_BOTTLE_HOME": filepath.Join(repo, "examples")}, 0, "ok: 3 bottles", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, repo, tt.vars, tt.args...)
			if r.code != tt.code {
				t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, tt.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, tt.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.stdout, r.stdout)
			}
			if !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, r.stderr)
			}
		})
	}
}

func TestCWDAgentOverridesAreShown(t *testing.T) {
	home := t.TempDir()
	cwd := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(home, "bottles", "dev.md"), "---\nrepo_agents: true\n---\n")
	write(filepath.Join(home, "agents", "a.md"), "---\nbottle: dev\n---\nhome\n")
	write(filepath.Join(cwd, ".bot-bottle", "agents", "a.md"), "---\nbottle: dev\n---\nfrom the repo\n")
	r := run(t, cwd, map[string]string{"HOME": "/nonexistent"}, "--home", home, "--repo-overrides", "config", "a")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"file:          .bot-bottle/agents/a.md (cwd)", "overrides:     " + filepath.Join(home, "agents", "a.md") + " (--repo-overrides)", "| from the repo"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
}

// Host-attacks finding 2 through the real CLI: a cloned repository's
// "dev" names the operator's prod bottle. render renders the operator's
// own dev (sandbox) and says so; with --repo-overrides the repository's
// is refused, as prod is not open to repository agents, with how to allow
// it; a repository agent on an open bottle is announced as one.
func TestRepositoryAgentNamedLikeTheOperatorsPicksNoBottle(t *testing.T) {
	home, cwd := t.TempDir(), t.TempDir()
	writeFiles(t, home, map[string]string{
		"bottles/sandbox.md": "---\nrepo_agents: true\n---\n",
		"bottles/prod.md":    "---\negress:\n  routes:\n    - host: api.github.com\n      auth: {scheme: Bearer, token_ref: DEPLOY_TOKEN}\n---\n",
		"agents/dev.md":      "---\nbottle: sandbox\n---\nthe operator's\n",
	})
	writeFiles(t, cwd, map[string]string{
		".bot-bottle/agents/dev.md":    "---\nbottle: prod\n---\nthe repository's\n",
		".bot-bottle/agents/helper.md": "---\nbottle: sandbox\n---\nhelp\n",
	})
	vars := map[string]string{"DEPLOY_TOKEN": "deploy-token-value"}

	r := run(t, cwd, vars, "--home", home, "render", "dev", "-o", filepath.Join(t.TempDir(), "out"), "--runtime", "default")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stdout, "agent dev, bottle sandbox\n") {
		t.Errorf("render did not use and name the operator's dev:\n%s", r.stdout)
	}
	if want := `.bot-bottle/agents/dev.md: not used: agent "dev" from the repository has the name of your agent ` + filepath.Join(home, "agents", "dev.md") + ", which wins"; !strings.Contains(r.stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
	}

	r = run(t, cwd, vars, "--home", home, "--repo-overrides", "render", "dev", "-o", filepath.Join(t.TempDir(), "out"), "--runtime", "default")
	if r.code == 0 {
		t.Fatalf("the repository's dev rendered the prod bottle:\n%s", r.stdout)
	}
	if want := "add `repo_agents: true` to " + filepath.Join(home, "bottles", "prod.md"); !strings.Contains(r.stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
	}

	r = run(t, cwd, vars, "--home", home, "render", "helper", "-o", filepath.Join(t.TempDir(), "out"), "--runtime", "default")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if want := "agent helper from the repository at " + cwd + ", bottle sandbox\n"; !strings.Contains(r.stdout, want) {
		t.Errorf("render lacks %q:\n%s", want, r.stdout)
	}
	r = run(t, cwd, vars, "--home", home, "config", "helper")
	for _, want := range []string{"agent helper, from the repository at " + cwd + "\n", "bottle:        sandbox (yours, open to repository agents)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("config lacks %q:\n%s", want, r.stdout)
		}
	}
}

// Review item (b) through the CLI: up --cwd on a checkout whose remote
// holds a token stops before the summary, names the remote, hides the
// token and says how to fix it; nothing starts.
func TestUpRefusesAWorkspaceWhoseGitConfigHoldsAToken(t *testing.T) {
	home, ws := t.TempDir(), t.TempDir()
	writeFiles(t, home, map[string]string{"bottles/dev.md": "---\n---\n", "agents/a.md": "---\nbottle: dev\n---\n"})
	const token = "ghp_s3cr3tT0kenValue"
	writeFiles(t, ws, map[string]string{
		".git/config": "[core]\n\tbare = false\n[remote \"origin\"]\n\turl = https://bot:" + token + "@github.com/acme/app.git\n",
		"main.go":     "package main\n",
	})
	r := run(t, t.TempDir(), nil, "--home", home, "up", "a", "--cwd", ws, "--dry-run")
	if r.code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, token) {
		t.Fatalf("the token was printed:\n%s%s", r.stdout, r.stderr)
	}
	for _, want := range []string{"--cwd " + ws + ": the workspace's git configuration holds credentials",
		filepath.Join(ws, ".git", "config") + `:4: [remote "origin"] https://***@github.com/acme/app.git`, "git remote set-url"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stdout, "dry run") {
		t.Errorf("the summary was shown before the refusal:\n%s", r.stdout)
	}
}
