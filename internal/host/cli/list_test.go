package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/host/bottle"
)

// TestListGolden lists the fixture home against the recorded engine:
// running bottles by start time then slug; --all adds the stopped ones,
// the unreadable one and the orphan; --json is the same as data.
func TestListGolden(t *testing.T) {
	home := fixtureHome(t)
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"list.txt", []string{"list"}},
		{"list-all.txt", []string{"list", "--all"}},
		{"list-all.json", []string{"list", "--all", "--json"}},
		{"list.json", []string{"list", "--json"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			r := runOps(t, t.Context(), home, home, fixtureDeps(loadFakeEngine(t)), tc.args...)
			if r.code != 0 || r.stderr != "" {
				t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
			}
			checkNoControl(t, r.stdout)
			golden(t, tc.golden, r.stdout)
		})
	}
}

// TestListJSONShape reads list --all --json as a script would.
func TestListJSONShape(t *testing.T) {
	home := fixtureHome(t)
	r := runOps(t, t.Context(), home, home, fixtureDeps(loadFakeEngine(t)), "list", "--all", "--json")
	var got []struct {
		Slug      string            `json:"slug"`
		Agent     *string           `json:"agent"`
		Status    string            `json:"status"`
		State     string            `json:"state"`
		StartedAt string            `json:"started_at"`
		Services  map[string]string `json:"services"`
		Error     string            `json:"error"`
		Fix       string            `json:"fix"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.stdout)
	}
	var slugs []string
	for _, b := range got {
		slugs = append(slugs, b.Slug+"="+b.Status)
		if b.Agent == nil || b.Services == nil {
			t.Errorf("%s: agent %v, services %v: both are always there", b.Slug, b.Agent, b.Services)
		}
		if b.Error == "" && b.Status != statusOrphaned {
			if _, err := time.Parse(time.RFC3339, b.StartedAt); err != nil {
				t.Errorf("%s: started_at %q: %v", b.Slug, b.StartedAt, err)
			}
		}
	}
	want := "rev-aaaaa=stopped rev-bbbbb=stopped dev-q7w8e=running dev-a1b2c=running evil-e1e1e=running broken-b0b0b=stopped ghost-g1g1g=orphaned"
	if strings.Join(slugs, " ") != want {
		t.Errorf("bottles\n %s\nwant\n %s", strings.Join(slugs, " "), want)
	}
	dev := got[3]
	if dev.Services["supervise"] != "starting" || dev.Services["egress"] != "healthy" || dev.Services["agent"] != "running" ||
		dev.StartedAt != "2026-12-07T05:56:40Z" || dev.State != "running" {
		t.Errorf("dev-a1b2c: %+v", dev)
	}
	if got[1].Services["agent"] != "exited (137)" || got[1].State != "running" {
		t.Errorf("rev-bbbbb: the engine says its agent exited, metadata says running: %+v", got[1])
	}
	if !strings.Contains(got[5].Error, "version 9") {
		t.Errorf("broken-b0b0b: error %q", got[5].Error)
	}
	if got[6].Fix != "docker compose -p bot-bottle-ghost-g1g1g down --volumes" || *got[6].Agent != "ghost" {
		t.Errorf("ghost-g1g1g: %+v", got[6])
	}
}

func TestListNothing(t *testing.T) {
	empty := t.TempDir()
	stopped := t.TempDir()
	writeBottle(t, stopped, fixtureBottle{"rev-aaaaa", "reviewer", time.Hour, bottle.StateStopped})
	for _, tc := range []struct {
		name, home string
		args       []string
		want       string
	}{
		{"no bottles", empty, []string{"list"}, "no bottles running; start one with: bot-bottle up AGENT\n"},
		{"no bottles --all", empty, []string{"list", "--all"}, "no bottles; start one with: bot-bottle up AGENT\n"},
		{"no bottles --json", empty, []string{"list", "--json"}, "[]\n"},
		{"only stopped ones", stopped, []string{"list"}, "no bottles running (1 more with: bot-bottle list --all); start one with: bot-bottle up AGENT\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runOps(t, t.Context(), "/", tc.home, fixtureDeps(&fakeEngine{}), tc.args...)
			if r.code != 0 || r.stdout != tc.want {
				t.Fatalf("exit %d\nstdout %q, want %q\nstderr:\n%s", r.code, r.stdout, tc.want, r.stderr)
			}
		})
	}
}

func TestListEngineDown(t *testing.T) {
	e := loadFakeEngine(t)
	e.engineDown(t)
	r := runOps(t, t.Context(), "/", fixtureHome(t), fixtureDeps(e), "list")
	if r.code != 1 || !strings.Contains(r.stderr, "ask Docker which bottles run") || !strings.Contains(r.stderr, "Cannot connect") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

// TestListHostileMetadataIsEscaped: an agent name with a window-title
// sequence, BEL and a bidi override, and a service label clearing the
// screen, are shown escaped in the text and the JSON.
func TestListHostileMetadataIsEscaped(t *testing.T) {
	home := fixtureHome(t)
	for _, args := range [][]string{{"list"}, {"list", "--json"}} {
		r := runOps(t, t.Context(), home, home, fixtureDeps(loadFakeEngine(t)), args...)
		checkNoControl(t, r.stdout)
		if !strings.Contains(r.stdout, `\x1b]0;pwned\x07il\u202e`) && !strings.Contains(r.stdout, `\u001b]0;pwned\u0007il\u202e`) {
			t.Errorf("%v: the agent's name is not shown escaped:\n%s", args, r.stdout)
		}
	}
}

func TestAge(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second: "0s", 0: "0s", 5 * time.Second: "5s", 59 * time.Second: "59s", time.Minute: "1m",
		3*time.Minute + 59*time.Second: "3m", time.Hour: "1h", 23*time.Hour + 59*time.Minute: "23h", 24 * time.Hour: "1d", 100 * 24 * time.Hour: "100d",
	} {
		if got := age(d); got != want {
			t.Errorf("age(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestShellWord(t *testing.T) {
	for in, want := range map[string]string{
		"bot-bottle-dev-a1b2c": "bot-bottle-dev-a1b2c", "~/.bot-bottle/state/x": "~/.bot-bottle/state/x",
		"a b": "'a b'", "it's": `'it'\''s'`, "": "''", "$(rm -rf ~)": "'$(rm -rf ~)'", "~": "'~'", "~root/x": "'~root/x'",
	} {
		if got := shellWord(in); got != want {
			t.Errorf("shellWord(%q) = %s, want %s", in, got, want)
		}
	}
}
