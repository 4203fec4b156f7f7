package dashboard

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var now = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// fakeBackend serves a snapshot and records what the dashboard asked.
type fakeBackend struct {
	snap      Snapshot
	calls     []string
	approveOK string
	err       error
}

func (f *fakeBackend) Snapshot(context.Context) Snapshot { return f.snap }
func (f *fakeBackend) Detail(id string) (Detail, error) {
	f.calls = append(f.calls, "detail "+id)
	return Detail{Change: "the route for api.example.test carries no credential",
		Diff: "  routes:\n+ - host: api.example.test\n+   path_allowlist: [/v1/]\n"}, nil
}
func (f *fakeBackend) Tail(slug string, n int) ([]string, error) {
	f.calls = append(f.calls, "tail "+slug)
	return []string{"2026-03-01 09:59:01  egress     GET      api.example.test  /v1/x  allow", "2026-03-01 09:59:02  egress     POST     evil.test  /  deny"}, nil
}
func (f *fakeBackend) Agents() ([]string, error) { return []string{"dev", "reviewer"}, nil }
func (f *fakeBackend) Preflight(agent string) (string, error) {
	return "agent:   " + agent + "\nbottle:  base\negress:  api.example.test GET /v1/\n", nil
}
func (f *fakeBackend) Approve(_ context.Context, id, note string) (string, error) {
	f.calls = append(f.calls, "approve "+id+" note="+note)
	return f.approveOK, f.err
}
func (f *fakeBackend) Reject(id, note string) (string, error) {
	f.calls = append(f.calls, "reject "+id+" note="+note)
	return "", f.err
}
func (f *fakeBackend) cmd(what string) *exec.Cmd {
	f.calls = append(f.calls, what)
	return exec.Command("true")
}
func (f *fakeBackend) ApproveCommand(id, note string) *exec.Cmd {
	return f.cmd("approve-terminal " + id + " note=" + note)
}
func (f *fakeBackend) EditCommand(id string) *exec.Cmd     { return f.cmd("edit " + id) }
func (f *fakeBackend) AttachCommand(slug string) *exec.Cmd { return f.cmd("attach " + slug) }
func (f *fakeBackend) UpCommand(agent string) *exec.Cmd    { return f.cmd("up " + agent) }

func fixture() Snapshot {
	return Snapshot{
		TakenAt: now,
		Bottles: []Bottle{
			{Slug: "dev-a1b2c", Agent: "dev", Provider: "claude", Status: "running", State: "running", StartedAt: now.Add(-3 * time.Minute),
				Services: map[string]string{"agent": "running", "egress": "healthy", "gitgate": "healthy", "supervise": "healthy"}, Pending: 2, Requests: 14, Denials: 3},
			{Slug: "rev-q7w8e", Agent: "reviewer", Provider: "codex", Status: "stopped", State: "stopped", StartedAt: now.Add(-26 * time.Hour),
				Services: map[string]string{}},
		},
		Proposals: []Proposal{
			{ID: "p-older", Bottle: "dev-a1b2c", Tool: "capability-block", CreatedAt: now.Add(-10 * time.Minute),
				Reason: "the tests need jq", Grants: "installs jq into the agent image, and restarts the agent (its workspace is kept)", Terminal: true},
			{ID: "p-newer", Bottle: "dev-a1b2c", Tool: "egress-block", CreatedAt: now.Add(-40 * time.Second),
				Reason: "I need the v1 API to\nfetch the issue list", Grants: "lets the agent GET to api.example.test/v1/*"},
		},
	}
}

// run feeds msgs to m, running every command they return (except ticks
// and processes) so that replies come back as they would.
func run(t *testing.T, m *Model, msgs ...tea.Msg) {
	t.Helper()
	queue := append([]tea.Msg(nil), msgs...)
	for len(queue) > 0 {
		msg := queue[0]
		queue = queue[1:]
		_, cmd := m.Update(msg)
		queue = append(queue, drain(cmd)...)
	}
}

