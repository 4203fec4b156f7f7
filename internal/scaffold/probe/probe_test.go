package probe

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
)

type result struct {
	code           int
	stdout, stderr string
}

// run drives probe.Run as main does, with the given environment and stdin.
func run(t *testing.T, environ []string, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := Run(t.Context(), args, environ, strings.NewReader(stdin), &out, &errb)
	return result{code, out.String(), errb.String()}
}

// runCase is one run of a subcommand and what its result must hold.
type runCase struct {
	name    string
	environ []string
	stdin   string
	args    []string // after the subcommand
	code    int
	stdout  string // substring
	stderr  string // substring
}

// runCases runs each case as "probe SUB ARGS..." and checks its exit code
// and output.
func runCases(t *testing.T, sub string, cases []runCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, tt.environ, tt.stdin, append([]string{sub}, tt.args...)...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tt.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, tt.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.stdout, r.stdout)
			}
			if !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, r.stderr)
			}
		})
	}
}

func TestTopLevelUsage(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string
		stderr   string
		noStdout bool
	}{
		{name: "no arguments", args: nil, code: ExitUsage, stderr: "usage: probe SUBCOMMAND", noStdout: true},
		{name: "help", args: []string{"--help"}, code: ExitOK, stdout: "exit codes (every subcommand)"},
		{name: "help word", args: []string{"help"}, code: ExitOK, stdout: "secrets"},
		{name: "help for a subcommand", args: []string{"help", "tcp"}, code: ExitOK, stdout: "usage: probe tcp HOST:PORT"},
		{name: "unknown subcommand", args: []string{"ping"}, code: ExitUsage, stderr: `unknown subcommand "ping"`, noStdout: true},
		{name: "subcommand help goes to stdout", args: []string{"http", "--help"}, code: ExitOK, stdout: "ProxyFromEnvironment"},
		{name: "unknown flag", args: []string{"tcp", "--nope", "x:1"}, code: ExitUsage, stderr: "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, nil, "", tt.args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, tt.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, tt.stdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.stdout, r.stdout)
			}
			if !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.stderr, r.stderr)
			}
			if tt.noStdout && r.stdout != "" {
				t.Errorf("stdout not empty: %s", r.stdout)
			}
		})
	}
}

func TestEverySubcommandHelpDocumentsExitCodes(t *testing.T) {
	for _, c := range subcommands {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, nil, "", c.name, "--help")
			if r.code != ExitOK || !strings.Contains(r.stdout, "exit codes:") || !strings.Contains(r.stdout, "usage: probe "+c.name) {
				t.Errorf("exit %d, help:\n%s", r.code, r.stdout)
			}
		})
	}
}

func TestParseArgsInterspersed(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		pos     []string
		timeout time.Duration
	}{
		{"flag after positional", []string{"a:1", "--timeout", "1s"}, []string{"a:1"}, time.Second},
		{"flag before positional", []string{"-timeout=2s", "a:1"}, []string{"a:1"}, 2 * time.Second},
		{"double dash ends flags", []string{"--", "--timeout"}, []string{"--timeout"}, 3 * time.Second},
		{"several positionals", []string{"a", "--timeout", "4s", "b"}, []string{"a", "b"}, 4 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := &env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}}
			fs := newFlags(e, "x", "")
			timeout := fs.Duration("timeout", 3*time.Second, "")
			pos, _, ok := parseArgs(e, fs, tt.args)
			if !ok || strings.Join(pos, "|") != strings.Join(tt.pos, "|") || *timeout != tt.timeout {
				t.Errorf("got ok=%v pos=%q timeout=%v, want pos=%q timeout=%v", ok, pos, *timeout, tt.pos, tt.timeout)
			}
		})
	}
}

// binary builds cmd/probe once per test run.
func binary(t *testing.T) string {
	t.Helper()
	return testutil.BuildCommand(t, "github.com/bot-bottle/bot-bottle/cmd/probe")
}

func TestIdle(t *testing.T) {
	t.Run("returns 0 when the context ends", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan int)
		go func() {
			var out, errb bytes.Buffer
			done <- Run(ctx, []string{"idle"}, nil, nil, &out, &errb)
		}()
		select {
		case code := <-done:
			t.Fatalf("idle returned %d before the context ended", code)
		case <-time.After(100 * time.Millisecond):
		}
		cancel()
		if code := <-done; code != ExitOK {
			t.Errorf("exit %d, want 0", code)
		}
	})
	t.Run("rejects arguments", func(t *testing.T) {
		if r := run(t, nil, "", "idle", "now"); r.code != ExitUsage {
			t.Errorf("exit %d, want %d", r.code, ExitUsage)
		}
	})
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run("the binary exits 0 on "+sig.String(), func(t *testing.T) {
			cmd := exec.Command(binary(t), "idle")
			errb := &testutil.SyncBuffer{}
			cmd.Stderr = errb
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for !strings.Contains(errb.String(), "waiting") && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			start := time.Now()
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("exit: %v\n%s", err, errb.String())
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %v to stop", d)
			}
		})
	}
}
