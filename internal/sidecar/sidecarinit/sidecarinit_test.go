package sidecarinit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
)

// binary builds sidecar-init once per test run.
func binary(t *testing.T) string {
	t.Helper()
	return testutil.BuildCommand(t, "github.com/bot-bottle/bot-bottle/cmd/sidecar-init")
}

// scripts are the test daemons, shell scripts run as real processes. Each
// sets its traps before it says it is up: the tests signal it as soon as
// they read that line.
var scripts = map[string]string{
	"egress": `trap 'echo "got hup"' HUP
trap 'echo "egress stopping"; exit 0' TERM
echo "egress up $$"
while :; do sleep 0.05; done`,
	"worker": `trap 'exit 7' TERM
echo "worker up"
while :; do sleep 0.05; done`,
	"stubborn": `trap '' TERM
echo "stubborn up"
while :; do sleep 0.05; done`,
	"crasher": `echo "crashing"; exit 3`,
	"flaky": `if [ -e "$STATE/flaky.ran" ]; then trap 'exit 0' TERM; echo "flaky stable"; while :; do sleep 0.05; done; fi
touch "$STATE/flaky.ran"; echo "flaky dies"; exit 4`,
	"orphaner": `trap 'exit 0' TERM
i=0; while [ $i -lt 5 ]; do sh -c 'sleep 1 & exit 0'; i=$((i+1)); done
echo "orphans made"
while :; do sleep 0.05; done`,
}

type proc struct {
	cmd   *exec.Cmd
	out   *testutil.SyncBuffer
	errs  *testutil.SyncBuffer
	done  chan struct{}
	code  int
	state string
	dir   string // the daemons' bin dir
}

func start(t *testing.T, args ...string) *proc {
	t.Helper()
	bin := binary(t)
	dir := t.TempDir()
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	state := t.TempDir()
	p := &proc{out: &testutil.SyncBuffer{}, errs: &testutil.SyncBuffer{}, done: make(chan struct{}), state: state, dir: dir}
	p.cmd = exec.Command(bin, append([]string{"--bin-dir", dir, "--grace", "500ms", "--backoff", "50ms"}, args...)...)
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "STATE=" + state}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.errs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		err := p.cmd.Wait()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			p.code = ee.ExitCode()
		}
		close(p.done)
	}()
	t.Cleanup(func() { p.cleanup(t) })
	return p
}

// cleanup shuts sidecar-init down the way docker stop does (SIGTERM, then
// SIGKILL after a while) and fails the test if any daemon outlived it:
// a leaked daemon is a shutdown bug, and would loop here for good.
func (p *proc) cleanup(t *testing.T) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Errorf("sidecar-init did not exit within 10s of SIGTERM:\n%s", p.errs.String())
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	if left := processesRunning(p.dir); len(left) > 0 {
		for _, pid := range left {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		t.Errorf("daemons outlived sidecar-init's shutdown (pids %v, now killed); log:\n%s", left, p.errs.String())
	}
}

// processesRunning lists the processes whose command line names a file
// in dir (our test daemons are "/bin/sh DIR/NAME").
func processesRunning(dir string) []int {
	var pids []int
	for pid, cmdline := range procFiles("cmdline") {
		for _, arg := range bytes.Split(cmdline, []byte{0}) {
			if filepath.Dir(string(arg)) == dir {
				pids = append(pids, pid)
				break
			}
		}
	}
	return pids
}

// procFiles reads /proc/PID/name for every process that still has one.
func procFiles(name string) map[int][]byte {
	files := map[int][]byte{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if data, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, name)); err == nil {
			files[pid] = data
		}
	}
	return files
}

func (p *proc) waitOut(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in output:\n%s\nlog:\n%s", want, p.out.String(), p.errs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (p *proc) stop(t *testing.T, sig syscall.Signal) int {
	t.Helper()
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("sidecar-init did not exit after %v:\n%s", sig, p.errs.String())
	}
	return p.code
}

func TestOutputPrefixedAndCleanShutdownExitsZero(t *testing.T) {
	p := start(t, "egress")
	p.waitOut(t, "[egress] egress up")
	if code := p.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d after a clean shutdown, want 0", code)
	}
	if !strings.Contains(p.out.String(), "[egress] egress stopping") {
		t.Errorf("SIGTERM was not forwarded:\n%s", p.out.String())
	}
}

func TestSIGINTAlsoShutsDown(t *testing.T) {
	p := start(t, "egress")
	p.waitOut(t, "egress up")
	if code := p.stop(t, syscall.SIGINT); code != 0 {
		t.Errorf("exit %d", code)
	}
}

