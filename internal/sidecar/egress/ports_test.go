package egress

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The ports tests run egress in front of loopback servers on ports the
// kernel picks. Each such port stands for one the route does not list
// (8443, 8080, 22): egress treats every port alike, and only a server of
// our own can tell whether egress connected to it.

// portRoutes is one route with no ports, and nothing else.
const portRoutes = `version: 1
routes:
  - host: other.example.test
    ssrf_allow: ["127.0.0.1"]
  - host: plain.example.test
    ssrf_allow: ["127.0.0.1"]
`

// setRoutes replaces e's routes file and reloads it.
func (e *env) setRoutes(yaml string) {
	e.t.Helper()
	writeFile(e.t, e.routes, []byte(yaml))
	if err := e.proxy.Reload(); err != nil {
		e.t.Fatal(err)
	}
}

// rulesAudited returns the rule of every audit record so far.
func (e *env) rulesAudited() []string {
	var out []string
	for _, r := range e.auditRecords() {
		out = append(out, r.Rule)
	}
	return out
}

// https://declared-host:8443 with curl: refused with a 403 naming the host
// and port and how to ask, before any dial, while the route lists no
// ports; allowed once it lists the port, and then 443 is no longer.
func TestHTTPSToAnotherPortOfADeclaredHostRefusedUnlessListed(t *testing.T) {
	e := newEnv(t, portRoutes, nil)
	up := startUpstream(t, e.upCA, false, echo, "other.example.test")
	url := "https://other.example.test:" + up.port + "/x"

	// The route lists no ports.
	out, stderr, code := e.curl("-o", "/dev/null", "-w", "%{http_connect}", url)
	if code == 0 || out != "403" {
		t.Errorf("curl %s = exit %d, CONNECT answered %q (%s); want the CONNECT refused with 403", url, code, out, stderr)
	}
	status, body := e.rawConnect("other.example.test:" + up.port)
	for _, want := range []string{"other.example.test:" + up.port + " is not allowed for this bottle", "only HTTPS, on port 443", "egress-block", "name the host and the port"} {
		if status != http.StatusForbidden || !strings.Contains(body, want) {
			t.Errorf("CONNECT other.example.test:%s = %d %q; want 403 containing %q", up.port, status, body, want)
		}
	}
	if n := up.conns.Load(); n != 0 {
		t.Errorf("the upstream accepted %d connections for refused CONNECTs", n)
	}
	if rules := e.rulesAudited(); len(rules) != 2 || rules[0] != RulePortNotAllowed.String() || rules[1] != RulePortNotAllowed.String() {
		t.Errorf("audit rules = %q; want two %s", rules, RulePortNotAllowed)
	}

	// The route lists the port, and only it.
	e.setRoutes(fmt.Sprintf("version: 1\nroutes:\n  - host: other.example.test\n    ssrf_allow: [\"127.0.0.1\"]\n    ports: [%s]\n", up.port))
	out, stderr, code = e.curl("-w", "\n%{http_code}", url)
	if code != 0 || !strings.HasSuffix(out, "\n200") || !strings.HasPrefix(out, "GET /x") {
		t.Errorf("curl %s with ports: [%s] = exit %d %q (%s); want 200 from the upstream", url, up.port, code, out, stderr)
	}
	if status, body := e.rawConnect("other.example.test:443"); status != http.StatusForbidden || !strings.Contains(body, "only port "+up.port) {
		t.Errorf("CONNECT :443 on a route listing only %s = %d %q; want 403 (the list replaces 443)", up.port, status, body)
	}
}

