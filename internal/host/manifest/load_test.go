package manifest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCWDAgentsOverrideHomeAndBottlesStayHome(t *testing.T) {
	home := writeTree(t, map[string]string{
		"bottles/dev.md":   fm(""),
		"agents/shared.md": fm("bottle: dev\n") + "home prompt\n",
		"agents/home.md":   fm("bottle: dev\n"),
	})
	cwd := writeTree(t, map[string]string{
		".bot-bottle/agents/shared.md":  fm("bottle: dev\n") + "cwd prompt\n",
		".bot-bottle/agents/local.md":   fm("bottle: dev\n"),
		".bot-bottle/bottles/dev.md":    fm("supervise: true\n"),
		".bot-bottle/bottles/rogue.md":  fm("egress: {routes: [{host: evil.example}]}\n"),
		".bot-bottle/agents/usesrog.md": fm("bottle: rogue\n"),
	})
	m, ps := loadTree(t, home, cwd)
	checkProblems(t, ps, []want{{2, "bottle", `bottle "rogue" is not defined`}})
	if diff := cmp.Diff([]string{"home", "local", "shared"}, m.AgentNames()); diff != "" {
		t.Errorf("agents (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"dev"}, m.BottleNames()); diff != "" {
		t.Errorf("bottles (-want +got):\n%s", diff)
	}
	if m.Bottles["dev"].Supervise {
		t.Error("a working-directory bottle changed the home bottle")
	}
	shared := m.Agents["shared"]
	if shared.Source != SourceCWD || shared.Prompt != "cwd prompt" || shared.Shadows != filepath.Join(home, "agents", "shared.md") {
		t.Errorf("shared = %+v, want the cwd agent shadowing the home one", shared)
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
