package cli

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
	"github.com/bot-bottle/bot-bottle/internal/shared/queue"
)

// guard is how long a test waits for the binary before calling it hung:
// a bound on a failure, never a measure of speed.
const guard = 2 * time.Minute

// startBin starts the real bot-bottle binary with args and returns a
// function that waits for it, failing the test (and killing it) if it has
// not exited within guard.
func startBin(t *testing.T, env []string, args ...string) (*exec.Cmd, *testutil.SyncBuffer, *testutil.SyncBuffer, func() int) {
	t.Helper()
	bin := testutil.BuildCommand(t, "github.com/bot-bottle/bot-bottle/cmd/bot-bottle")
	cmd := exec.Command(bin, args...)
	var stdout, stderr testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr, cmd.Env = &stdout, &stderr, append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, &stdout, &stderr, func() int {
		t.Helper()
		select {
		case err := <-exited:
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return ee.ExitCode()
			}
			if err != nil {
				t.Fatal(err)
			}
			return 0
		case <-time.After(guard):
			_ = cmd.Process.Kill()
			t.Fatalf("bot-bottle %s hung (killed after %s)\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), guard, stdout.String(), stderr.String())
			return -1
		}
	}
}

// Host-attacks finding 7, through the real binary: whoever can write the
// queue directory plants a named pipe, a link to /dev/zero and an
// oversized file as proposals. list still answers, lists the good
// proposal and names each bad file; show of a proposal whose bottle's
// routes file is a named pipe answers too.
func TestProposalsCommandsSurviveSpecialFilesInTheQueue(t *testing.T) {
	home, id := queuedHome(t, `{"host":"api.example.test"}`)
	qdir := testutil.BottleDir(t, home, "dev").QueueDir()
	if err := syscall.Mkfifo(filepath.Join(qdir, "fifo.proposal.json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(qdir, "zero.proposal.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(qdir, "huge.proposal.json"), make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stdout, stderr, wait := startBin(t, nil, "--home", home, "proposals", "list")
	if code := wait(); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), id) {
		t.Errorf("the good proposal is not listed:\n%s", stdout.String())
	}
	for _, want := range []string{"fifo.proposal.json is a named pipe", "zero.proposal.json is a symbolic link", "huge.proposal.json is 1048576 bytes"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}

	routes := testutil.BottleDir(t, home, "dev").RoutesFile()
	if err := os.Remove(routes); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(routes, 0o600); err != nil {
		t.Fatal(err)
	}
	_, stdout, _, wait = startBin(t, nil, "--home", home, "proposals", "show", id)
	if code := wait(); code != 0 || !strings.Contains(stdout.String(), "approving it now would fail: read routes file: "+routes+" is a named pipe, not a regular file (remove it)") {
		t.Errorf("show exit %d:\n%s", code, stdout.String())
	}
}

// Host-attacks finding 7's second half: bot-bottle catches SIGTERM and
// Ctrl-C to cancel its context, so a proposals command that did not watch
// it could only be stopped with SIGKILL. proposals edit waits on the
// operator's editor; SIGTERM to bot-bottle ends the editor and the
// command, and the proposal stays pending.
func TestProposalsEditHonoursSIGTERM(t *testing.T) {
	home, id := queuedHome(t, `{"host":"api.example.test"}`)
	dir := t.TempDir()
	mark := filepath.Join(dir, "editing")
	editor := filepath.Join(dir, "editor")
	if err := os.WriteFile(editor, []byte("#!/bin/sh\ntouch "+mark+"\nexec sleep 600\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	cmd, _, stderr, wait := startBin(t, []string{"EDITOR=" + editor}, "--home", home, "proposals", "edit", id)
	for deadline := time.Now().Add(guard); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(mark); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the editor never started:\n%s", stderr.String())
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := wait(); code == 0 {
		t.Errorf("exit 0 after SIGTERM\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "interrupted while editing") || !strings.Contains(stderr.String(), "the proposal stays pending") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
	e, err := queue.Queue{Dir: testutil.BottleDir(t, home, "dev").QueueDir()}.Get(id)
	if err != nil || e.Response != nil {
		t.Errorf("proposal after the interrupted edit: %+v, %v; want it pending", e, err)
	}
}
