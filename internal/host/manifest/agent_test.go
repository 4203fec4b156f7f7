package manifest

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAgentProblems(t *testing.T) {
	tests := []struct {
		name  string
		agent string
		wants []want
	}{
		{"missing bottle key", fm("skills: []\n"), []want{{2, "bottle", "missing required key bottle"}}},
		{"undefined bottle suggests", fm("bottle: dve\n"), []want{{2, "bottle", `did you mean "dev"`}}},
		{"bottle keys refused in agents", fm("bottle: dev\negress: {}\nenv: {}\n"), []want{
			{3, "egress", "agents cannot grant capabilities"}, {4, "env", "bottle key"}}},
		{"prompt key points at the body", fm("bottle: dev\nprompt: hi\n"), []want{{3, "prompt", "Markdown body"}}},
		{"git-gate repos is bottle-only", fm("bottle: dev\ngit-gate:\n  repos: {}\n"), []want{{4, "git-gate.repos", "credentials and host trust"}}},
		{"old git key", fm("bottle: dev\ngit: {}\n"), []want{{3, "git", "git-gate.user"}}},
		{"typo of a claude code key", fm("bottle: dev\nmodle: opus\n"), []want{{3, "modle", `did you mean "model"`}}},
		{"skills not a list", fm("bottle: dev\nskills: review\n"), []want{{3, "skills", "must be a list"}}},
		{"skill path refused", fm("bottle: dev\nskills: [../x]\n"), []want{{3, "skills[0]", "not a skill name"}}},
		{"bottle not a string", fm("bottle: [dev]\n"), []want{{2, "bottle", "must be a string"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := writeTree(t, map[string]string{"bottles/dev.md": fm(""), "agents/a.md": tt.agent})
			m, ps := loadTree(t, home, "")
			checkProblems(t, ps, tt.wants)
			if m.Agents["a"] != nil {
				t.Error("agent with problems was loaded")
			}
		})
	}
}

func TestAgentFields(t *testing.T) {
	home := writeTree(t, map[string]string{
		"bottles/dev.md": fm("git-gate:\n  user: {name: Bottle Name, email: bottle@example.test}\n"),
		"agents/a.md": fm(`bottle: dev
skills: [review, test-writer]
git-gate:
  user: {email: agent@example.test}
name: a
description: Claude Code metadata
model: opus
color: blue
memory: project
`) + "\n\n  You are agent A.\n\nBe careful.\n\n",
	})
	m, ps := loadTree(t, home, "")
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	a := m.Agents["a"]
	want := &Agent{
		Name: "a", File: filepath.Join(home, "agents", "a.md"), Source: SourceHome, Bottle: "dev", BottleLine: 2,
		Skills: []string{"review", "test-writer"}, GitUser: GitUser{Email: "agent@example.test"},
		Prompt:         "You are agent A.\n\nBe careful.",
		ClaudeCodeKeys: []string{"color", "description", "memory", "model", "name"},
	}
	if diff := cmp.Diff(want, a); diff != "" {
		t.Errorf("agent (-want +got):\n%s", diff)
	}
	eff, err := m.Effective("a")
	if err != nil {
		t.Fatal(err)
	}
	if eff.Bottle.GitUser != (GitUser{Name: "Bottle Name", Email: "agent@example.test"}) || eff.GitUserFrom != "agent+bottle" {
		t.Errorf("effective identity = %+v from %q", eff.Bottle.GitUser, eff.GitUserFrom)
	}
	if m.Bottles["dev"].GitUser.Email != "bottle@example.test" {
		t.Error("Effective modified the shared bottle")
	}
}

func TestEffectiveGitUserFrom(t *testing.T) {
	tests := []struct{ bottleUser, agentUser, want string }{
		{"", "", ""},
		{"  user: {name: B}\n", "", "bottle"},
		{"", "  user: {name: A}\n", "agent"},
		{"  user: {name: B}\n", "  user: {name: A}\n", "agent"},
		{"  user: {name: B}\n", "  user: {email: a@x}\n", "agent+bottle"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			bottle, agent := "", "bottle: dev\n"
			if tt.bottleUser != "" {
				bottle = "git-gate:\n" + tt.bottleUser
			}
			if tt.agentUser != "" {
				agent += "git-gate:\n" + tt.agentUser
			}
			home := writeTree(t, map[string]string{"bottles/dev.md": fm(bottle), "agents/a.md": fm(agent)})
			m, ps := loadTree(t, home, "")
			if len(ps) > 0 {
				t.Fatal(ps)
			}
			eff, err := m.Effective("a")
			if err != nil {
				t.Fatal(err)
			}
			if eff.GitUserFrom != tt.want {
				t.Errorf("GitUserFrom = %q, want %q", eff.GitUserFrom, tt.want)
			}
		})
	}
}

func TestEffectiveUnknownAgentSuggests(t *testing.T) {
	home := writeTree(t, map[string]string{"bottles/dev.md": fm(""), "agents/reviewer.md": fm("bottle: dev\n")})
	m, _ := loadTree(t, home, "")
	_, err := m.Effective("reveiwer")
	if err == nil || !strings.Contains(err.Error(), `did you mean "reviewer"`) {
		t.Fatalf("Effective(typo) error = %v, want a suggestion", err)
	}
}
