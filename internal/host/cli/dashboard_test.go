package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/host/bottle"
	"github.com/bot-bottle/bot-bottle/internal/host/dashboard"
	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
	"github.com/bot-bottle/bot-bottle/internal/shared/queue"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// dashboardHome is the list fixture home with two pending proposals for
// dev-a1b2c (one decided one that must not show), a hostile one forged
// into its queue, and egress audit records: three in the last minute
// (one denied) and one older.
func dashboardHome(t *testing.T) string {
	t.Helper()
	home := fixtureHome(t)
	dev := testutil.BottleDir(t, home, "dev-a1b2c")
	if err := os.MkdirAll(filepath.Dir(dev.RoutesFile()), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dev.RoutesFile(), []byte("version: 1\nroutes:\n- host: api.example.test\n  path_allowlist: [/v1/]\n  methods: [GET]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	q := queue.Queue{Dir: dev.QueueDir()}
	for i, p := range []struct {
		id, tool, payload string
	}{
		{"p-1", string(contract.ToolEgressBlock), `{"host":"api.example.test","path_prefixes":["/v2/"],"methods":["GET"]}`},
		{"p-2", string(contract.ToolCapabilityBlock), `{"apt_packages":["jq"]}`},
		{"p-3", string(contract.ToolEgressBlock), `{"host":"decided.example.test"}`},
	} {
		err := q.Put(&contract.Proposal{Version: contract.Version, ID: p.id, Bottle: "dev-a1b2c", Tool: contract.Tool(p.tool),
			Payload: json.RawMessage(p.payload), Justification: "reason " + p.id, CreatedAt: fixtureNow.Add(time.Duration(i-10) * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Respond(&contract.Response{Version: contract.Version, ID: "p-3", Status: contract.StatusRejected, Notes: "no", DecidedAt: fixtureNow}); err != nil {
		t.Fatal(err)
	}
	data := `{"version":1,"id":"p-evil","bottle":"dev-a1b2c","tool":"egress-block","payload":{"host":"evil.example.test"},` +
		`"justification":` + forgedString(hostileText) + `,"created_at":"2026-12-07T05:59:00Z"}`
	if err := os.WriteFile(filepath.Join(dev.QueueDir(), contract.ProposalFileName("p-evil")), []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	var audit bytes.Buffer
	for _, r := range []contract.AuditRecord{
		{Time: fixtureNow.Add(-5 * time.Minute), Component: contract.ComponentEgress, Method: "GET", Host: "api.example.test", Path: "/old", Decision: contract.DecisionAllow},
		{Time: fixtureNow.Add(-50 * time.Second), Component: contract.ComponentEgress, Method: "GET", Host: "api.example.test", Path: "/v1/a", Decision: contract.DecisionAllow},
		{Time: fixtureNow.Add(-20 * time.Second), Component: contract.ComponentEgress, Method: "POST", Host: "evil.example.test", Path: "/", Decision: contract.DecisionDeny, Rule: "no-route"},
		{Time: fixtureNow.Add(-10 * time.Second), Component: contract.ComponentEgress, Method: "GET", Host: "api.example.test", Path: "/v1/b", Decision: contract.DecisionAllow},
		{Time: fixtureNow.Add(-5 * time.Second), Component: contract.ComponentGitGate, Host: "gitgate", Decision: contract.DecisionAllow},
	} {
		line, err := r.MarshalLine()
		if err != nil {
			t.Fatal(err)
		}
		audit.Write(line)
	}
	if err := os.WriteFile(dev.AuditFile(), audit.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return home
}

// TestDashboardSnapshot prints the dashboard without a terminal: text and
// JSON, hostile text escaped, decided proposals left out, egress counted
// over the last minute only.
func TestDashboardSnapshot(t *testing.T) {
	home := dashboardHome(t)
	r := runOps(t, t.Context(), home, home, fixtureDeps(loadFakeEngine(t)), "dashboard")
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	checkNoControl(t, r.stdout)
	golden(t, "dashboard.txt", r.stdout)

	r = runOps(t, t.Context(), home, home, fixtureDeps(loadFakeEngine(t)), "dashboard", "--json")
	var s dashboard.Snapshot
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, r.stdout)
	}
	var ids []string
	for _, p := range s.Proposals {
		ids = append(ids, p.ID)
	}
	// p-3 is decided; p-evil fails the queue's validation and is a
	// problem, quoted escaped, not a proposal to decide.
	if got := strings.Join(ids, " "); got != "p-1 p-2" {
		t.Errorf("pending proposals %q, want p-1 p-2 (oldest first)", got)
	}
	if len(s.Problems) == 0 || !strings.Contains(s.Problems[0], "p-evil") {
		t.Errorf("the forged proposal is not reported: %q", s.Problems)
	}
	for _, b := range s.Bottles {
		if b.Slug == "dev-a1b2c" && (b.Requests != 3 || b.Denials != 1 || b.Pending != 2 || b.Provider != "custom") {
			t.Errorf("dev-a1b2c: %d requests, %d denials, %d pending, provider %q; want 3, 1, 2, custom", b.Requests, b.Denials, b.Pending, b.Provider)
		}
	}
}

// TestDashboardDetailSaysWhatApprovingChanges previews the egress-block
// through the proposals operator: the routes diff.
func TestDashboardDetailSaysWhatApprovingChanges(t *testing.T) {
	home := dashboardHome(t)
	b := testBackend(t, home)
	d, err := b.Detail("p-1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(d.Diff, "/v2/") {
		t.Errorf("detail diff lacks the new path:\n%s", d.Diff)
	}
	if _, err := b.Detail("p-nope"); err == nil {
		t.Error("a vanished proposal has a detail")
	}
	got, err := b.Reject("p-1", "not now")
	if err != nil || got != "proposal p-1 rejected" {
		t.Fatalf("reject: %q, %v", got, err)
	}
	if _, err := b.Reject("p-1", "again"); err == nil {
		t.Error("a decided proposal was rejected again")
	}
	lines, err := b.Tail("dev-a1b2c", 2)
	if err != nil || len(lines) != 2 || !strings.Contains(lines[0], "gitgate") || !strings.Contains(lines[1], "p-1 rejected by the operator") {
		t.Errorf("tail: %q, %v", lines, err)
	}
}

func testBackend(t *testing.T, home string) *dashBackend {
	t.Helper()
	env := Env{Getenv: func(string) string { return "" }, Getwd: func() (string, error) { return home, nil },
		Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
	return &dashBackend{env: env, g: &globals{home: home}, home: home, pdeps: &proposalsDeps{}, odeps: fixtureDeps(loadFakeEngine(t))}
}

// panicky panics reading its snapshot.
type panicky struct{ dashboard.Backend }

func (panicky) Snapshot(context.Context) dashboard.Snapshot { panic("boom in the backend") }

// TestDashboardCrashRestoresAndLogs runs the TUI with a backend that
// panics: the program ends, the stack is in the crash log, and the error
// names the log.
func TestDashboardCrashRestoresAndLogs(t *testing.T) {
	home := dashboardHome(t)
	crashPath := filepath.Join(home, "logs", "dashboard-crash.log")
	in, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var out bytes.Buffer
	env := Env{Getenv: func(string) string { return "" }}
	err = runDashboardTUI(t.Context(), env, panicky{testBackend(t, home)}, crashPath, in, &out)
	if err == nil || !strings.Contains(err.Error(), crashPath) {
		t.Fatalf("error %v does not name the crash log", err)
	}
	data, rerr := os.ReadFile(crashPath)
	if rerr != nil {
		t.Fatal(rerr)
	}
	if !strings.Contains(string(data), "boom in the backend") || !strings.Contains(string(data), "goroutine") {
		t.Errorf("crash log lacks the panic and its stack:\n%s", data)
	}
}

// TestDashboardCommandsAreTheCLIs checks that the terminal actions run
// this binary's own commands on the same home.
func TestDashboardCommandsAreTheCLIs(t *testing.T) {
	b := testBackend(t, "/h")
	for _, tc := range []struct {
		cmd  *exec.Cmd
		want string
	}{
		{b.ApproveCommand("p-1", "ok"), "--home /h proposals approve p-1 --note ok"},
		{b.EditCommand("p-1"), "--home /h proposals edit p-1"},
		{b.AttachCommand("dev-a1b2c"), "--home /h resume dev-a1b2c"},
		{b.UpCommand("dev"), "--home /h up dev --yes"},
	} {
		if got := strings.Join(tc.cmd.Args[1:], " "); got != tc.want {
			t.Errorf("args %q, want %q", got, tc.want)
		}
	}
}

// TestDashboardNewBottlePreflight is what n shows: the agents, and up
// --dry-run's summary without the slug the real start will not use; a
// broken manifest is an error to show, not a crash.
func TestDashboardNewBottlePreflight(t *testing.T) {
	home := t.TempDir()
	for name, text := range map[string]string{
		"bottles/base.md":   "---\nagent_provider: {template: custom, image: \"bot-bottle/agent-test:local\", command: [sh]}\n---\n",
		"agents/builder.md": "---\nbottle: base\n---\nBuild it.\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(home, name)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(home, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b := testBackend(t, home)
	agents, err := b.Agents()
	if err != nil || strings.Join(agents, " ") != "builder" {
		t.Fatalf("agents %q, %v; want builder", agents, err)
	}
	text, err := b.Preflight("builder")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "builder") || strings.Contains(text, "dry run") || strings.Contains(text, "state:") {
		t.Errorf("preflight:\n%s", text)
	}
	if _, err := b.Preflight("nobody"); err == nil {
		t.Error("an unknown agent has a preflight")
	}
	broken := t.TempDir()
	for _, d := range []string{"agents", "bottles"} {
		if err := os.MkdirAll(filepath.Join(broken, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(broken, "agents", "x.md"), []byte("---\nbottle: [\n---\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := testBackend(t, broken).Agents(); err == nil || !strings.Contains(err.Error(), "bot-bottle validate") {
		t.Errorf("a broken manifest: %v", err)
	}
	if s := testBackend(t, broken).Snapshot(t.Context()); len(s.Problems) == 0 {
		t.Error("a broken manifest is not a problem line in the snapshot")
	}
}

// BenchmarkDashboardSnapshot reads a home of 20 bottles holding 500
// pending proposals and a busy audit file each: what one refresh costs.
func BenchmarkDashboardSnapshot(b *testing.B) {
	home := b.TempDir()
	for i := range 20 {
		slug := fmt.Sprintf("dev-%05d", i)
		d := writeBottle(b, home, fixtureBottle{slug, "dev", time.Duration(i) * time.Minute, bottle.StateRunning})
		q := queue.Queue{Dir: d.QueueDir()}
		for j := range 25 {
			err := q.Put(&contract.Proposal{Version: contract.Version, ID: fmt.Sprintf("p-%d-%d", i, j), Bottle: slug, Tool: contract.ToolEgressBlock,
				Payload: json.RawMessage(`{"host":"api.example.test","path_prefixes":["/v1/"]}`), Justification: "needed for the task",
				CreatedAt: fixtureNow.Add(-time.Duration(j) * time.Minute)})
			if err != nil {
				b.Fatal(err)
			}
		}
		var audit bytes.Buffer
		for k := range 2000 {
			line, _ := (&contract.AuditRecord{Time: fixtureNow.Add(-time.Duration(k) * 100 * time.Millisecond), Component: contract.ComponentEgress,
				Method: "GET", Host: "api.example.test", Path: "/v1/x", Decision: contract.DecisionAllow}).MarshalLine()
			audit.Write(line)
		}
		if err := os.WriteFile(d.AuditFile(), audit.Bytes(), 0o600); err != nil {
			b.Fatal(err)
		}
	}
	env := Env{Getenv: func(string) string { return "" }, Getwd: func() (string, error) { return home, nil },
		Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}
	be := &dashBackend{env: env, g: &globals{home: home}, home: home, pdeps: &proposalsDeps{},
		odeps: &opsDeps{engine: &fakeEngine{}, now: func() time.Time { return fixtureNow }}}
	if s := be.Snapshot(b.Context()); len(s.Proposals) != 500 || len(s.Bottles) != 20 {
		b.Fatalf("%d proposals, %d bottles; want 500, 20 (problems: %q)", len(s.Proposals), len(s.Bottles), s.Problems)
	}
	b.ResetTimer()
	for b.Loop() {
		be.Snapshot(b.Context())
	}
}

// TestAuditLinesBack reads lines back across chunk boundaries, leaves out
// a line still being written, stops when told, and neither follows a
// symbolic link nor blocks on a named pipe in place of the audit file.
func TestAuditLinesBack(t *testing.T) {
	dir := t.TempDir()
	var want []string
	var data strings.Builder
	for i := range 40 {
		line := fmt.Sprintf("%d:%s", i, strings.Repeat("x", i*997%(3*auditChunk)))
		want = append(want, line)
		data.WriteString(line + "\n")
	}
	data.WriteString("partial, no newline yet")
	path := filepath.Join(dir, "audit.jsonl")
	if err := os.WriteFile(path, []byte(data.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	var got []string
	auditLinesBack(path, func(l []byte) bool { got = append(got, string(l)); return true })
	// auditTailBytes bounds what is read: the lines are the file's last.
	if len(got) == 0 || len(got) > len(want) {
		t.Fatalf("%d lines back, want 1..%d", len(got), len(want))
	}
	for i, l := range got {
		if w := want[len(want)-1-i]; l != w {
			t.Fatalf("line %d back = %.20q…, want %.20q…", i, l, w)
		}
	}
	got = nil
	auditLinesBack(path, func(l []byte) bool { got = append(got, string(l)); return len(got) < 3 })
	if len(got) != 3 {
		t.Errorf("asked to stop after 3, read %d", len(got))
	}

	small := filepath.Join(dir, "small")
	if err := os.WriteFile(small, []byte("a\nb\nc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got = nil
	auditLinesBack(small, func(l []byte) bool { got = append(got, string(l)); return true })
	if strings.Join(got, ",") != "c,b,a" {
		t.Errorf("small file back: %q", got)
	}

	link := filepath.Join(dir, "link")
	if err := os.Symlink(small, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{link, fifo} {
		called := false
		auditLinesBack(p, func([]byte) bool { called = true; return true })
		if called {
			t.Errorf("%s was read", filepath.Base(p))
		}
	}
}
