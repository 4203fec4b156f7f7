package cli

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/host/docker"
	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
)

// auditHome is the fixture home with testdata/audit/audit.jsonl as
// dev-a1b2c's audit file.
func auditHome(t *testing.T) (home, auditFile string) {
	t.Helper()
	home = fixtureHome(t)
	data, err := os.ReadFile(filepath.Join("testdata", "audit", "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	auditFile = testutil.BottleDir(t, home, "dev-a1b2c").AuditFile()
	if err := os.WriteFile(auditFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return home, auditFile
}

// TestLogsAuditGolden pretty-prints the audit fixture: records in the
// operator's time zone (UTC+2 here), a long reason shortened, a hostile
// record's host, path and reason escaped, and malformed lines shown as
// such with their line numbers.
func TestLogsAuditGolden(t *testing.T) {
	home, _ := auditHome(t)
	r := runOps(t, t.Context(), "/", home, fixtureDeps(&fakeEngine{}), "logs", "dev-a1b2c", "--audit")
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	checkNoControl(t, r.stdout)
	golden(t, "logs-audit.txt", r.stdout)
}

func TestLogsAuditTailAndEmpty(t *testing.T) {
	home, auditFile := auditHome(t)
	deps := fixtureDeps(&fakeEngine{})
	r := runOps(t, t.Context(), "/", home, deps, "logs", "dev-a1b2c", "--audit", "--tail", "2")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 3 || lines[0] != auditHeader || !strings.Contains(lines[1], "upstream.example.test") || lines[2] != "(unreadable line 11)" {
		t.Fatalf("--tail 2: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, content := range []string{"", "\n\n"} {
		if err := os.WriteFile(auditFile, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if r := runOps(t, t.Context(), "/", home, deps, "logs", "dev-a1b2c", "--audit"); r.code != 0 || r.stdout != "no audit records yet\n" {
			t.Fatalf("audit file %q: exit %d\n%s%s", content, r.code, r.stdout, r.stderr)
		}
	}
	if err := os.Remove(auditFile); err != nil {
		t.Fatal(err)
	}
	if r := runOps(t, t.Context(), "/", home, deps, "logs", "dev-a1b2c", "--audit"); r.code != 0 || r.stdout != "no audit records yet\n" {
		t.Fatalf("no audit file: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A last line without its '\n' is shown when not following.
	if err := os.WriteFile(auditFile, []byte(`{"time":"2026-12-07T06:00:00Z","component":"egress","host":"h.test","decision":"allow"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runOps(t, t.Context(), "/", home, deps, "logs", "dev-a1b2c", "--audit"); r.code != 0 || !strings.Contains(r.stdout, "h.test") {
		t.Fatalf("a last line without newline: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// waitFor waits until out holds want, failing after a generous deadline.
func waitFor(t *testing.T, out *testutil.SyncBuffer, want string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(out.String(), want); {
		if time.Now().After(deadline) {
			t.Fatalf("output never held %q:\n%s", want, out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func record(host string) string {
	return `{"time":"2026-12-07T06:00:00Z","component":"egress","method":"GET","host":"` + host + `","path":"/","decision":"allow"}` + "\n"
}

// TestLogsAuditFollow follows an audit file that does not exist yet: it
// is created, grows (a record written in two halves is shown once,
// whole), is truncated, then replaced, and cancelling ends the command
// with exit 0.
func TestLogsAuditFollow(t *testing.T) {
	home, auditFile := auditHome(t)
	if err := os.Remove(auditFile); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out testutil.SyncBuffer
	env := Env{Getenv: func(string) string { return "" }, Getwd: func() (string, error) { return "/", nil },
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out}
	done := make(chan int, 1)
	go func() {
		done <- execute(ctx, newRootCmdWith(env, &proposalsDeps{}, fixtureDeps(&fakeEngine{})), []string{"--home", home, "logs", "dev-a1b2c", "--audit", "-f"}, env)
	}()
	waitFor(t, &out, "waiting for the first record")

	appendFile(t, auditFile, record("first.test"))
	waitFor(t, &out, "first.test")
	half := record("split.test")
	appendFile(t, auditFile, half[:40])
	time.Sleep(50 * time.Millisecond) // let the follower see the half line; correctness does not depend on it
	appendFile(t, auditFile, half[40:]+"{broken\n")
	waitFor(t, &out, "(unreadable line 3)")
	if got := out.String(); strings.Count(got, "split.test") != 1 || strings.Contains(got, "(unreadable line 2)") {
		t.Fatalf("the record written in two halves:\n%s", got)
	}

	if err := os.Truncate(auditFile, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, &out, "(audit file truncated; reading it from its start)")
	appendFile(t, auditFile, record("after-truncate.test"))
	waitFor(t, &out, "after-truncate.test")

	next := auditFile + ".new"
	if err := os.WriteFile(next, []byte(record("replaced.test")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(next, auditFile); err != nil {
		t.Fatal(err)
	}
	waitFor(t, &out, "replaced.test")
	if !strings.Contains(out.String(), "(audit file replaced; reading the new one from its start)") {
		t.Errorf("no note of the replacement:\n%s", out.String())
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d after Ctrl-C\n%s", code, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("logs -f did not stop when its context ended")
	}
	checkNoControl(t, out.String())
}

// TestLineSplitter feeds lines cut at every byte: each comes out once,
// whole, numbered, blank lines counted but not emitted; an overlong line
// is reported, not held.
func TestLineSplitter(t *testing.T) {
	text := "one\n\ntwo\nthree"
	for cut := range len(text) {
		var s lineSplitter
		var got []string
		emit := func(l auditLine) { got = append(got, string(rune('0'+l.n))+":"+string(l.text)) }
		s.feed([]byte(text[:cut]), emit)
		s.feed([]byte(text[cut:]), emit)
		if strings.Join(got, ",") != "1:one,3:two" {
			t.Fatalf("cut at %d: %v", cut, got)
		}
		s.flush(emit)
		if strings.Join(got, ",") != "1:one,3:two,4:three" {
			t.Fatalf("cut at %d, flushed: %v", cut, got)
		}
	}
	var s lineSplitter
	var got []auditLine
	s.feed([]byte(strings.Repeat("x", maxAuditLine+1)), func(l auditLine) { got = append(got, l) })
	if len(s.buf) != 0 {
		t.Fatalf("an overlong line is held: %d bytes", len(s.buf))
	}
	s.feed([]byte("x\nnext\n"), func(l auditLine) {
		got = append(got, auditLine{n: l.n, text: []byte(string(l.text)), tooLong: l.tooLong})
	})
	if len(got) != 2 || !got[0].tooLong || got[0].n != 1 || string(got[1].text) != "next" || got[0].format(time.UTC) != "(unreadable line 1: longer than 1048576 bytes)" {
		t.Fatalf("overlong line: %+v", got)
	}
}

// fakeCompose records the compose command logs runs and answers with
// output.
type fakeCompose struct {
	project, dir string
	sub          []string
	output       string
	err          error
	block        bool // until the context ends, like --follow
}

func (f *fakeCompose) run(ctx context.Context, c *docker.Compose, stdout, _ io.Writer, sub ...string) error {
	f.project, f.dir, f.sub = c.Project, string(c.Dir), sub
	if _, err := io.WriteString(stdout, f.output); err != nil {
		return err
	}
	if f.block {
		<-ctx.Done()
		return errors.New("signal: killed")
	}
	return f.err
}

func TestLogsContainers(t *testing.T) {
	home := fixtureHome(t)
	for _, tc := range []struct {
		name    string
		args    []string
		compose fakeCompose
		code    int
		sub     string // the compose subcommand, "" when none may run
		stdout  string
		stderr  string
	}{
		{"all services", []string{"dev-a1b2c"}, fakeCompose{output: "egress-1  | listening\n"}, 0, "logs --no-color", "egress-1  | listening\n", ""},
		{"one service, followed, from the tail", []string{"dev-a1b2c", "egress", "-f", "--tail", "5"}, fakeCompose{}, 0, "logs --no-color --follow --tail 5 egress", "", ""},
		{"output that would steer the terminal is escaped", []string{"dev-a1b2c", "agent"},
			fakeCompose{output: "agent-1  | \x1b]0;owned\x07\tcol\x1b[2J\r\nagent-1  | \u202elast"}, 0, "logs --no-color agent",
			"agent-1  | \\x1b]0;owned\\x07\tcol\\x1b[2J\nagent-1  | \\u202elast", ""},
		{"an unknown service lists the bottle's", []string{"dev-a1b2c", "nosuch"}, fakeCompose{}, 1, "", "",
			`bottle dev-a1b2c has no service "nosuch"; its services: agent, agent-net, egress, netguard`},
		{"an unknown slug lists the known ones", []string{"nope-zzzzz"}, fakeCompose{}, 1, "", "",
			"known bottles: rev-aaaaa, rev-bbbbb, dev-q7w8e, dev-a1b2c, evil-e1e1e"},
		{"compose fails", []string{"dev-a1b2c"}, fakeCompose{err: errors.New("docker compose logs: exit status 1")}, 1, "logs --no-color", "", "exit status 1"},
		{"--audit takes no service", []string{"dev-a1b2c", "egress", "--audit"}, fakeCompose{}, 2, "", "", "leave out SERVICE"},
		{"no slug", nil, fakeCompose{}, 2, "", "", "logs takes a bottle slug"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.compose
			deps := fixtureDeps(&fakeEngine{})
			deps.composeRun = f.run
			r := runOps(t, t.Context(), "/", home, deps, append([]string{"logs"}, tc.args...)...)
			if r.code != tc.code || r.stdout != tc.stdout || !strings.Contains(r.stderr, tc.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout %q\nwant   %q\nstderr:\n%s", r.code, tc.code, r.stdout, tc.stdout, r.stderr)
			}
			if got := strings.Join(f.sub, " "); got != tc.sub {
				t.Fatalf("compose %q, want %q", got, tc.sub)
			}
			if tc.sub != "" && (f.project != "bot-bottle-dev-a1b2c" || f.dir != "<home>/state/dev-a1b2c" && f.dir != filepath.Join(home, "state", "dev-a1b2c")) {
				t.Fatalf("compose of project %q in %q", f.project, f.dir)
			}
		})
	}
}

// TestLogsFollowEndsOnCancel: Ctrl-C ends logs -f, and that is exit 0.
func TestLogsFollowEndsOnCancel(t *testing.T) {
	home := fixtureHome(t)
	f := &fakeCompose{output: "agent-1  | hi\n", block: true}
	deps := fixtureDeps(&fakeEngine{})
	deps.composeRun = f.run
	ctx, cancel := context.WithCancel(t.Context())
	var out testutil.SyncBuffer
	env := Env{Getenv: func(string) string { return "" }, Getwd: func() (string, error) { return "/", nil },
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out}
	done := make(chan int, 1)
	go func() {
		done <- execute(ctx, newRootCmdWith(env, &proposalsDeps{}, deps), []string{"--home", home, "logs", "dev-a1b2c", "-f"}, env)
	}()
	waitFor(t, &out, "agent-1  | hi")
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d\n%s", code, out.String())
	}
}