// curl -x with a plain http:// URL: refused on every port while the route
// lists none (port 80 included), with a 403 whose body names the host and
// port and how to ask, and nothing dialled; allowed to a listed port.
func TestPlainHTTPOnlyToListedPorts(t *testing.T) {
	e := newEnv(t, portRoutes, nil)
	var accepted atomic.Int32
	srv := &http.Server{Handler: http.HandlerFunc(echo), ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			accepted.Add(1)
		}
	}}
	ln := listenLoopback(t) // stands for :8080
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	port := portOf(ln)

	for _, c := range []struct{ url, hostPort string }{
		{"http://plain.example.test:" + port + "/pkg", "plain.example.test:" + port},
		{"http://plain.example.test/pkg", "plain.example.test:80"},
		{"http://plain.example.test:443/pkg", "plain.example.test:443"},
	} {
		t.Run(c.hostPort, func(t *testing.T) {
			out, stderr, code := e.curl("-x", "http://"+e.addr, "-w", "\n%{http_code}", c.url)
			if code != 0 || !strings.HasSuffix(out, "\n403") {
				t.Fatalf("curl -x %s = exit %d %q (%s); want 403", c.url, code, out, stderr)
			}
			for _, want := range []string{"plain HTTP to " + c.hostPort + " is not allowed for this bottle", "only HTTPS, on port 443", "egress-block", "name the host and the port"} {
				if !strings.Contains(out, want) {
					t.Errorf("refusal %q does not contain %q", out, want)
				}
			}
		})
	}
	if n := accepted.Load(); n != 0 {
		t.Fatalf("the server behind the refused port accepted %d connections", n)
	}

	e.setRoutes(fmt.Sprintf("version: 1\nroutes:\n  - host: plain.example.test\n    ssrf_allow: [\"127.0.0.1\"]\n    ports: [%s]\n", port))
	out, stderr, code := e.curl("-x", "http://"+e.addr, "-w", "\n%{http_code}", "http://plain.example.test:"+port+"/pkg")
	if code != 0 || !strings.HasSuffix(out, "\n200") || !strings.HasPrefix(out, "GET /pkg") {
		t.Fatalf("plain HTTP to a listed port = exit %d %q (%s); want 200 from the server", code, out, stderr)
	}
}

// CONNECT declared-host:22 must not become a tunnel to the host's SSH
// server: egress refuses it with a 403 before answering 200 (so before any
// TLS), and nothing is dialled however hard the agent tries.
func TestConnectToSSHPortOfADeclaredHostNeverDialled(t *testing.T) {
	e := newEnv(t, portRoutes, nil)

	status, body := e.rawConnect("other.example.test:22")
	if status != http.StatusForbidden || !strings.Contains(body, "other.example.test:22 is not allowed") || !strings.Contains(body, "egress-block") {
		t.Errorf("CONNECT other.example.test:22 = %d %q; want 403 naming the host and port and egress-block", status, body)
	}

	// A fake SSH server on a port the route does not list. The agent goes
	// as far as egress lets it: CONNECT, then TLS and a request if the
	// tunnel opens. Nothing may reach the server.
	ssh := listenLoopback(t)
	var accepted atomic.Int32
	go func() {
		for {
			c, err := ssh.Accept()
			if err != nil {
				return
			}
			accepted.Add(1) // before the banner, so whoever reads it sees the count
			_, _ = io.WriteString(c, "SSH-2.0-OpenSSH_9.6\r\n")
			c.Close()
		}
	}()
	t.Cleanup(func() { ssh.Close() })

	c := dialRaw(t, e.addr)
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	target := "other.example.test:" + portOf(ssh)
	fmt.Fprintf(c, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n", target, target)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusOK {
		// The tunnel opened: go on as an agent would.
		pool := x509.NewCertPool()
		pool.AddCert(e.ca.Cert)
		tc := tls.Client(c, &tls.Config{ServerName: "other.example.test", RootCAs: pool})
		if err := tc.Handshake(); err == nil {
			fmt.Fprintf(tc, "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", target)
			if r, err := http.ReadResponse(bufio.NewReader(tc), nil); err == nil {
				r.Body.Close()
			}
		}
		t.Errorf("CONNECT %s = 200; want 403 before any TLS", target)
	}
	resp.Body.Close()
	if n := accepted.Load(); n != 0 {
		t.Errorf("the SSH server behind the refused port accepted %d connections", n)
	}
	for _, r := range e.rulesAudited() {
		if r != RulePortNotAllowed.String() {
			t.Errorf("audit rule %q; want only %s", r, RulePortNotAllowed)
		}
	}
}

// Removing a port from a route applies to tunnels already open to it:
// every request inside a tunnel is decided against the current routes.
func TestReloadDroppingAPortRefusesRequestsInOpenTunnels(t *testing.T) {
	e := newEnv(t, portRoutes, nil)
	up := e.startUpstream(false, echo, "other.example.test")
	c := e.client(false)
	get := func() int {
		t.Helper()
		resp, err := c.Get("https://other.example.test:" + up.port + "/")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := get(); s != http.StatusOK {
		t.Fatalf("before the reload: %d", s)
	}
	e.setRoutes(portRoutes)
	if s := get(); s != http.StatusForbidden {
		t.Fatalf("in the open tunnel after the port was dropped: %d, want 403", s)
	}
	if n := len(e.proxy.tunnels); n != 1 {
		t.Errorf("%d tunnels open; want the one kept alive (the second request must have used it)", n)
	}
	if n := up.conns.Load(); n != 1 {
		t.Errorf("the upstream saw %d connections; want only the first request's", n)
	}
}
