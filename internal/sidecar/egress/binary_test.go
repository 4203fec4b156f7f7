package egress

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
)

// child is the real egress binary running as a child process.
type child struct {
	cmd         *exec.Cmd
	addr, admin string
	stderr      *testutil.SyncBuffer
	routes, dir string
	ca          *testCA
	upCA        *testCA
	secretsDir  string
}

func startDaemon(t *testing.T, routes string, extra ...string) *child {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the egress binary")
	}
	dir := t.TempDir()
	bin := testutil.BuildCommand(t, "github.com/bot-bottle/bot-bottle/cmd/egress")
	d := &child{dir: dir, stderr: &testutil.SyncBuffer{}, addr: testutil.FreeAddrT(t), admin: testutil.FreeAddrT(t)}
	d.ca = newTestCA(t, dir, "bottle-ca")
	d.upCA = newTestCA(t, dir, "upstream-ca")
	d.secretsDir = filepath.Join(dir, "secrets")
	_ = os.Mkdir(d.secretsDir, 0o700)
	writeFile(t, filepath.Join(d.secretsDir, "api_token"), []byte(testToken))
	d.routes = filepath.Join(dir, "routes.yaml")
	writeFile(t, d.routes, []byte(routes))
	args := append([]string{"--routes", d.routes, "--ca-cert", d.ca.CertPath, "--ca-key", d.ca.KeyPath,
		"--secrets-dir", d.secretsDir, "--listen", d.addr, "--admin", d.admin, "--audit", filepath.Join(dir, "audit.jsonl"),
		"--upstream-ca", d.upCA.CertPath, "--resolve", "api.example.test=127.0.0.1", "--resolve", "other.example.test=127.0.0.1"}, extra...)
	d.cmd = exec.Command(bin, args...)
	d.cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	d.cmd.Stderr = d.stderr
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		_ = d.cmd.Wait()
	})
	for deadline := time.Now().Add(15 * time.Second); ; {
		resp, err := http.Get("http://" + d.admin + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("egress did not come up: %s", d.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return d
}

func (d *child) connectStatus(t *testing.T, target string) int {
	t.Helper()
	c := dialRaw(t, d.addr)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode
}

// rss returns VmRSS and VmHWM of the daemon in KiB.
func (d *child) rss(t *testing.T) (cur, peak int) {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid))
	if err != nil {
		t.Skip("no /proc: cannot measure memory")
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && (f[0] == "VmRSS:" || f[0] == "VmHWM:") {
			n, _ := strconv.Atoi(f[1])
			if f[0] == "VmRSS:" {
				cur = n
			} else {
				peak = n
			}
		}
	}
	return cur, peak
}

func TestDaemonReloadsOnSIGHUP(t *testing.T) {
	d := startDaemon(t, baseRoutes)
	if s := d.connectStatus(t, "later.example.test:443"); s != 403 {
		t.Fatalf("before reload: %d", s)
	}
	writeFile(t, d.routes, []byte(baseRoutes+"  - host: later.example.test\n"))
	_ = d.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, func() bool { return d.connectStatus(t, "later.example.test:443") == 200 }, "the reloaded route")
	writeFile(t, d.routes, []byte("version: 1\nroutes:\n  - host: [broken\n"))
	_ = d.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, func() bool { return strings.Contains(d.stderr.String(), "reload refused") }, "the refusal to be logged")
	if s := d.connectStatus(t, "later.example.test:443"); s != 200 {
		t.Errorf("after a broken reload the old table is gone: %d", s)
	}
	if strings.Contains(d.stderr.String(), testToken) {
		t.Error("token in the daemon log")
	}
}

func TestDaemonReapsManyIdleConnects(t *testing.T) {
	d := startDaemon(t, baseRoutes, "--handshake-timeout", "1s")
	const n = 500
	conns := make([]net.Conn, 0, n)
	for range n {
		c := dialRaw(t, d.addr)
		fmt.Fprintf(c, "CONNECT other.example.test:443 HTTP/1.1\r\nHost: other.example.test:443\r\n\r\n")
		conns = append(conns, c)
	}
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Fatalf("an idle CONNECT was not closed by egress: %v", err)
		}
		c.Close()
	}
	// With every slot freed, a new tunnel still opens.
	if s := d.connectStatus(t, "other.example.test:443"); s != 200 {
		t.Errorf("after reaping: %d", s)
	}
}

func TestDaemonLargeUploadKeepsRSSBounded(t *testing.T) {
	// A streaming upstream (startUpstream records bodies in memory).
	ln := listenLoopback(t)
	d := startDaemon(t, withPorts(t, baseRoutes, portOf(ln)))
	var received atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		received.Store(n)
	}), TLSConfig: &tls.Config{Certificates: []tls.Certificate{d.upCA.ServerCert(t, "other.example.test")}}}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { srv.Close() })

	pool := x509.NewCertPool()
	pool.AddCert(d.ca.Cert)
	proxyURL, _ := url.Parse("http://" + d.addr)
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxyURL), TLSClientConfig: &tls.Config{RootCAs: pool}}}
	const size = 1 << 30
	body := io.LimitReader(repeatReader("clean upload data, no secrets here. "), size)
	resp, err := client.Post("https://other.example.test:"+portOf(ln)+"/upload", "application/octet-stream", body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || received.Load() != size {
		t.Fatalf("upload: status %d, upstream got %d of %d bytes", resp.StatusCode, received.Load(), size)
	}
	_, peak := d.rss(t)
	t.Logf("egress peak RSS during a 1 GiB upload: %d MiB", peak/1024)
	if peak > 150*1024 {
		t.Errorf("peak RSS %d MiB for a streamed 1 GiB upload; want it bounded (< 150 MiB)", peak/1024)
	}
}

type repeatReader string

func (r repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		n += copy(p[n:], r)
	}
	return n, nil
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLostAuditLinesAreCountedAndLogged: with --audit on a full disk
// (/dev/full), egress still decides, logs the loss once with its cause,
// and counts every lost line on the admin port's /stats.
func TestLostAuditLinesAreCountedAndLogged(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	d := startDaemon(t, baseRoutes, "--audit", "/dev/full")
	for range 3 {
		if got := d.connectStatus(t, "undeclared.example.test:443"); got != http.StatusForbidden {
			t.Fatalf("CONNECT to an undeclared host: %d, want 403", got)
		}
	}
	resp, err := http.Get("http://" + d.admin + "/stats")
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
	if stats.AuditDropped != 3 {
		t.Errorf("/stats audit_dropped = %d, want 3", stats.AuditDropped)
	}
	if n := strings.Count(d.stderr.String(), "audit line lost"); n != 1 {
		t.Errorf("the loss was logged %d times, want once per burst:\n%s", n, d.stderr.String())
	}
	if !strings.Contains(d.stderr.String(), "no space left on device") {
		t.Errorf("the log does not say why:\n%s", d.stderr.String())
	}
}
