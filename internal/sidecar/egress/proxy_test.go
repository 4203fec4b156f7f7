package egress

import (
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

const ghToken = "ghp_R4nd0mL00k1ngT0k3nV4lu3F0rT3st1ng9zQ"

const baseRoutes = `version: 1
routes:
  - host: api.example.test
    path_allowlist: ["/v1/"]
    methods: [GET, POST]
    auth: {scheme: Bearer, secret: api_token}
    ssrf_allow: ["127.0.0.1"]
  - host: other.example.test
    ssrf_allow: ["127.0.0.1"]
  - host: stream.example.test
    ssrf_allow: ["127.0.0.1"]
  - host: plain.example.test
    ssrf_allow: ["127.0.0.1"]
  - host: private.example.test
  - host: strict.example.test
    dlp_strict: true
    ssrf_allow: ["127.0.0.1"]
`

// echo answers with what it received: method, path, headers, body.
func echo(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	fmt.Fprintf(w, "%s %s\n", r.Method, r.URL.RequestURI())
	for k, v := range r.Header {
		fmt.Fprintf(w, "%s: %s\n", k, strings.Join(v, ","))
	}
	w.Header().Set("X-Echo-Auth", r.Header.Get("Authorization"))
	fmt.Fprintf(w, "\n%s", body)
}

func TestCredentialInjectedAgentsStrippedEchoScrubbed(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	up := e.startUpstream(false, echo, "api.example.test")
	out, stderr, code := e.curl("-i", "-H", "Authorization: Bearer agent-placeholder", "-H", "Proxy-Authorization: Basic eA==",
		"https://api.example.test:"+up.port+"/v1/items")
	if code != 0 {
		t.Fatalf("curl exit %d: %s", code, stderr)
	}
	got := up.requests()
	if len(got) != 1 {
		t.Fatalf("upstream got %d requests", len(got))
	}
	if a := got[0].header.Values("Authorization"); len(a) != 1 || a[0] != "Bearer "+testToken {
		t.Errorf("upstream Authorization = %q, want only the injected token", a)
	}
	if got[0].header.Get("Proxy-Authorization") != "" {
		t.Error("Proxy-Authorization reached the upstream")
	}
	if strings.Contains(out, testToken) {
		t.Fatalf("the injected token reached the agent in the echoed response:\n%s", out)
	}
	if !strings.Contains(out, "[removed-by-egress]") {
		t.Errorf("echo was not scrubbed visibly:\n%s", out)
	}
	if strings.Contains(e.audit.String(), testToken) {
		t.Error("token in the audit log")
	}
}

func TestUndeclaredHostRefusedWithExplanation(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	status, body := e.rawConnect("nope.example.test:443")
	if status != http.StatusForbidden || !strings.Contains(body, "nope.example.test") || !strings.Contains(body, "egress-block") {
		t.Fatalf("CONNECT undeclared = %d %q; want 403 naming the host and egress-block", status, body)
	}
	_, _, code := e.curl("https://nope.example.test/")
	if code == 0 {
		t.Error("curl to an undeclared host succeeded")
	}
	recs := e.auditRecords()
	if len(recs) == 0 || recs[0].Rule != RuleNoRoute.String() || recs[0].Decision != "deny" {
		t.Errorf("audit = %+v", recs)
	}
}

func TestPathAndMethodPolicy(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	up := e.startUpstream(false, echo, "api.example.test")
	base := "https://api.example.test:" + up.port
	for _, tc := range []struct {
		name, method, path string
		want               int
	}{
		{"allowed", "GET", "/v1/x", 200},
		{"outside prefix", "GET", "/admin", 403},
		{"encoded traversal", "GET", "/v1/%2e%2e/admin", 400},
		{"encoded slash", "GET", "/v1%2F..%2Fadmin", 400},
		{"method not allowed", "DELETE", "/v1/x", 405},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, _ := e.curl("-o", "/dev/null", "-w", "%{http_code}", "--path-as-is", "-X", tc.method, base+tc.path)
			if out != fmt.Sprint(tc.want) {
				t.Errorf("%s %s = %s, want %d", tc.method, tc.path, out, tc.want)
			}
		})
	}
	for _, r := range up.requests() {
		if r.path != "/v1/x" {
			t.Errorf("upstream saw %s %s", r.method, r.path)
		}
	}
}

