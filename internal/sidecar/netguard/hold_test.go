package netguard

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
)

// sigIgn reads the SigIgn mask of pid from /proc.
func sigIgn(t *testing.T, pid int) uint64 {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "SigIgn:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no SigIgn in /proc/%d/status", pid)
	return 0
}

// TestHoldOutlivesEverySignalButTerm runs 'netguard hold' without any
// capability: it ignores every signal that would end it by default, so
// none of them stops it, and SIGTERM (docker stop) ends it with 0.
func TestHoldOutlivesEverySignalButTerm(t *testing.T) {
	bin := testutil.BuildCommand(t, "github.com/bot-bottle/bot-bottle/cmd/netguard")
	cmd := exec.Command(bin, "hold")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	// signal.Ignore sets them all at once; the kernel's mask shows those
	// it drops itself (SIGPROF and SIGSTKFLT stay with Go's handler, which
	// then ignores them).
	const hup = 1 << (syscall.SIGHUP - 1)
	waitFor(t, "hold to ignore its signals", func() bool { return sigIgn(t, cmd.Process.Pid)&hup != 0 })
	if got := sigIgn(t, cmd.Process.Pid); got&(1<<(syscall.SIGTERM-1)|1<<(syscall.SIGINT-1)) != 0 {
		t.Fatalf("hold ignores SIGTERM or SIGINT (SigIgn %x): docker stop could not end it", got)
	}
	for _, s := range holdIgnored {
		if err := cmd.Process.Signal(s); err != nil {
			t.Fatalf("signal %v: %v", s, err)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("hold ended with %v after the ignored signals and SIGTERM; want exit 0 from SIGTERM", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("hold did not exit on SIGTERM")
	}
}