func TestSIGHUPIsForwardedToEgress(t *testing.T) {
	p := start(t, "egress", "worker")
	p.waitOut(t, "egress up")
	p.waitOut(t, "worker up")
	_ = p.cmd.Process.Signal(syscall.SIGHUP)
	p.waitOut(t, "[egress] got hup")
	if strings.Contains(p.out.String(), "stopping") {
		t.Error("SIGHUP stopped egress")
	}
}

func TestWorstPositiveExitCodeWins(t *testing.T) {
	p := start(t, "egress", "worker")
	p.waitOut(t, "worker up")
	if code := p.stop(t, syscall.SIGTERM); code != 7 {
		t.Errorf("exit %d, want 7 (worker exits 7 on TERM)", code)
	}
}

func TestGraceThenKill(t *testing.T) {
	p := start(t, "stubborn")
	p.waitOut(t, "stubborn up")
	start := time.Now()
	if code := p.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d; a daemon killed by our SIGKILL is a signal-only shutdown", code)
	}
	if time.Since(start) < 400*time.Millisecond {
		t.Error("the stubborn daemon was killed before its grace period")
	}
	if !strings.Contains(p.errs.String(), "grace period over") {
		t.Errorf("log does not say it killed after the grace period:\n%s", p.errs.String())
	}
}

func TestSIGUSR1RestartsEgressAndCoalesces(t *testing.T) {
	p := start(t, "egress", "worker")
	p.waitOut(t, "egress up")
	for range 5 {
		_ = p.cmd.Process.Signal(syscall.SIGUSR1)
	}
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(p.out.String(), "egress up") < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	n := strings.Count(p.out.String(), "egress up")
	if n < 2 || n > 3 {
		t.Errorf("egress started %d times after 5 quick SIGUSR1s, want one restart (coalesced)", n)
	}
	if strings.Count(p.out.String(), "worker up") != 1 {
		t.Error("SIGUSR1 restarted another daemon")
	}
	if code := p.stop(t, syscall.SIGTERM); code != 7 {
		t.Errorf("exit %d", code)
	}
}

func TestCrashedDaemonIsRestartedAndItsCodeRemembered(t *testing.T) {
	p := start(t, "flaky")
	p.waitOut(t, "[flaky] flaky dies")
	p.waitOut(t, "[flaky] flaky stable")
	if code := p.stop(t, syscall.SIGTERM); code != 4 {
		t.Errorf("exit %d, want 4: a crash before shutdown stays visible", code)
	}
}

func TestGivesUpOnADaemonThatKeepsDying(t *testing.T) {
	p := start(t, "crasher", "egress")
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatal("sidecar-init kept restarting a daemon that dies at once")
	}
	if p.code != 3 || !strings.Contains(p.errs.String(), "giving up") {
		t.Errorf("exit %d, log:\n%s", p.code, p.errs.String())
	}
}

func TestOrphansAreAdoptedAndReaped(t *testing.T) {
	p := start(t, "orphaner")
	p.waitOut(t, "orphans made")
	children := func() (sleeping, zombies int) {
		for _, data := range procFiles("stat") {
			// pid (comm) state ppid ...
			i := strings.LastIndexByte(string(data), ')')
			f := strings.Fields(string(data[i+1:]))
			if len(f) < 2 || f[1] != strconv.Itoa(p.cmd.Process.Pid) {
				continue
			}
			switch {
			case f[0] == "Z":
				zombies++
			case strings.Contains(string(data[:i]), "(sleep"):
				sleeping++
			}
		}
		return
	}
	// The orphans' parents exited at once: sidecar-init adopted them.
	if sleeping, _ := children(); sleeping == 0 {
		t.Fatal("no orphan was adopted by sidecar-init (child subreaper)")
	}
	time.Sleep(1500 * time.Millisecond) // their sleeps end
	if sleeping, zombies := children(); zombies != 0 || sleeping != 0 {
		t.Errorf("after the orphans exited: %d zombies, %d still sleeping; want them reaped", zombies, sleeping)
	}
}

func TestBadConfiguration(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  string
		want string
	}{
		{"no daemons", nil, "", "no daemons to run"},
		{"unknown daemon", []string{"nope"}, "", `daemon "nope": no executable`},
		{"bad name", []string{"../x"}, "", "daemon name"},
		{"from the environment", nil, "BOT_BOTTLE_SIDECAR_DAEMONS=egress,,nope", `daemon "nope"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(binary(t), append([]string{"--bin-dir", t.TempDir()}, tc.args...)...)
			cmd.Env = []string{tc.env}
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(out), tc.want) {
				t.Errorf("exit %v, output %q; want 2 and %q", err, out, tc.want)
			}
		})
	}
}