func TestHostHeaderSmugglingToAnotherDeclaredHostProxy(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	up := e.startUpstream(false, echo, "api.example.test", "other.example.test")
	out, _, _ := e.curl("-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: api.example.test:"+up.port, "https://other.example.test:"+up.port+"/v1/x")
	if out == "200" {
		t.Fatal("a Host header naming another declared host was forwarded")
	}
	for _, r := range up.requests() {
		if r.header.Get("Authorization") != "" {
			t.Fatal("api's credential was sent through other's tunnel")
		}
	}
}

func TestDLPBlocksSecretsBeforeTheyLeave(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	up := e.startUpstream(false, echo, "api.example.test", "strict.example.test")
	url := "https://api.example.test:" + up.port + "/v1/upload"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(`{"k":"` + ghToken + `"}`))
	_ = zw.Close()
	gzFile := e.dir + "/body.gz"
	writeFile(t, gzFile, gz.Bytes())
	big := e.dir + "/big.bin"
	writeFile(t, big, append(bytes.Repeat([]byte("a"), 8<<20), []byte(" "+ghToken+" ")...))
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"body", []string{"-d", `{"token":"` + ghToken + `"}`, url}},
		{"query", []string{url + "?t=" + ghToken}},
		{"percent-encoded query", []string{url + "?t=" + strings.Replace(ghToken, "_", "%5F", 1)}},
		{"percent-encoded form body", []string{"-d", "t=" + strings.Replace(ghToken, "_", "%5F", 1), url}},
		{"header", []string{"-H", "X-Leak: " + ghToken, url}},
		{"held secret verbatim", []string{"-d", "x=" + testToken, url}},
		{"gzip body", []string{"-H", "Content-Encoding: gzip", "--data-binary", "@" + gzFile, url}},
		{"secret at the end of 8 MiB", []string{"--data-binary", "@" + big, url}},
		{"strict route", []string{"--data-binary", "@" + big, "https://strict.example.test:" + up.port + "/"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, _ := e.curl(append([]string{"-w", "\n%{http_code}"}, tc.args...)...)
			if !strings.HasSuffix(out, "403") || !strings.Contains(out, "rule ") {
				t.Errorf("want 403 naming the rule, got:\n%s", tail(out, 300))
			}
			if strings.Contains(out, ghToken) || strings.Contains(out, testToken) {
				t.Error("the refusal echoed the secret")
			}
		})
	}
	for _, r := range up.requests() {
		if bytes.Contains(r.body, []byte("ghp_")) || strings.Contains(r.query, "ghp_") {
			t.Errorf("secret bytes reached the upstream (%s %s, %d body bytes)", r.method, r.path, len(r.body))
		}
	}
	if strings.Contains(e.audit.String(), ghToken) {
		t.Error("secret in the audit log")
	}
}

func TestUnscannableEncodingRefused(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	up := e.startUpstream(false, echo, "api.example.test")
	out, _, _ := e.curl("-w", "%{http_code}", "-o", "/dev/null", "-H", "Content-Encoding: br", "-d", "xx", "https://api.example.test:"+up.port+"/v1/x")
	if out != "415" {
		t.Errorf("br body = %s, want 415", out)
	}
}

func TestSSEEventsArriveAsSent(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	release := make(chan struct{})
	up := e.startUpstream(false, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-release
		fmt.Fprint(w, "data: second\n\n")
	}, "stream.example.test")
	resp, err := e.client(false).Get("https://stream.example.test:" + up.port + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 64)
	n, err := resp.Body.Read(buf)
	if err != nil || !strings.Contains(string(buf[:n]), "data: first") {
		t.Fatalf("first event not delivered before the stream ended: %q %v", buf[:n], err)
	}
	close(release)
	rest, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(rest), "second") {
		t.Errorf("second event missing: %q", rest)
	}
}

