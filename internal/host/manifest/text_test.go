package manifest

import (
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// Host-attacks finding 3, at the loader: each way a repository's agent
// file can carry a character that steers the terminal is a problem at
// its line; plain text (tabs, CRLF, emoji with joiners, accents) is not.
// The operator's own agents are not held to it.
func TestRepositoryAgentTextMustBePlain(t *testing.T) {
	tests := []struct {
		name, file string
		want       []want // nil: loads
	}{
		{"escape in the prompt", fm("bottle: dev\n") + "ok\nclear\x1b[2Jscreen\n", []want{{5, "", "the control character U+001B"}}},
		{"C1 CSI in the prompt", fm("bottle: dev\n") + "a\u009b31m\n", []want{{4, "", "U+009B"}}},
		{"bare CR rewrites a line", fm("bottle: dev\n") + "bottle: prod\rbottle: sandbox\n", []want{{4, "", "U+000D"}}},
		{"DEL", fm("bottle: dev\n") + "a\x7f\n", []want{{4, "", "U+007F"}}},
		{"bidi override", fm("bottle: dev\ndescription: \"x\u202ey\"\n"), []want{{3, "", "contains the bidirectional or separator character U+202E"}}},
		{"isolate", fm("bottle: dev\n") + "\u2066x\u2069\n", []want{{4, "", "the characters U+2066, U+2069"}}},
		{"line separator", fm("bottle: dev\n") + "a\u2028b\n", []want{{4, "", "U+2028"}}},
		{"not UTF-8", fm("bottle: dev\n") + "a\xffb\n", []want{{4, "", "bytes that are not UTF-8"}}},
		{"YAML escape in git identity", fm("bottle: dev\ngit-gate:\n  user: {name: \"\\e[8m\"}\n"), []want{{4, "", "a quoted value decodes to the control character U+001B"}}},
		{"YAML unicode escape in a key", fm("bottle: dev\n\"na\\u202eme\": x\n"), []want{{3, "", "a quoted value decodes to the bidirectional or separator character U+202E"}}},
		{"plain text", fm("bottle: dev\r\nname: \"caf\u00e9\"\r\n") + "tab\there\r\nfamily \U0001F468\u200d\U0001F469\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := writeTree(t, map[string]string{"bottles/dev.md": fm("repo_agents: true\n"), "agents/mine.md": tt.file})
			cwd := writeTree(t, map[string]string{".bot-bottle/agents/a.md": tt.file})
			m, ps := loadTree(t, home, cwd)
			var got []Problem
			for _, p := range ps {
				if p.File == filepath.Join(cwd, ".bot-bottle", "agents", "a.md") {
					got = append(got, p)
				} else if !strings.Contains(tt.name, "key") {
					t.Errorf("the operator's own agent was refused: %s", p)
				}
			}
			checkProblems(t, got, tt.want)
			if _, loaded := m.Agents["a"]; loaded == (tt.want != nil) {
				t.Errorf("agent loaded = %v, want %v", loaded, tt.want == nil)
			}
			for _, p := range got {
				if s := p.String(); strings.ContainsAny(s, "\x1b\u009b\r\u202e") || !utf8.ValidString(s) {
					t.Errorf("the problem itself steers the terminal: %q", s)
				}
			}
		})
	}
}

// Item (c) of the review: a problem quoting a bidirectional override (in
// a key, say) shows it escaped; strconv's quoting left it as it was.
func TestProblemStringEscapesBidiControls(t *testing.T) {
	for _, tt := range []struct {
		p    Problem
		want string
	}{
		{Problem{File: "a.md", Line: 2, Field: "na\u202eme", Msg: "unknown key"}, `a.md:2: na\u202eme: unknown key`},
		{Problem{File: "a\u2066.md", Msg: "bad \u200f", Hint: "fix \u009b"}, `a\u2066.md: bad \u200f; fix \u009b`},
	} {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

// FuzzCheckText: whatever a file holds, checkText does not panic, and a
// file it passes has no character that could steer the terminal.
func FuzzCheckText(f *testing.F) {
	f.Add([]byte("---\nbottle: dev\n---\nhello\r\n"))
	f.Add([]byte("a\x1b[2J\u202e\xff\r"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var ps []Problem
		r := &reader{file: "f", problems: &ps}
		clean := r.checkText(data)
		if clean != (len(ps) == 0) || len(ps) > maxTextProblems {
			t.Fatalf("clean %v with %d problems", clean, len(ps))
		}
		if !clean {
			return
		}
		s := strings.ReplaceAll(string(data), "\r\n", "\n")
		if !utf8.ValidString(s) {
			t.Fatalf("passed invalid UTF-8: %q", data)
		}
		for _, c := range s {
			if steeringChar(c) {
				t.Fatalf("passed %U in %q", c, data)
			}
		}
	})
}