// drain runs cmd and the commands it batches, returning their messages.
// The models under test have no ticks (every is zero: the test is the
// clock), and processes are not run (their command only returns a
// message for bubbletea to act on).
func drain(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	msg := cmd()
	switch batch := msg.(type) {
	case tea.BatchMsg:
		var out []tea.Msg
		for _, c := range batch {
			out = append(out, drain(c)...)
		}
		return out
	case nil:
		return nil
	}
	return []tea.Msg{msg}
}

func newModel(t *testing.T, b *fakeBackend, w, h int) (*Model, *bytes.Buffer) {
	t.Helper()
	var bell bytes.Buffer
	m := New(b, Options{Bell: &bell, Now: func() time.Time { return now }})
	m.every = 0
	run(t, m, tea.WindowSizeMsg{Width: w, Height: h}, snapshotMsg(b.snap))
	return m, &bell
}

func key(s string) tea.KeyMsg {
	switch s {
	case "tab":
		return tea.KeyMsg{Type: tea.KeyTab}
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEsc}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "up":
		return tea.KeyMsg{Type: tea.KeyUp}
	case "ctrl+c":
		return tea.KeyMsg{Type: tea.KeyCtrlC}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)}
}

func typeText(s string) []tea.Msg {
	var msgs []tea.Msg
	for _, r := range s {
		msgs = append(msgs, tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
	}
	return msgs
}

func view(m *Model) string { return ansi.Strip(m.View()) }

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test ./internal/host/dashboard -update rewrites it); got:\n%s", name, got)
	}
}

func TestGoldenViews(t *testing.T) {
	for _, tc := range []struct {
		name string
		w, h int
		keys []string
	}{
		{"bottles-80x24.txt", 80, 24, nil},
		{"proposals-80x24.txt", 80, 24, []string{"tab"}},
		{"wide-160x48.txt", 160, 48, []string{"tab"}},
		{"small-50x12.txt", 50, 12, []string{"tab"}},
		{"help-80x24.txt", 80, 24, []string{"?"}},
		{"tail-80x24.txt", 80, 24, []string{"l"}},
		{"new-80x24.txt", 80, 24, []string{"n"}},
		{"preflight-80x24.txt", 80, 24, []string{"n", "down", "enter"}},
		{"note-80x24.txt", 80, 24, []string{"tab", "r"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &fakeBackend{snap: fixture()}
			m, _ := newModel(t, b, tc.w, tc.h)
			for _, k := range tc.keys {
				run(t, m, key(k))
			}
			got := view(m)
			if n := strings.Count(got, "\n") + 1; n != tc.h {
				t.Errorf("view has %d lines, want the terminal's %d", n, tc.h)
			}
			for i, l := range strings.Split(got, "\n") {
				if w := ansi.StringWidth(l); w > tc.w {
					t.Errorf("line %d is %d cells wide, more than the terminal's %d: %q", i+1, w, tc.w, l)
				}
			}
			golden(t, tc.name, got)
		})
	}
}

func TestNoColorHasNoEscapes(t *testing.T) {
	b := &fakeBackend{snap: fixture()}
	m, _ := newModel(t, b, 80, 24)
	if v := m.View(); strings.Contains(v, "\x1b") {
		t.Errorf("without Color the view holds escape sequences:\n%q", v)
	}
	colored := New(b, Options{Color: true, Now: func() time.Time { return now }})
	colored.every = 0
	run(t, colored, tea.WindowSizeMsg{Width: 80, Height: 24}, snapshotMsg(b.snap))
	if v := colored.View(); !strings.Contains(v, "\x1b[") {
		t.Errorf("with Color the selected row is not styled:\n%q", v)
	}
}

func TestBellRingsForNewProposalsOnlyAfterFirstPaint(t *testing.T) {
	b := &fakeBackend{snap: fixture()}
	m, bell := newModel(t, b, 80, 24)
	if m.Bells() != 0 || bell.Len() != 0 {
		t.Fatalf("the first paint rang the bell (%d, %q)", m.Bells(), bell.String())
	}
	run(t, m, snapshotMsg(b.snap))
	if m.Bells() != 0 {
		t.Fatalf("an unchanged snapshot rang the bell")
	}
	s := fixture()
	s.Proposals = append(s.Proposals, Proposal{ID: "p-newest", Bottle: "dev-a1b2c", Tool: "cred-block", CreatedAt: now,
		Reason: "to open a pull request", Grants: "asks you for a token credential that egress then sends on every request to api.github.com"})
	run(t, m, snapshotMsg(s))
	if m.Bells() != 1 || bell.String() != "\a" {
		t.Fatalf("a new proposal rang %d bell(s), wrote %q; want one BEL", m.Bells(), bell.String())
	}
	if !m.fresh["p-newest"] {
		t.Error("the new proposal is not highlighted")
	}
	if v := view(m); !strings.Contains(v, "● dev-a1b2c") {
		t.Errorf("the new proposal is not marked in the view:\n%s", v)
	}
	run(t, m, snapshotMsg(s))
	if m.Bells() != 1 {
		t.Error("the same proposal rang the bell twice")
	}
}