func TestHTTP2ToAgentAndUpstream(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	var upProto atomic.Value
	up := e.startUpstream(true, func(w http.ResponseWriter, r *http.Request) {
		upProto.Store(r.Proto)
		fmt.Fprint(w, "ok")
	}, "other.example.test")
	resp, err := e.client(true).Get("https://other.example.test:" + up.port + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || upProto.Load() != "HTTP/2.0" {
		t.Errorf("agent side %s, upstream side %v; want HTTP/2 on both", resp.Proto, upProto.Load())
	}
	out, stderr, code := e.curl("--http2", "-sS", "-o", "/dev/null", "-w", "%{http_version}", "https://other.example.test:"+up.port+"/")
	if code != 0 || out != "2" {
		t.Errorf("curl --http2 = %q (exit %d %s)", out, code, stderr)
	}
}

func TestKeepAliveInsideTheTunnel(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	up := e.startUpstream(false, echo, "other.example.test")
	c := e.client(false)
	for range 5 {
		resp, err := c.Get("https://other.example.test:" + up.port + "/")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if n := len(e.proxy.tunnels); n != 1 {
		t.Errorf("%d tunnels open after 5 sequential requests, want 1 (keep-alive)", n)
	}
}

func TestPlainHTTP(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	srv := &http.Server{Handler: http.HandlerFunc(echo)}
	ln := listenLoopback(t)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	port := portOf(ln)
	e.allowPorts(port)
	out, _, code := e.curl("-w", "\n%{http_code}", "http://plain.example.test:"+port+"/pkg")
	if code != 0 || !strings.HasSuffix(out, "200") {
		t.Errorf("plain http without auth = %q", out)
	}
	out, _, _ = e.curl("-w", "\n%{http_code}", "http://api.example.test:"+port+"/v1/x")
	if !strings.HasSuffix(out, "403") {
		t.Errorf("plain http on an auth route = %q, want 403", out)
	}
}

func TestSSRFRefusedWithoutAllow(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	up := e.startUpstream(false, echo, "private.example.test")
	out, _, _ := e.curl("-w", "\n%{http_code}", "https://private.example.test:"+up.port+"/")
	if !strings.HasSuffix(out, "403") || !strings.Contains(out, "loopback") {
		t.Errorf("loopback upstream without ssrf_allow = %q, want 403 naming the class", out)
	}
	if len(up.requests()) != 0 {
		t.Error("the upstream was reached")
	}
}

func TestUpstreamTLSIsVerified(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	rogue := newTestCA(t, t.TempDir(), "rogue")
	up := startUpstream(t, rogue, false, echo, "other.example.test")
	e.allowPorts(up.port)
	out, _, _ := e.curl("-w", "\n%{http_code}", "https://other.example.test:"+up.port+"/")
	if !strings.HasSuffix(out, "502") {
		t.Errorf("untrusted upstream certificate = %q, want 502", out)
	}
}

func TestIdleConnectsAreReaped(t *testing.T) {
	e := newEnv(t, baseRoutes, func(c *Config) { c.HandshakeTimeout = 300 * time.Millisecond })
	var conns []io.ReadWriteCloser
	for range 500 {
		c := dialRaw(t, e.addr)
		_, _ = io.WriteString(c, "CONNECT other.example.test:443 HTTP/1.1\r\nHost: other.example.test:443\r\n\r\n")
		conns = append(conns, c)
	}
	deadline := time.Now().Add(20 * time.Second)
	for i, c := range conns {
		buf := make([]byte, 4096)
		// Each was taken as a tunnel (the cap is 512), then left idle.
		if n, err := io.ReadAtLeast(c, buf, len("HTTP/1.1 200")); err != nil || !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 200") {
			t.Fatalf("CONNECT %d: got %q, %v; want 200 Connection established", i, buf[:n], err)
		}
		for {
			if _, err := c.Read(buf); err != nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("an idle CONNECT was never closed")
			}
		}
		c.Close()
	}
	for time.Now().Before(deadline) && len(e.proxy.tunnels) > 0 {
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(e.proxy.tunnels); n != 0 {
		t.Errorf("%d tunnel slots still held after the idle CONNECTs were reaped", n)
	}
}

func TestTunnelCap(t *testing.T) {
	e := newEnv(t, baseRoutes, func(c *Config) { c.MaxTunnels = 2; c.HandshakeTimeout = 5 * time.Second })
	for range 2 {
		c := dialRaw(t, e.addr)
		defer c.Close()
		_, _ = io.WriteString(c, "CONNECT other.example.test:443 HTTP/1.1\r\nHost: x\r\n\r\n")
		buf := make([]byte, 64)
		_, _ = c.Read(buf) // 200
	}
	status, _ := e.rawConnect("other.example.test:443")
	if status != http.StatusServiceUnavailable {
		t.Errorf("third tunnel = %d, want 503", status)
	}
}

func TestReloadKeepsOldTableOnBrokenFile(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	if status, _ := e.rawConnect("new.example.test:443"); status != 403 {
		t.Fatalf("before reload: %d", status)
	}
	writeFile(t, e.routes, []byte(baseRoutes+"  - host: new.example.test\n"))
	if err := e.proxy.Reload(); err != nil {
		t.Fatal(err)
	}
	if status, _ := e.rawConnect("new.example.test:443"); status == 403 {
		t.Fatal("reloaded route not applied")
	}
	writeFile(t, e.routes, []byte("version: 1\nroutes: [{hots: x}]\n"))
	if err := e.proxy.Reload(); err == nil {
		t.Fatal("broken routes file accepted")
	}
	if status, _ := e.rawConnect("new.example.test:443"); status == 403 {
		t.Fatal("broken reload dropped the old table")
	}
}

func TestAdminEndpoints(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	resp, err := http.Get("http://" + e.admin + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Get("http://" + e.admin + "/routes")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"host":"api.example.test"`) || !strings.Contains(string(body), `"/v1/"`) {
		t.Errorf("/routes = %s", body)
	}
	if strings.Contains(string(body), "api_token") || strings.Contains(string(body), testToken) {
		t.Error("/routes reveals a secret or its name")
	}
}

func TestAuditLinesHaveNoQueryOrSecret(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	up := e.startUpstream(false, echo, "api.example.test")
	e.curl("-o", "/dev/null", "https://api.example.test:"+up.port+"/v1/x?session=abc123")
	recs := e.auditRecords()
	if len(recs) != 1 {
		t.Fatalf("audit records: %+v", recs)
	}
	r := recs[0]
	if r.Path != "/v1/x" || r.Method != "GET" || r.Host != "api.example.test" || r.Status != 200 || r.Decision != "allow" || r.BytesOut == 0 {
		t.Errorf("audit record = %+v", r)
	}
	if strings.Contains(e.audit.String(), "abc123") {
		t.Error("query string in the audit log")
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

const passRoutes = baseRoutes + `  - host: pass.example.test
    tls_passthrough: true
    ssrf_allow: ["127.0.0.1"]
`

func TestPassthroughTunnelsUnreadAndOnlyToAllowedPorts(t *testing.T) {
	e := newEnv(t, passRoutes, nil)
	up := startUpstream(t, e.upCA, false, echo, "pass.example.test")
	// Port not allowed (the route lists none, so 443 only): refused before
	// any dial.
	if status, body := e.rawConnect("pass.example.test:" + up.port); status != 403 || !strings.Contains(body, "pass.example.test:"+up.port+" is not allowed") {
		t.Fatalf("passthrough to a port the route does not list = %d %q", status, body)
	}
	if n := up.conns.Load(); n != 0 {
		t.Fatalf("the upstream accepted %d connections for a refused CONNECT", n)
	}

	e.allowPorts(up.port)
	// The client verifies the upstream's own certificate: no MITM.
	out, stderr, code := e.curl("--cacert", e.upCA.CertPath, "-H", "Authorization: Bearer mine", "https://pass.example.test:"+up.port+"/x")
	if code != 0 {
		t.Fatalf("passthrough curl exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "Authorization: Bearer mine") {
		t.Errorf("passthrough altered the request:\n%s", out)
	}
}

func TestLeafCertificatesAreCachedPerHost(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	up := e.startUpstream(false, echo, "other.example.test")
	var serials []string
	for range 2 {
		c := e.client(false)
		resp, err := c.Get("https://OTHER.example.test:" + up.port + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		serials = append(serials, resp.TLS.PeerCertificates[0].SerialNumber.String())
		if resp.TLS.PeerCertificates[0].PublicKeyAlgorithm.String() != "ECDSA" {
			t.Errorf("leaf key is %s, want ECDSA", resp.TLS.PeerCertificates[0].PublicKeyAlgorithm)
		}
	}
	if serials[0] != serials[1] {
		t.Errorf("two tunnels to one host got different leaves (%v): not cached", serials)
	}
}

func TestUpstreamConnectionsAreReused(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	up := e.startUpstream(false, echo, "other.example.test")
	for range 5 { // five separate agent connections
		c := e.client(false)
		resp, err := c.Get("https://other.example.test:" + up.port + "/")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		c.CloseIdleConnections()
	}
	if n := up.conns.Load(); n != 1 {
		t.Errorf("upstream saw %d connections for 5 requests, want 1 (pooled)", n)
	}
}

func TestDLPAllowExemptsOnlyThatRuleOnThatRoute(t *testing.T) {
	routes := strings.Replace(baseRoutes, "  - host: other.example.test\n", "  - host: other.example.test\n    dlp_allow: [github-pat]\n", 1)
	e := newEnv(t, routes, nil)
	up := e.startUpstream(false, echo, "other.example.test", "stream.example.test")
	out, _, _ := e.curl("-o", "/dev/null", "-w", "%{http_code}", "-d", "t="+ghToken, "https://other.example.test:"+up.port+"/")
	if out != "200" {
		t.Errorf("exempted rule on its route = %s, want 200", out)
	}
	out, _, _ = e.curl("-o", "/dev/null", "-w", "%{http_code}", "-d", "t="+ghToken, "https://stream.example.test:"+up.port+"/")
	if out != "403" {
		t.Errorf("same secret on another route = %s, want 403", out)
	}
	out, _, _ = e.curl("-o", "/dev/null", "-w", "%{http_code}", "-d", "t="+testToken, "https://other.example.test:"+up.port+"/")
	if out != "403" {
		t.Errorf("a held secret on the exempt route = %s, want 403 (held secrets are never exempt)", out)
	}
}

func TestSecretAcrossStreamedChunksNeverReachesUpstream(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	var got atomic.Int64
	var sawPrefix atomic.Bool
	ln := listenLoopback(t)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.Store(int64(len(b)))
		sawPrefix.Store(bytes.Contains(b, []byte("ghp_")))
	}), TLSConfig: &tls.Config{Certificates: []tls.Certificate{e.upCA.ServerCert(t, "other.example.test")}}}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { srv.Close() })
	e.allowPorts(portOf(ln))
	// The token straddles the proxy's 256 KiB read boundary, well past the
	// whole-body limit, so it is caught by the streaming scan.
	offset := 3*(256<<10) - 10
	body := append(bytes.Repeat([]byte("x"), offset), []byte(" "+ghToken+" ")...)
	body = append(body, bytes.Repeat([]byte("y"), 1<<20)...)
	path := e.dir + "/straddle.bin"
	writeFile(t, path, body)
	out, _, _ := e.curl("-o", "/dev/null", "-w", "%{http_code}", "--data-binary", "@"+path, "https://other.example.test:"+portOf(ln)+"/")
	if out == "200" {
		t.Fatal("upload with a secret was accepted")
	}
	if sawPrefix.Load() {
		t.Fatalf("part of the secret reached the upstream (%d bytes received)", got.Load())
	}
}

func TestFileWideSSRFAllowLetsEveryRouteThrough(t *testing.T) {
	e := newEnv(t, "version: 1\nssrf_allow: [\"127.0.0.1\"]\nroutes:\n  - host: private.example.test\n", nil)
	up := e.startUpstream(false, echo, "private.example.test")
	out, _, _ := e.curl("-o", "/dev/null", "-w", "%{http_code}", "https://private.example.test:"+up.port+"/")
	if out != "200" {
		t.Errorf("route under a file-wide ssrf_allow = %s, want 200", out)
	}
}

func TestPlainHTTPUserInfoRefused(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	ln := listenLoopback(t)
	var sawAuth atomic.Bool
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawAuth.Store(r.Header.Get("Authorization") != "")
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	e.allowPorts(portOf(ln))
	// Sent by hand: curl would move the user info into a header itself.
	c := dialRaw(t, e.addr)
	defer c.Close()
	fmt.Fprintf(c, "GET http://me:hunter2@plain.example.test:%s/ HTTP/1.1\r\nHost: plain.example.test:%s\r\n\r\n", portOf(ln), portOf(ln))
	resp, err := http.ReadResponse(bufioReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || sawAuth.Load() {
		t.Errorf("user info in a plain URL = %d (upstream saw Authorization: %v), want 400", resp.StatusCode, sawAuth.Load())
	}
}

func TestSecretInAWildcardHostNameRefused(t *testing.T) {
	e := newEnv(t, baseRoutes+"  - host: \"*.wild.example.test\"\n", nil)
	// The held token is a valid DNS label: it could leave as a lookup.
	status, body := e.rawConnect(testToken + ".wild.example.test:443")
	if status != 403 || !strings.Contains(body, "host name") {
		t.Errorf("CONNECT with a token in the name = %d %q, want 403", status, body)
	}
	if status, _ := e.rawConnect("docs.wild.example.test:443"); status != 200 {
		t.Errorf("plain wildcard name = %d", status)
	}
}
