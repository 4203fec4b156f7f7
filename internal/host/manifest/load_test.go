package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCWDAgentsAddToHomeAndBottlesStayHome(t *testing.T) {
	home := writeTree(t, map[string]string{
		"bottles/dev.md": fm("repo_agents: true\n"),
		"agents/home.md": fm("bottle: dev\n"),
	})
	cwd := writeTree(t, map[string]string{
		".bot-bottle/agents/local.md":   fm("bottle: dev\n") + "cwd prompt\n",
		".bot-bottle/bottles/dev.md":    fm("supervise: true\n"),
		".bot-bottle/bottles/rogue.md":  fm("egress: {routes: [{host: evil.example}]}\n"),
		".bot-bottle/agents/usesrog.md": fm("bottle: rogue\n"),
	})
	m, ps := loadTree(t, home, cwd)
	checkProblems(t, ps, []want{{2, "bottle", `bottle "rogue" is not defined`}})
	if diff := cmp.Diff([]string{"home", "local"}, m.AgentNames()); diff != "" {
		t.Errorf("agents (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"dev"}, m.BottleNames()); diff != "" {
		t.Errorf("bottles (-want +got):\n%s", diff)
	}
	if m.Bottles["dev"].Supervise {
		t.Error("a working-directory bottle changed the home bottle")
	}
	if local := m.Agents["local"]; local.Source != SourceCWD || local.Prompt != "cwd prompt" || local.Shadows != "" {
		t.Errorf("local = %+v, want the cwd agent", local)
	}
	if m.Agents["home"].Source != SourceHome {
		t.Error("home agent lost its source")
	}
	if m.CWDAgentsDir != filepath.Join(cwd, ".bot-bottle", "agents") {
		t.Errorf("CWDAgentsDir = %q", m.CWDAgentsDir)
	}
	if len(m.Warnings) != 1 || !strings.Contains(m.Warnings[0].Msg, "bottles are loaded only from the bot-bottle home") {
		t.Errorf("want one warning about the ignored cwd bottles, got %v", m.Warnings)
	}
}

// Host-attacks finding 2: a cloned repository's agent named like the
// operator's, naming the operator's most capable bottle. It replaces
// nothing without --repo-overrides, and picks no bottle the operator did
// not open to repository agents; each refusal says which file wins and
// how to allow it.
func TestRepositoryAgentCannotPickTheOperatorsCapabilities(t *testing.T) {
	home := writeTree(t, map[string]string{
		"bottles/sandbox.md": fm("repo_agents: true\n"),
		"bottles/prod.md":    fm("egress: {routes: [{host: api.github.com, auth: {scheme: Bearer, token_ref: DEPLOY_TOKEN}}]}\n"),
		"bottles/child.md":   fm("extends: sandbox\n"),
		"agents/dev.md":      fm("bottle: sandbox\n") + "the operator's dev\n",
	})
	cwd := writeTree(t, map[string]string{
		".bot-bottle/agents/dev.md":    fm("bottle: prod\n") + "the repository's dev\n",
		".bot-bottle/agents/deploy.md": fm("skills: [x]\nbottle: prod\n"),
		".bot-bottle/agents/kid.md":    fm("bottle: child\n"),
		".bot-bottle/agents/ok.md":     fm("bottle: sandbox\n"),
	})
	tests := []struct {
		name      string
		overrides bool
		agent     string
		wantFile  string // the file of the agent used; "" refused
		wantErr   string
	}{
		{"home agent wins by default", false, "dev", filepath.Join(home, "agents", "dev.md"), ""},
		{"override still needs an open bottle", true, "dev", "", `bottle "prod", which is not open to repository agents`},
		{"new name, closed bottle", false, "deploy", "", "add `repo_agents: true` to " + filepath.Join(home, "bottles", "prod.md")},
		{"opening is not inherited", false, "kid", "", `bottle "child", which is not open`},
		{"new name, open bottle", false, "ok", filepath.Join(cwd, ".bot-bottle", "agents", "ok.md"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Load(Options{Home: home, CWD: cwd, RepoOverrides: tt.overrides})
			if err != nil {
				t.Fatalf("a refused repository agent must not break the load: %v", err)
			}
			eff, err := m.Effective(tt.agent)
			if tt.wantFile == "" {
				if err == nil {
					t.Fatalf("Effective(%q) = agent %s with bottle %s, want it refused", tt.agent, eff.Agent.File, eff.Bottle.Name)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q lacks %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if eff.Agent.File != tt.wantFile {
				t.Errorf("agent file = %s, want %s", eff.Agent.File, tt.wantFile)
			}
		})
	}

	m, _ := loadTree(t, home, cwd)
	var text []string
	for _, w := range m.Warnings {
		text = append(text, w.String())
	}
	all := strings.Join(text, "\n")
	for _, want := range []string{
		filepath.Join(cwd, ".bot-bottle", "agents", "dev.md") + `: not used: agent "dev" from the repository has the name of your agent ` +
			filepath.Join(home, "agents", "dev.md") + ", which wins; rename one of them, or pass --repo-overrides",
		filepath.Join(cwd, ".bot-bottle", "agents", "deploy.md") + `:3: bottle: refused: agent "deploy"`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings lack %q:\n%s", want, all)
		}
	}

	home2 := writeTree(t, map[string]string{"bottles/sandbox.md": fm("repo_agents: true\n"), "agents/ok.md": fm("bottle: sandbox\n")})
	m, _ = Load(Options{Home: home2, CWD: cwd, RepoOverrides: true})
	if a := m.Agents["ok"]; a == nil || a.Source != SourceCWD || a.Shadows != filepath.Join(home2, "agents", "ok.md") {
		t.Errorf("with --repo-overrides and an open bottle the repository's ok should replace the home one: %+v", a)
	}
	if !strings.Contains(Problems(m.Warnings).Error(), `agent "ok" from the repository replaces your agent`) {
		t.Errorf("the replacement is not said: %v", m.Warnings)
	}
}

func TestHomeInsideCWDIsReadOnce(t *testing.T) {
	cwd := writeTree(t, map[string]string{
		".bot-bottle/bottles/dev.md": fm(""),
		".bot-bottle/agents/a.md":    fm("bottle: dev\n"),
	})
	m, ps := loadTree(t, filepath.Join(cwd, ".bot-bottle"), cwd)
	if len(ps) > 0 || len(m.Warnings) > 0 {
		t.Fatalf("problems %v warnings %v", ps, m.Warnings)
	}
	if m.Agents["a"].Source != SourceHome || m.Agents["a"].Shadows != "" || m.CWDAgentsDir != "" {
		t.Errorf("agent = %+v, want it read once, from home", m.Agents["a"])
	}
}

func TestFileNamesAndSkippedFiles(t *testing.T) {
	home := writeTree(t, map[string]string{
		"bottles/dev.md":        fm(""),
		"agents/good-1.md":      fm("bottle: dev\n"),
		"agents/My_Agent.md":    fm("bottle: dev\n"),
		"agents/9lives.md":      fm("bottle: dev\n"),
		"agents/.hidden.md":     "not even yaml: [",
		"agents/notes.txt":      "ignored",
		"agents/dir.md/file.md": "ignored",
	})
	m, ps := loadTree(t, home, "")
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	if diff := cmp.Diff([]string{"good-1"}, m.AgentNames()); diff != "" {
		t.Errorf("agents (-want +got):\n%s", diff)
	}
	var got []string
	for _, w := range m.Warnings {
		got = append(got, filepath.Base(w.File)+": "+w.Hint)
	}
	want := []string{`9lives.md: rename it to "lives.md"`, `My_Agent.md: rename it to "my-agent.md"`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

func TestLegacyJSONWithoutMarkdownIsAProblem(t *testing.T) {
	home := writeTree(t, map[string]string{"bot-bottle.json": "{}"})
	_, ps := loadTree(t, home, "")
	checkProblems(t, ps, []want{{0, "", "no longer read"}})

	home = writeTree(t, map[string]string{"bot-bottle.json": "{}", "bottles/dev.md": fm("")})
	if _, ps := loadTree(t, home, ""); len(ps) > 0 {
		t.Errorf("legacy file beside Markdown manifests must be ignored, got %v", ps)
	}
}

func TestMissingHomeIsEmpty(t *testing.T) {
	m, ps := loadTree(t, filepath.Join(t.TempDir(), "nope"), "")
	if len(ps) > 0 || len(m.Bottles) != 0 || len(m.Agents) != 0 {
		t.Fatalf("missing home: %v %+v", ps, m)
	}
}

func TestOversizedAndUnreadableFiles(t *testing.T) {
	home := writeTree(t, map[string]string{
		"bottles/big.md": "---\n" + strings.Repeat("# x\n", maxFileSize/4+1) + "---\n",
		"bottles/dev.md": fm(""),
	})
	if os.Geteuid() != 0 { // root reads anything; the size check still runs
		if err := os.Chmod(filepath.Join(home, "bottles", "dev.md"), 0); err != nil {
			t.Fatal(err)
		}
	}
	_, ps := loadTree(t, home, "")
	if len(ps) == 0 || !strings.Contains(ps[0].Msg, "larger than 1024 KiB") {
		t.Fatalf("want an oversize problem first, got %v", ps)
	}
	if os.Geteuid() != 0 && (len(ps) != 2 || !strings.Contains(ps[1].Msg, "cannot read")) {
		t.Errorf("want an unreadable problem, got %v", ps)
	}
}

func TestSeveralBrokenFilesOneLineEach(t *testing.T) {
	home := writeTree(t, map[string]string{
		"bottles/a.md": fm("egres: {}\n"),
		"bottles/b.md": fm("extends: missing\n"),
		"bottles/c.md": "no frontmatter\n",
		"agents/x.md":  fm("bottle: nope\n"),
		"agents/y.md":  fm("bottle: c\nenv: {}\negress: {}\n"),
	})
	_, ps := loadTree(t, home, "")
	if len(ps) != 6 {
		t.Fatalf("got %d problems, want 6 (one per fault):\n%s", len(ps), ps)
	}
	lines := strings.Split(ps.Error(), "\n")
	if len(lines) != len(ps) {
		t.Fatalf("Error() has %d lines for %d problems", len(lines), len(ps))
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, home) {
			t.Errorf("line does not start with the file: %q", l)
		}
	}
	if ps.Files() != 5 {
		t.Errorf("Files() = %d, want 5", ps.Files())
	}
}

func TestResolveHome(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	tests := []struct {
		name, flag string
		env        map[string]string
		want       string
	}{
		{"flag wins", "/flag", map[string]string{"BOT_BOTTLE_HOME": "/env", "HOME": "/u"}, "/flag"},
		{"env next", "", map[string]string{"BOT_BOTTLE_HOME": "/env", "HOME": "/u"}, "/env"},
		{"default under HOME", "", map[string]string{"HOME": "/u"}, "/u/.bot-bottle"},
		{"relative to cwd", "examples", nil, "/cwd/examples"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveHome(tt.flag, env(tt.env), "/cwd")
			if err != nil || got != tt.want {
				t.Fatalf("ResolveHome = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestSuggest(t *testing.T) {
	allowed := []string{"env", "extends", "egress", "supervise"}
	for in, want := range map[string]string{"egres": "egress", "supervize": "supervise", "ENV": "env", "xyzzy": "", "ev": "env"} {
		if got := suggest(in, allowed); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}