func TestKeys(t *testing.T) {
	for _, tc := range []struct {
		name      string
		keys      []tea.Msg
		wantCalls []string
		wantView  string
		exitCode  int
	}{
		{name: "approve with a note", keys: append([]tea.Msg{key("tab"), key("a")}, append(typeText("ok for now"), key("enter"))...),
			wantCalls: []string{"approve p-newer note=ok for now"}, wantView: "approve p-newer"},
		{name: "approve without a note", keys: []tea.Msg{key("tab"), key("a"), key("enter")},
			wantCalls: []string{"approve p-newer note="}},
		{name: "approve needing the terminal", keys: []tea.Msg{key("tab"), key("down"), key("a"), key("enter")},
			wantCalls: []string{"approve-terminal p-older note="}},
		{name: "approve cancelled", keys: []tea.Msg{key("tab"), key("a"), key("esc")},
			wantView: "approve cancelled"},
		{name: "reject needs a note", keys: []tea.Msg{key("tab"), key("r"), key("enter")},
			wantView: "a rejection needs a note"},
		{name: "reject with a note", keys: append([]tea.Msg{key("tab"), key("r")}, append(typeText("use the mirror"), key("enter"))...),
			wantCalls: []string{"reject p-newer note=use the mirror"}},
		{name: "approve in the bottles pane asks for a proposal", keys: []tea.Msg{key("a")},
			wantView: "select a proposal first"},
		{name: "edit", keys: []tea.Msg{key("tab"), key("e")}, wantCalls: []string{"edit p-newer"}},
		{name: "attach from the bottles pane", keys: []tea.Msg{key("down"), key("enter")}, wantCalls: []string{"attach rev-q7w8e"}},
		{name: "attach from the proposals pane", keys: []tea.Msg{key("tab"), key("enter")}, wantCalls: []string{"attach dev-a1b2c"}},
		{name: "tail", keys: []tea.Msg{key("l")}, wantCalls: []string{"tail dev-a1b2c"}, wantView: "Audit log of dev-a1b2c (live)"},
		{name: "tail closes", keys: []tea.Msg{key("l"), key("esc")}, wantCalls: []string{"tail dev-a1b2c"}, wantView: "Bottles (2)"},
		{name: "new bottle confirmed", keys: []tea.Msg{key("n"), key("enter"), key("y")}, wantCalls: []string{"up dev"}},
		{name: "new bottle declined", keys: []tea.Msg{key("n"), key("enter"), key("n")}, wantView: "not started"},
		{name: "help", keys: []tea.Msg{key("?")}, wantView: "Keys"},
		{name: "help closes on any key", keys: []tea.Msg{key("?"), key("x")}, wantView: "Bottles (2)"},
		{name: "quit", keys: []tea.Msg{key("q")}, exitCode: 0},
		{name: "ctrl-c", keys: []tea.Msg{key("ctrl+c")}, exitCode: ExitInterrupted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &fakeBackend{snap: fixture()}
			m, _ := newModel(t, b, 100, 30)
			b.calls = nil
			for _, k := range tc.keys {
				run(t, m, k)
			}
			var calls []string
			for _, c := range b.calls {
				if !strings.HasPrefix(c, "detail ") {
					calls = append(calls, c)
				}
			}
			if strings.Join(calls, "|") != strings.Join(tc.wantCalls, "|") {
				t.Errorf("backend calls = %q, want %q", calls, tc.wantCalls)
			}
			if tc.wantView != "" && !strings.Contains(view(m), tc.wantView) {
				t.Errorf("view lacks %q:\n%s", tc.wantView, view(m))
			}
			if m.ExitCode() != tc.exitCode {
				t.Errorf("exit code %d, want %d", m.ExitCode(), tc.exitCode)
			}
		})
	}
}

