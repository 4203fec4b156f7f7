package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/host/manifest"
	"github.com/bot-bottle/bot-bottle/internal/shared/termtext"
)

// loadEffective loads home (and cwd's agents) and returns agent's
// effective configuration.
func loadEffective(t *testing.T, home, cwd, agent string) *manifest.Effective {
	t.Helper()
	m, err := manifest.Load(manifest.Options{Home: home, CWD: cwd, RepoOverrides: true})
	if err != nil {
		t.Fatalf("load %s: %v", home, err)
	}
	eff, err := m.Effective(agent)
	if err != nil {
		t.Fatal(err)
	}
	return eff
}

func writeFiles(t *testing.T, root string, files map[string]string) {
	t.Helper()
	for rel, content := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// hostileRepo is a cloned repository whose agent tries to take over the
// operator's terminal while they read the preflight: it clears the
// screen, retitles the window, hides text, forges a "Start? [y/N] y" line
// of its own, and reverses text with a bidirectional control. The
// directory's own name carries an escape too. The bottle (the operator's)
// has a command argument with an escape, as an image's docs might suggest.
//
// Loading refuses such an agent file from a repository (control
// characters are a problem there), so hostileHome's repository agent is
// clean and hostileEffective puts the hostile text in after loading, as if
// validation had missed it: the display escapes it all the same.
const hostileDir = "repo\x1b]0;owned\x07"

// hostileAgentFile is the hostile agent's file, as a repository would
// write it.
const hostileAgentFile = "---\nbottle: dev\nskills: [review]\ngit-gate:\n  user:\n    name: \"\\e[31mroot\\e[0m\\u202e\"\n    email: \"x@example.test\\e]8;;http://evil.example\\e\\\\\"\n---\n" +
	hostilePrompt + "\n"

const hostilePrompt = "Do the task.\x1b[2J\x1b[H\r\nStart? [y/N] y\n\x1b[8mhidden instructions\x1b[0m\n\u202eesrever\u2028next"

// hostileEffective is agent helper of hostileHome with the hostile
// prompt and identity of hostileAgentFile.
func hostileEffective(t *testing.T, home, cwd string) *manifest.Effective {
	t.Helper()
	eff := loadEffective(t, home, cwd, "helper")
	u := manifest.GitUser{Name: "\x1b[31mroot\x1b[0m\u202e", Email: "x@example.test\x1b]8;;http://evil.example\x1b\\"}
	a := *eff.Agent
	a.Prompt, a.GitUser = hostilePrompt, u
	eff.Agent, eff.Bottle.GitUser, eff.GitUserFrom = &a, u, "agent"
	return eff
}

func hostileHome(t *testing.T) (home, cwd string) {
	t.Helper()
	root := t.TempDir()
	home = filepath.Join(root, "home")
	cwd = filepath.Join(root, hostileDir)
	writeFiles(t, home, map[string]string{
		"bottles/dev.md": "---\nrepo_agents: true\nenv:\n  TOKEN: ${HOST_TOKEN}\n  KEY: \"?Key\"\nagent_provider:\n  template: custom\n  image: bot-bottle/agent-test:local\n" +
			"  command: [sh, -c, \"printf '\\e[2J'\"]\n  prompt_arg: --prompt-file\negress:\n  routes:\n    - host: api.example.test\n" +
			"      auth: {scheme: token, token_ref: T}\n      ports: [443, 8443]\n" +
			"    - host: \"*.cdn.example.test\"\n      tls_passthrough: true\n" +
			"git-gate:\n  repos:\n    demo:\n      url: ssh://git@[2001:db8::1]/srv/demo.git\n      identity: ~/.ssh/k\n      host_key: " + testHostKey + "\n" +
			"    plain:\n      url: ssh://git@git.example.test:2222/p.git\n      identity: ~/.ssh/k\n      host_key: " + testHostKey + "\n---\n",
		"agents/helper.md": "---\nbottle: dev\n---\nThe operator's own helper.\n",
	})
	writeFiles(t, cwd, map[string]string{".bot-bottle/agents/helper.md": "---\nbottle: dev\nskills: [review]\n---\nA clean prompt.\n"})
	return home, cwd
}

const testHostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICI6hGlDCXjpxzhdbdEZUM3HCpzCm9MHmTQ7mTHh00yp"

func TestPreflightGolden(t *testing.T) {
	repo := abs(t, "../../..")
	here := abs(t, ".")
	hostileHomeDir, hostileCWD := hostileHome(t)
	tests := []struct {
		name             string
		home, cwd, agent string
		displayCWD       string
		info             preflightInfo
	}{
		{"preflight-demo.txt", filepath.Join(repo, "examples"), t.TempDir(), "demo", repo, preflightInfo{
			Image: "bot-bottle/agent-claude:local", Workspace: "/home/op/src/demo", StateDir: "/home/op/.bot-bottle/state/demo-k3x9q", HostCPUs: 4}},
		{"preflight-shell.txt", filepath.Join(repo, "examples"), t.TempDir(), "shell", repo, preflightInfo{
			StateDir: "/home/op/.bot-bottle/state/shell-0a1b2", HostCPUs: 1}},
		{"preflight-built.txt", filepath.Join(here, "testdata", "custom-home"), t.TempDir(), "builder", here, preflightInfo{
			Image: "bot-bottle/agent-build:0123456789ab", StateDir: "/home/op/.bot-bottle/state/builder-zz999"}},
		{"preflight-hostile.txt", hostileHomeDir, hostileCWD, "helper", filepath.Dir(hostileCWD), preflightInfo{
			Image: "bot-bottle/agent-test:local", Command: []string{"sh", "-c", "printf '\x1b[2J'", "--prompt-file", "/home/agent/.bot-bottle-prompt.txt"},
			Workspace: hostileCWD, StateDir: filepath.Join(hostileHomeDir, "state", "helper-abcde")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			eff := loadEffective(t, tt.home, tt.cwd, tt.agent)
			if tt.home == hostileHomeDir {
				eff = hostileEffective(t, tt.home, tt.cwd)
			}
			var out strings.Builder
			if err := renderPreflight(&out, eff, newDisplay(tt.displayCWD, "/home/op"), tt.info); err != nil {
				t.Fatal(err)
			}
			got := out.String()
			for i, line := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
				if termtext.Line(line) != line {
					t.Errorf("line %d reaches the terminal unescaped: %q", i+1, line)
				}
			}
			golden(t, tt.name, strings.ReplaceAll(got, filepath.Dir(hostileHomeDir), "/TMP"))
		})
	}
}

