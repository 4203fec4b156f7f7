package manifest

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func repoYAML(name, host string) string {
	return "    " + name + ":\n      url: ssh://git@" + host + "/x.git\n      identity: ~/.ssh/" + name + "\n      host_key: " + testHostKey + "\n"
}

func TestExtendsMerge(t *testing.T) {
	parent := fm(`env:
  SHARED: parent
  ONLY_PARENT: p
agent_provider:
  template: codex
git-gate:
  user: {name: Parent, email: parent@example.test}
  repos:
` + repoYAML("one", "a.example.test") + repoYAML("two", "b.example.test") + `egress:
  routes:
    - host: parent.example.test
supervise: true
resources: {memory: 8g, cpus: 3, pids: 2048}
`)
	tests := []struct {
		name  string
		child string
		check func(t *testing.T, b *Bottle)
	}{
		{"nothing declared inherits everything", "extends: parent\n", func(t *testing.T, b *Bottle) {
			if len(b.Env) != 2 || b.Provider.Template != "codex" || len(b.Repos) != 2 || len(b.Routes) != 1 || !b.Supervise {
				t.Errorf("did not inherit: %+v", b)
			}
			if diff := cmp.Diff([]string{"parent"}, b.Extends); diff != "" {
				t.Errorf("Extends: %s", diff)
			}
		}},
		{"env merges and the child wins", "extends: parent\nenv:\n  SHARED: child\n  ONLY_CHILD: c\n", func(t *testing.T, b *Bottle) {
			got := map[string]string{}
			for _, e := range b.Env {
				got[e.Name] = e.Value.Literal
			}
			if diff := cmp.Diff(map[string]string{"SHARED": "child", "ONLY_PARENT": "p", "ONLY_CHILD": "c"}, got); diff != "" {
				t.Errorf("env (-want +got):\n%s", diff)
			}
		}},
		{"git user overlays per field", "extends: parent\ngit-gate:\n  user: {email: child@example.test}\n", func(t *testing.T, b *Bottle) {
			if b.GitUser != (GitUser{Name: "Parent", Email: "child@example.test"}) {
				t.Errorf("GitUser = %+v", b.GitUser)
			}
			if len(b.Repos) != 2 {
				t.Errorf("declaring only user must keep inherited repos, got %d", len(b.Repos))
			}
		}},
		{"repos merge by name, child entry replaces whole", "extends: parent\ngit-gate:\n  repos:\n" + repoYAML("two", "c.example.test") + repoYAML("three", "d.example.test"), func(t *testing.T, b *Bottle) {
			hosts := map[string]string{}
			for _, r := range b.Repos {
				hosts[r.Name] = r.SSH.Host
			}
			if diff := cmp.Diff(map[string]string{"one": "a.example.test", "two": "c.example.test", "three": "d.example.test"}, hosts); diff != "" {
				t.Errorf("repos (-want +got):\n%s", diff)
			}
		}},
		{"explicit empty repos clears", "extends: parent\ngit-gate:\n  repos: {}\n", func(t *testing.T, b *Bottle) {
			if len(b.Repos) != 0 {
				t.Errorf("repos = %+v, want cleared", b.Repos)
			}
		}},
		{"egress replaced when declared", "extends: parent\negress:\n  routes:\n    - host: child.example.test\n", func(t *testing.T, b *Bottle) {
			if len(b.Routes) != 1 || b.Routes[0].Host != "child.example.test" {
				t.Errorf("routes = %+v, want only the child's", b.Routes)
			}
		}},
		{"egress cleared by an empty declaration", "extends: parent\negress: {}\n", func(t *testing.T, b *Bottle) {
			if len(b.Routes) != 0 {
				t.Errorf("routes = %+v, want none", b.Routes)
			}
		}},
		{"provider replaced whole", "extends: parent\nagent_provider: {dockerfile: ./D}\n", func(t *testing.T, b *Bottle) {
			want := Provider{Template: "claude", Dockerfile: filepath.Join(filepath.Dir(b.File), "D")}
			if diff := cmp.Diff(want, b.Provider); diff != "" {
				t.Errorf("provider (-want +got), want the child's block with its defaults:\n%s", diff)
			}
		}},
		{"custom provider replaced whole by a template", "extends: parent\nagent_provider: {template: claude}\n", func(t *testing.T, b *Bottle) {
			// The parent here is codex; the custom case is TestExtendsCustomProvider.
			if diff := cmp.Diff(Provider{Template: "claude"}, b.Provider); diff != "" {
				t.Errorf("provider (-want +got):\n%s", diff)
			}
		}},
		{"supervise replaced when declared", "extends: parent\nsupervise: false\n", func(t *testing.T, b *Bottle) {
			if b.Supervise {
				t.Error("supervise inherited despite the child's false")
			}
		}},
		{"resources inherited when not declared", "extends: parent\n", func(t *testing.T, b *Bottle) {
			if b.Resources != (Resources{Memory: 8 << 30, CPUs: 3, Pids: 2048}) {
				t.Errorf("resources = %+v, want the parent's", b.Resources)
			}
		}},
		{"resources replaced whole: what the child leaves out is the default", "extends: parent\nresources: {pids: 512}\n", func(t *testing.T, b *Bottle) {
			if b.Resources != (Resources{Pids: 512}) {
				t.Errorf("resources = %+v, want only the child's pids (the rest default)", b.Resources)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := writeTree(t, map[string]string{"bottles/parent.md": parent, "bottles/child.md": fm(tt.child)})
			m, ps := loadTree(t, home, "")
			if len(ps) > 0 {
				t.Fatalf("problems:\n%s", ps)
			}
			tt.check(t, m.Bottles["child"])
		})
	}
}

// A custom provider is one block: a child that names another template
// keeps none of its image, command or prompt_arg, and a child that says
// nothing inherits all of it.
func TestExtendsCustomProvider(t *testing.T) {
	home := writeTree(t, map[string]string{
		"bottles/custom.md":  fm("agent_provider:\n  template: custom\n  image: example.test/agent:1\n  command: [agent, --yes]\n  prompt_arg: --prompt-file\n"),
		"bottles/inherit.md": fm("extends: custom\nsupervise: true\n"),
		"bottles/claude.md":  fm("extends: custom\nagent_provider: {template: claude}\n"),
		"bottles/rebuilt.md": fm("extends: custom\nagent_provider:\n  template: custom\n  dockerfile: Dockerfile.agent\n  command: [sh]\n"),
	})
	m, ps := loadTree(t, home, "")
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	custom := Provider{Template: "custom", Image: "example.test/agent:1", Command: []string{"agent", "--yes"}, PromptArg: "--prompt-file"}
	for name, want := range map[string]Provider{
		"inherit": custom,
		"claude":  {Template: "claude"},
		"rebuilt": {Template: "custom", Dockerfile: filepath.Join(home, "bottles", "Dockerfile.agent"), Command: []string{"sh"}},
	} {
		if diff := cmp.Diff(want, m.Bottles[name].Provider); diff != "" {
			t.Errorf("bottle %s provider (-want +got):\n%s", name, diff)
		}
	}
}

// An inherited env entry is reported where its bottle wrote it, so an
// unset ${VAR} at launch points at the right file and line.
func TestExtendsEnvKeepsWhereEachEntryIsWritten(t *testing.T) {
	home := writeTree(t, map[string]string{
		"bottles/a.md": fm("env:\n  FROM_A: ${A}\n  BOTH: a\n"),
		"bottles/b.md": fm("extends: a\nsupervise: true\nenv:\n  BOTH: ${B}\n"),
	})
	m, ps := loadTree(t, home, "")
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	got := map[string]string{}
	for _, e := range m.Bottles["b"].Env {
		got[e.Name] = fmt.Sprintf("%s:%d", filepath.Base(e.File), e.Line)
	}
	if diff := cmp.Diff(map[string]string{"FROM_A": "a.md:3", "BOTH": "b.md:5"}, got); diff != "" {
		t.Errorf("env entries' places (-want +got):\n%s", diff)
	}
}

func TestExtendsChain(t *testing.T) {
	home := writeTree(t, map[string]string{
		"bottles/a.md": fm("env: {A: a, X: a}\n"),
		"bottles/b.md": fm("extends: a\nenv: {B: b, X: b}\n"),
		"bottles/c.md": fm("extends: b\nenv: {C: c}\n"),
	})
	m, ps := loadTree(t, home, "")
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	c := m.Bottles["c"]
	if diff := cmp.Diff([]string{"b", "a"}, c.Extends); diff != "" {
		t.Errorf("Extends (-want +got):\n%s", diff)
	}
	got := map[string]string{}
	for _, e := range c.Env {
		got[e.Name] = e.Value.Literal
	}
	if diff := cmp.Diff(map[string]string{"A": "a", "B": "b", "C": "c", "X": "b"}, got); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
}

func TestExtendsProblems(t *testing.T) {
	tests := []struct {
		name   string
		files  map[string]string
		wants  []want
		loaded []string // bottles that still load
	}{
		{"self reference", map[string]string{"bottles/a.md": fm("extends: a\n")}, []want{{2, "extends", "extends itself"}}, nil},
		{"missing parent suggests", map[string]string{"bottles/base.md": fm(""), "bottles/a.md": fm("extends: bsae\n")},
			[]want{{2, "extends", `did you mean "base"`}}, []string{"base"}},
		{"cycle", map[string]string{"bottles/a.md": fm("extends: b\n"), "bottles/b.md": fm("extends: a\n")},
			[]want{{2, "extends", "a -> b -> a"}}, nil},
		{"broken parent reports only the parent", map[string]string{"bottles/a.md": fm("supervise: 1\n"), "bottles/b.md": fm("extends: a\n")},
			[]want{{2, "supervise", "true or false"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := writeTree(t, tt.files)
			m, ps := loadTree(t, home, "")
			checkProblems(t, ps, tt.wants)
			if diff := cmp.Diff(tt.loaded, m.BottleNames(), cmpEmpty); diff != "" {
				t.Errorf("loaded bottles (-want +got):\n%s", diff)
			}
		})
	}
}

// cmpEmpty treats nil and empty slices as equal.
var cmpEmpty = cmpopts.EquateEmpty()
