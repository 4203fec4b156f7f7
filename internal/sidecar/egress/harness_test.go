package egress

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/scaffold/testpki"
	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// testCA is a throwaway CA written to disk as PEM.
type testCA = testpki.CA

func newTestCA(t testing.TB, dir, name string) *testCA { return testpki.New(t, dir, name) }

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// upstream is a TLS test server on loopback with a certificate from the
// upstream CA; it records what it received.
type upstream struct {
	*http.Server
	ln    net.Listener
	port  string
	mu    sync.Mutex
	got   []recorded
	conns atomic.Int32 // TCP connections accepted
}

type recorded struct {
	method, path, query string
	header              http.Header
	body                []byte
}

func (u *upstream) requests() []recorded {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]recorded(nil), u.got...)
}

func startUpstream(t testing.TB, ca *testCA, h2 bool, handler http.HandlerFunc, hosts ...string) *upstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{ln: ln}
	_, u.port, _ = net.SplitHostPort(ln.Addr().String())
	protos := []string{"http/1.1"}
	if h2 {
		protos = []string{"h2", "http/1.1"}
	}
	u.Server = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			u.mu.Lock()
			u.got = append(u.got, recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
			u.mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(body))
			handler(w, r)
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{ca.ServerCert(t, hosts...)}, NextProtos: protos},
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				u.conns.Add(1)
			}
		},
	}
	if !h2 {
		u.Server.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	go func() { _ = u.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { u.Close() })
	return u
}

// withPorts returns routesYAML with ports added to every route, as an
// operator declares the port a test upstream listens on (they are all on
// loopback, on ports the kernel picks). A route with no ports keeps 443.
func withPorts(t testing.TB, routesYAML string, ports ...string) string {
	t.Helper()
	rf, err := contract.ParseRoutes([]byte(routesYAML))
	if err != nil {
		t.Fatal(err)
	}
	for i := range rf.Routes {
		r := &rf.Routes[i]
		if len(r.Ports) == 0 {
			r.Ports = []int{contract.HTTPSPort}
		}
		for _, p := range ports {
			n, err := strconv.Atoi(p)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(r.Ports, n) {
				r.Ports = append(r.Ports, n)
			}
		}
	}
	out, err := rf.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// allowPorts adds ports to every route of e's routes file (withPorts) and
// reloads it.
func (e *env) allowPorts(ports ...string) {
	e.t.Helper()
	data, err := os.ReadFile(e.routes)
	if err != nil {
		e.t.Fatal(err)
	}
	writeFile(e.t, e.routes, []byte(withPorts(e.t, string(data), ports...)))
	if err := e.proxy.Reload(); err != nil {
		e.t.Fatal(err)
	}
}

// startUpstream starts an upstream with a certificate from e's upstream CA
// and declares its port on every route (allowPorts).
func (e *env) startUpstream(h2 bool, handler http.HandlerFunc, hosts ...string) *upstream {
	e.t.Helper()
	up := startUpstream(e.t, e.upCA, h2, handler, hosts...)
	e.allowPorts(up.port)
	return up
}

// env is one running egress with its files.
type env struct {
	t      testing.TB
	dir    string
	ca     *testCA // the bottle CA egress mints with
	upCA   *testCA // signs upstream certificates
	proxy  *Proxy
	addr   string // proxy host:port
	admin  string // admin host:port
	audit  *testutil.SyncBuffer
	routes string
	token  string
	cancel context.CancelFunc
	done   chan error
	reload chan struct{} // Serve's reload channel
}

// auditRecords parses the audit lines so far.
func (e *env) auditRecords() []contract.AuditRecord {
	var out []contract.AuditRecord
	for _, line := range strings.Split(strings.TrimSpace(e.audit.String()), "\n") {
		if line == "" {
			continue
		}
		var rec contract.AuditRecord
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			e.t.Fatalf("audit line is not JSON: %q", line)
		}
		out = append(out, rec)
	}
	return out
}

const testToken = "tok-3f9a1c77e2b84d0aa51e6c2b9d47f013"

// newEnv starts egress with routesYAML. The hosts of the tests' routes
// resolve to 127.0.0.1; the routes must declare the ports of the test
// upstreams there (e.startUpstream and allowPorts do).
func newEnv(t testing.TB, routesYAML string, tweak func(*Config)) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, dir: dir, audit: &testutil.SyncBuffer{}, token: testToken}
	e.ca = newTestCA(t, dir, "bottle-ca")
	e.upCA = newTestCA(t, dir, "upstream-ca")
	secrets := filepath.Join(dir, "secrets")
	if err := os.Mkdir(secrets, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(secrets, "api_token"), []byte(testToken+"\n"))
	e.routes = filepath.Join(dir, "routes.yaml")
	writeFile(t, e.routes, []byte(routesYAML))
	cfg := Config{
		RoutesFile: e.routes, CACert: e.ca.CertPath, CAKey: e.ca.KeyPath, SecretsDir: secrets,
		UpstreamCA: e.upCA.CertPath,
		Resolve: map[string]netip.Addr{
			"api.example.test":     netip.MustParseAddr("127.0.0.1"),
			"other.example.test":   netip.MustParseAddr("127.0.0.1"),
			"stream.example.test":  netip.MustParseAddr("127.0.0.1"),
			"pass.example.test":    netip.MustParseAddr("127.0.0.1"),
			"plain.example.test":   netip.MustParseAddr("127.0.0.1"),
			"private.example.test": netip.MustParseAddr("127.0.0.1"),
			"strict.example.test":  netip.MustParseAddr("127.0.0.1"),
			"git.example.test":     netip.MustParseAddr("127.0.0.1"),
		},
	}
	if tweak != nil {
		tweak(&cfg)
	}
	p, err := NewProxy(cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)), e.audit)
	if err != nil {
		t.Fatal(err)
	}
	e.proxy = p
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	aln, _ := net.Listen("tcp", "127.0.0.1:0")
	e.addr, e.admin = ln.Addr().String(), aln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan error, 1)
	e.reload = make(chan struct{})
	go func() { e.done <- p.Serve(ctx, ln, aln, e.reload) }()
	t.Cleanup(func() {
		cancel()
		if err := <-e.done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return e
}

// client is a Go HTTP client that trusts the bottle CA and uses egress.
func (e *env) client(h2 bool) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(e.ca.Cert)
	proxyURL, _ := url.Parse("http://" + e.addr)
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{
		Proxy:             http.ProxyURL(proxyURL),
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: h2,
	}}
}

// curl runs the real curl through egress and returns stdout, stderr and
// the exit code.
func (e *env) curl(args ...string) (string, string, int) {
	e.t.Helper()
	base := []string{"-sS", "--max-time", "20", "--proxy", "http://" + e.addr, "--cacert", e.ca.CertPath, "--noproxy", ""}
	cmd := exec.Command("curl", append(base, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + e.dir}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatalf("curl: %v", err)
	}
	return out.String(), errb.String(), code
}

// rawConnect sends a CONNECT and returns the status line and body.
func (e *env) rawConnect(target string) (int, string) {
	e.t.Helper()
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.WriteString(c, "CONNECT "+target+" HTTP/1.1\r\nHost: "+target+"\r\n\r\n")
	resp, err := http.ReadResponse(bufioReader(c), &http.Request{Method: http.MethodConnect})
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK { // a tunnel: nothing to read until TLS starts
		return resp.StatusCode, ""
	}
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func bufioReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }

func listenLoopback(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func portOf(ln net.Listener) string {
	_, p, _ := net.SplitHostPort(ln.Addr().String())
	return p
}

func dialRaw(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