// The hostile repository's agent is shown for what it is: from the
// repository, replacing the operator's agent of that name, with its
// forged line and escapes made visible.
func TestPreflightHostileRepositoryAgent(t *testing.T) {
	home, cwd := hostileHome(t)
	eff := hostileEffective(t, home, cwd)
	var out strings.Builder
	if err := renderPreflight(&out, eff, newDisplay(cwd, "/home/op"), preflightInfo{StateDir: "/s"}); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"from the repository at " + strings.ReplaceAll(cwd, "\x1b]0;owned\x07", `\x1b]0;owned\x07`) + "\n",
		"file .bot-bottle/agents/helper.md, in place of " + filepath.Join(home, "agents", "helper.md"),
		`| Do the task.\x1b[2J\x1b[H\r`,
		"| Start? [y/N] y",
		`\x1b[31mroot\x1b[0m\u202e <x@example.test\x1b]8;;http://evil.example\x1b\>`,
		`sh -c 'printf '\''\x1b[2J'\''' --prompt-file <prompt file>`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("preflight lacks %q:\n%s", want, got)
		}
	}
	for _, line := range strings.Split(got, "\n") {
		if strings.HasPrefix(line, "Start?") {
			t.Errorf("the prompt forged a line of the summary at the left margin: %q", line)
		}
	}
}

// The preflight shows where each env value comes from, and no value.
func TestPreflightShowsEnvOriginsNeverValues(t *testing.T) {
	home, cwd := hostileHome(t)
	t.Setenv("HOST_TOKEN", "s3cr3t-host-value")
	eff := loadEffective(t, home, cwd, "helper")
	var out strings.Builder
	if err := renderPreflight(&out, eff, newDisplay(cwd, ""), preflightInfo{}); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if strings.Contains(got, "s3cr3t") {
		t.Fatalf("a value was shown:\n%s", got)
	}
	for _, want := range []string{"env:            KEY    asked at launch\n", "                TOKEN  from $HOST_TOKEN\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("preflight lacks %q:\n%s", want, got)
		}
	}
}

func TestShellQuote(t *testing.T) {
	for _, tt := range []struct {
		argv []string
		want string
	}{
		{[]string{"sh"}, "sh"},
		{[]string{"agent", "--model=x", "a/b:c@d"}, "agent --model=x a/b:c@d"},
		{[]string{"sh", "-c", "echo hi"}, "sh -c 'echo hi'"},
		{[]string{"it's"}, `'it'\''s'`},
		{[]string{""}, "''"},
		{[]string{"$HOME", "~", "a;b"}, `'$HOME' '~' 'a;b'`},
	} {
		if got := shellQuote(tt.argv); got != tt.want {
			t.Errorf("shellQuote(%q) = %s, want %s", tt.argv, got, tt.want)
		}
	}
}
