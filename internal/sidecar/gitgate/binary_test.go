package gitgate

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// child is the real gitgate binary running as a child process.
type child struct {
	cmd        *exec.Cmd
	url, admin string
	stderr     *testutil.SyncBuffer
	stdout     *testutil.SyncBuffer
	data       string
	exitRusage *syscall.Rusage
	// inherited is the test process's VmHWM (KiB) just after it started
	// the gate: Go starts a child with vfork, sharing the test's memory
	// until exec, and Linux carries that memory's high-water mark into the
	// child's maxrss at exec. A maxrss up to it may be the test's, not the
	// gate's.
	inherited int64
	stopOnce  sync.Once
	stopErr   error
}

// binary builds cmd/gitgate once per test run.
func binary(t testing.TB) string {
	t.Helper()
	return testutil.BuildCommand(t, "github.com/bot-bottle/bot-bottle/cmd/gitgate")
}

// startDaemon runs the gitgate binary for the repos on u, configured
// through environment variables (and extra flags).
func startDaemon(t testing.TB, u *sshUpstream, names []string, extra ...string) *child {
	t.Helper()
	return startDaemonAuditTo(t, u, names, nil, extra...)
}

// startDaemonAuditTo is startDaemon with the gate's standard output (its
// audit stream) going to audit instead of the child's stdout buffer.
func startDaemonAuditTo(t testing.TB, u *sshUpstream, names []string, audit io.Writer, extra ...string) *child {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the gitgate binary")
	}
	bin := binary(t)
	dir := t.TempDir()
	secrets := filepath.Join(dir, "secrets")
	if err := os.Mkdir(secrets, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(secrets, "upstream_key"), u.clientPEM, 0o400); err != nil {
		t.Fatal(err)
	}
	gate := &contract.GateFile{Version: contract.Version}
	for _, n := range names {
		gate.Repos = append(gate.Repos, contract.Repo{Name: n, URL: u.url(n), Identity: "upstream_key", HostKey: u.hostKeyLine()})
	}
	y, err := gate.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "gate.yaml")
	if err := os.WriteFile(cfgPath, y, 0o600); err != nil {
		t.Fatal(err)
	}
	d := &child{stderr: &testutil.SyncBuffer{}, stdout: &testutil.SyncBuffer{}, data: filepath.Join(dir, "data")}
	listen, admin := testutil.FreeAddrT(t), testutil.FreeAddrT(t)
	d.url, d.admin = "http://"+listen, "http://"+admin
	d.cmd = exec.Command(bin, extra...)
	d.cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		contract.EnvGitGateConfig + "=" + cfgPath,
		contract.EnvGitGateData + "=" + d.data,
		contract.EnvGitGateSecretsDir + "=" + secrets,
		contract.EnvGitGateListen + "=" + listen,
		contract.EnvGitGateAdmin + "=" + admin,
	}
	d.cmd.Stdout, d.cmd.Stderr = d.stdout, d.stderr
	if audit != nil {
		d.cmd.Stdout = audit
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	_, d.inherited = procMem(os.Getpid())
	t.Cleanup(func() { _ = d.stop() })
	for deadline := time.Now().Add(15 * time.Second); ; {
		resp, err := http.Get(d.admin + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("gitgate did not come up: %s", d.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return d
}

// stop sends SIGTERM and waits; the exit rusage then holds the largest
// peak RSS of the gate and every descendant it waited for.
func (d *child) stop() error {
	d.stopOnce.Do(func() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		d.stopErr = d.cmd.Wait()
		if ru, ok := d.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			d.exitRusage = ru
		}
	})
	return d.stopErr
}

func (d *child) repoURL(name string) string { return d.url + "/" + name + ".git" }

func TestBinaryServesAndShutsDown(t *testing.T) {
	u := newSSHUpstream(t)
	bare := u.newRepo(t, "demo")
	seed(t, bare, map[string]string{"README.md": "hi\n"})
	d := startDaemon(t, u, []string{"demo"})
	dir := filepath.Join(t.TempDir(), "demo")
	git(t, filepath.Dir(dir), "clone", "--quiet", d.repoURL("demo"), dir)
	c := commitFile(t, dir, "x.txt", "x\n", "through the binary")
	git(t, dir, "push", "--quiet", "origin", "main")
	if got := git(t, bare, "rev-parse", "main"); got != c {
		t.Fatalf("upstream main %s, want %s", got, c)
	}
	if err := d.stop(); err != nil {
		t.Fatalf("exit: %v\n%s", err, d.stderr.String())
	}
	// Logs are JSON lines; the audit line went to stdout.
	for _, line := range strings.Split(strings.TrimSpace(d.stderr.String()), "\n") {
		if !strings.HasPrefix(line, "{") {
			t.Errorf("log line is not JSON: %s", line)
		}
	}
	if !strings.Contains(d.stdout.String(), `"component":"gitgate"`) || !strings.Contains(d.stdout.String(), `"decision":"allow"`) {
		t.Errorf("audit:\n%s", d.stdout.String())
	}
	if strings.Contains(d.stderr.String()+d.stdout.String(), "PRIVATE KEY") {
		t.Fatal("the identity key reached the output")
	}
}

func TestBinaryHelpAndBadConfig(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the gitgate binary")
	}
	bin := binary(t)
	out, err := exec.Command(bin, "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), contract.EnvGitGateConfig) || !strings.Contains(string(out), contract.EnvGitGateMaxPack) {
		t.Fatalf("--help: %v\n%s", err, out)
	}
	cfg := filepath.Join(t.TempDir(), "gate.yaml")
	if err := os.WriteFile(cfg, []byte("version: 2\nrepos: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(bin, "--config", cfg, "--data", t.TempDir(), "--secrets-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--admin", "off").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "gate file") || !strings.Contains(string(out), "version") {
		t.Fatalf("version 2 gate file: %v\n%s", err, out)
	}
}

// TestPushMemoryBounded pushes 300 MB of incompressible data through the
// built binary and holds the peak resident memory of the gate and its
// children under 200 MB.
func TestPushMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("pushes 300 MB")
	}
	u := newSSHUpstream(t)
	bare := u.newRepo(t, "big")
	seed(t, bare, map[string]string{"README.md": "big\n"})
	d := startDaemon(t, u, []string{"big"})
	work := filepath.Join(t.TempDir(), "big")
	git(t, filepath.Dir(work), "clone", "--quiet", d.repoURL("big"), work)
	const files, size = 30, 10 << 20
	for i := range files {
		writeRandom(t, filepath.Join(work, fmt.Sprintf("blob%02d.bin", i)), size+i)
	}
	git(t, work, "-c", "core.compression=0", "add", ".")
	git(t, work, "commit", "--quiet", "-m", "300 MB of random data")

	mon := watchMemory(d.cmd.Process.Pid)
	start := time.Now()
	// No compression or delta search on the client: only the gate's side
	// is under test.
	out, err := gitRun(work, nil, "-c", "pack.compression=0", "-c", "core.bigFileThreshold=1m", "push", "origin", "main")
	elapsed := time.Since(start)
	peak := mon.stop()
	if err != nil {
		t.Fatalf("push: %v\n%s\n%s", err, out, d.stderr.String())
	}
	if got, want := git(t, bare, "rev-parse", "main"), git(t, work, "rev-parse", "HEAD"); got != want {
		t.Fatalf("upstream main %s, want %s", got, want)
	}
	gateHWM := peak.gateHWM
	if err := d.stop(); err != nil {
		t.Logf("exit: %v", err)
	}
	var maxrss int64
	if d.exitRusage != nil {
		maxrss = d.exitRusage.Maxrss // KiB: the largest single process in the gate's tree
	}
	t.Logf("300 MB push in %s: gate VmHWM %d MiB, largest child VmHWM %d MiB, peak sampled sum %d MiB, rusage maxrss %d MiB (test process at start %d MiB)",
		elapsed.Round(time.Millisecond), gateHWM>>10, peak.childHWM>>10, peak.sum>>10, maxrss>>10, d.inherited>>10)
	if total := gateHWM + peak.childHWM; total >= 200<<10 {
		t.Fatalf("gate + child peak %d MiB, want under 200 MiB", total>>10)
	}
	// maxrss counts from the test process's own high-water mark at exec
	// (see child.inherited): only above that is it the gate tree's. The
	// sampled VmHWMs above hold the bound either way.
	if maxrss >= 200<<10 && maxrss > d.inherited {
		t.Fatalf("a process in the gate's tree peaked at %d MiB (the test process was at %d MiB when it started the gate)", maxrss>>10, d.inherited>>10)
	}
}