func TestQuitKeysQuit(t *testing.T) {
	for _, k := range []string{"q", "ctrl+c"} {
		m := New(&fakeBackend{snap: fixture()}, Options{})
		_, cmd := m.Update(key(k))
		if cmd == nil {
			t.Fatalf("%s returned no command", k)
		}
		if _, ok := cmd().(tea.QuitMsg); !ok {
			t.Errorf("%s does not quit", k)
		}
	}
}

func TestActionFailureIsAStatusLine(t *testing.T) {
	b := &fakeBackend{snap: fixture(), err: errors.New("reload egress: not running")}
	m, _ := newModel(t, b, 100, 30)
	run(t, m, append([]tea.Msg{key("tab"), key("a")}, key("enter"))...)
	if v := view(m); !strings.Contains(v, "approve p-newer failed: reload egress: not running") {
		t.Errorf("the failure is not shown:\n%s", v)
	}
}

func TestSelectionFollowsTheProposalNotTheRow(t *testing.T) {
	b := &fakeBackend{snap: fixture()}
	m, _ := newModel(t, b, 100, 30)
	run(t, m, key("tab"), key("down")) // p-older
	s := fixture()
	s.Proposals = append(s.Proposals, Proposal{ID: "p-3", Bottle: "dev-a1b2c", Tool: "egress-block", CreatedAt: now, Grants: "x"})
	run(t, m, snapshotMsg(s))
	if m.proposal != "p-older" {
		t.Errorf("selection moved to %s when a proposal arrived", m.proposal)
	}
	s.Proposals = s.Proposals[1:] // p-older decided elsewhere
	run(t, m, snapshotMsg(s))
	if m.proposal == "p-older" || m.proposal == "" {
		t.Errorf("selection %q after its proposal vanished", m.proposal)
	}
}

func TestHostileTextIsEscaped(t *testing.T) {
	const hostile = "fine\x1b[2J\x1b]0;owned\x07\rRUN true\u202eexe\x9b31m"
	s := fixture()
	s.Proposals[1].Reason = hostile
	s.Proposals[1].Grants = hostile
	s.Bottles[0].Agent = hostile
	s.Bottles[0].Services["x\x1b[1m"] = hostile
	s.Problems = []string{hostile}
	for _, size := range [][2]int{{80, 24}, {160, 48}} {
		b := &fakeBackend{snap: s}
		m, _ := newModel(t, b, size[0], size[1])
		run(t, m, key("tab"))
		v := m.View()
		for i, r := range v {
			if (r < 0x20 && r != '\n') || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u202e' {
				t.Fatalf("%dx%d view holds %U at byte %d:\n%q", size[0], size[1], r, i, v)
			}
		}
		if !strings.Contains(v, `\x1b[2J`) {
			t.Errorf("the escape is not shown escaped:\n%s", v)
		}
	}
	if txt := Text(s, now); strings.ContainsAny(txt, "\x1b\r\u202e\u009b") {
		t.Errorf("Text holds control characters:\n%q", txt)
	}
}

// TestStateIsBoundedByTheQueue: proposals that were decided are
// forgotten, so a dashboard left open holds no more than the queue.
func TestStateIsBoundedByTheQueue(t *testing.T) {
	b := &fakeBackend{snap: fixture()}
	m, _ := newModel(t, b, 80, 24)
	for i := range 1000 {
		s := fixture()
		s.Proposals = []Proposal{{ID: fmt.Sprintf("p-%d", i), Bottle: "dev-a1b2c", Tool: "egress-block", CreatedAt: now}}
		run(t, m, snapshotMsg(s))
	}
	if len(m.seen) != 1 || len(m.fresh) != 1 || m.Bells() != 1000 {
		t.Errorf("after 1000 proposals came and went: %d seen, %d fresh, %d bells; want 1, 1, 1000", len(m.seen), len(m.fresh), m.Bells())
	}
}