// memPeak is what watchMemory saw, in KiB.
type memPeak struct {
	gateHWM  int64 // the gate's VmHWM
	childHWM int64 // the largest VmHWM of any descendant
	sum      int64 // the largest sampled sum of VmRSS over the gate and its descendants
}

type memWatch struct {
	pid  int
	done chan struct{}
	out  chan memPeak
}

// watchMemory samples /proc every 10 ms for pid and its descendants.
func watchMemory(pid int) *memWatch {
	w := &memWatch{pid: pid, done: make(chan struct{}), out: make(chan memPeak, 1)}
	go func() {
		var p memPeak
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			rss, hwm := procMem(pid)
			p.gateHWM = max(p.gateHWM, hwm)
			sum := rss
			for _, c := range descendants(pid) {
				crss, chwm := procMem(c)
				sum += crss
				p.childHWM = max(p.childHWM, chwm)
			}
			p.sum = max(p.sum, sum)
			select {
			case <-w.done:
				w.out <- p
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

func (w *memWatch) stop() memPeak {
	close(w.done)
	return <-w.out
}

// procMem returns VmRSS and VmHWM of pid in KiB (0 if it is gone).
func procMem(pid int) (rss, hwm int64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			switch f[0] {
			case "VmRSS:":
				rss = n
			case "VmHWM:":
				hwm = n
			}
		}
	}
	return rss, hwm
}

// descendants lists the processes below pid.
func descendants(pid int) []int {
	parent := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so cut at the last ')'.
		s := string(stat)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			if f := strings.Fields(s[i+1:]); len(f) > 1 {
				pp, _ := strconv.Atoi(f[1])
				parent[p] = pp
			}
		}
	}
	var out []int
	for p := range parent {
		for q := parent[p]; q > 1; q = parent[q] {
			if q == pid {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// TestLostAuditLinesAreCountedAndLogged: with its audit stream on a full
// disk (/dev/full), the gate still takes pushes, logs the loss once with
// its cause, and counts every lost line on the admin port's /stats.
func TestLostAuditLinesAreCountedAndLogged(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	defer full.Close()
	u := newSSHUpstream(t)
	bare := u.newRepo(t, "demo")
	seed(t, bare, map[string]string{"README.md": "hi\n"})
	d := startDaemonAuditTo(t, u, []string{"demo"}, full)
	dir := filepath.Join(t.TempDir(), "demo")
	git(t, filepath.Dir(dir), "clone", "--quiet", d.repoURL("demo"), dir)
	for i := range 2 {
		commitFile(t, dir, "x.txt", strings.Repeat("x", i+1)+"\n", "push while the audit disk is full")
		git(t, dir, "push", "--quiet", "origin", "main")
	}
	resp, err := http.Get(d.admin + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var stats struct {
		AuditDropped int64 `json:"audit_dropped"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil {
		t.Fatal(err)
	}
	if stats.AuditDropped != 2 {
		t.Errorf("/stats audit_dropped = %d, want 2 (one per push)", stats.AuditDropped)
	}
	if n := strings.Count(d.stderr.String(), "audit line lost"); n != 1 {
		t.Errorf("the loss was logged %d times, want once per burst:\n%s", n, d.stderr.String())
	}
	if !strings.Contains(d.stderr.String(), "no space left on device") {
		t.Errorf("the log does not say why:\n%s", d.stderr.String())
	}
}
