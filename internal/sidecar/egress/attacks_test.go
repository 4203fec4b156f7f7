package egress

// Regression tests for the attacks in notes/egress-attacks.md (F1-F13),
// each performed with a real client against the real proxy on loopback.
// They use only the test harness, so each can be run against older code.

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"
)

// pctAll percent-encodes every byte of s, in lower- or upper-case hex.
func pctAll(s string, upper bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		x := hex.EncodeToString([]byte{s[i]})
		if upper {
			x = strings.ToUpper(x)
		}
		b.WriteString("%" + x)
	}
	return b.String()
}

// jsonEscapeAll writes s as \u00XX escapes.
func jsonEscapeAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, `\u%04x`, s[i])
	}
	return b.String()
}

// plainUpstream is a plain-HTTP server on loopback recording what it got.
func plainUpstream(t *testing.T, h http.HandlerFunc) (port string, got func() []recorded) {
	t.Helper()
	u := &upstream{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		u.mu.Lock()
		u.got = append(u.got, recorded{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
		u.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		h(w, r)
	})}
	ln := listenLoopback(t)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return portOf(ln), u.requests
}

func leaked(got []recorded, needle string) bool {
	for _, r := range got {
		if strings.Contains(string(r.body), needle) || strings.Contains(r.query, needle) || strings.Contains(r.path, needle) {
			return true
		}
		for _, vs := range r.header {
			for _, v := range vs {
				if strings.Contains(v, needle) {
					return true
				}
			}
		}
	}
	return false
}

// F1: adding websocket upgrade headers to a POST must not carry its body
// past the DLP scan.
func TestAttackUpgradeHeadersOnPOSTDoNotSkipBodyDLP(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	up := e.startUpstream(false, echo, "other.example.test")
	pport, pgot := plainUpstream(t, echo)
	e.allowPorts(pport)
	body := `{"token":"` + ghToken + `"}`
	for _, c := range []struct{ name, url string }{
		{"MITM", "https://other.example.test:" + up.port + "/x"},
		{"plain HTTP", "http://plain.example.test:" + pport + "/x"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, stderr, code := e.curl("--http1.1", "-X", "POST", "-H", "Connection: Upgrade", "-H", "Upgrade: websocket",
				"-H", "Sec-WebSocket-Version: 13", "-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
				"--data-binary", body, "-w", "\n%{http_code}", c.url)
			if code != 0 {
				t.Fatalf("curl exit %d: %s", code, stderr)
			}
			if strings.HasSuffix(out, "\n200") || strings.HasSuffix(out, "\n101") {
				t.Errorf("POST with upgrade headers and a token was forwarded: %q", out)
			}
		})
	}
	if leaked(up.requests(), "ghp_") || leaked(pgot(), "ghp_") {
		t.Fatal("the token reached the upstream")
	}
}

// F2: one invalid %-escape in the query must not stop the decoded query
// from being scanned, and the query is forwarded as sent.
func TestAttackBadEscapeInQueryDoesNotHideToken(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	up := e.startUpstream(false, echo, "other.example.test")
	c := e.client(false)
	for _, q := range []string{
		"x=%zz&t=" + pctAll(ghToken, false),
		"t=" + pctAll(ghToken, true) + "&x=%",
		"x=%zz;t=" + pctAll(ghToken[:10], false) + ghToken[10:],
	} {
		resp, err := c.Get("https://other.example.test:" + up.port + "/q?" + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("query %q: status %d, want 403", q, resp.StatusCode)
		}
	}
	if leaked(up.requests(), "ghp_") {
		t.Fatal("the token reached the upstream")
	}
	// A clean query the proxy cannot parse goes on byte for byte.
	const raw = "a=1;b=2&x=%zz&c=%41+d"
	resp, err := c.Get("https://other.example.test:" + up.port + "/q?" + raw)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := up.requests()
	if resp.StatusCode != 200 || len(got) == 0 || got[len(got)-1].query != raw {
		t.Fatalf("clean query: status %d, upstream got %+v; want %q as sent", resp.StatusCode, got, raw)
	}
}

// F7: form and JSON bodies are scanned as the receiver decodes them,
// whatever the Content-Type's case, bad escapes, route or size; stacked
// Content-Encodings are refused.
func TestAttackEncodedBodiesAreScannedDecoded(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	up := e.startUpstream(false, echo, "other.example.test", "strict.example.test")
	c := e.client(false)
	var deflated bytes.Buffer
	fw, _ := flate.NewWriter(&deflated, 5)
	_, _ = fw.Write([]byte("t=" + ghToken))
	_ = fw.Close()
	big := strings.Repeat("pad=aaaaaaaaaa&", (2<<20)/15)
	for _, tc := range []struct {
		name, host, ctype string
		enc               []string
		body              string
		want              int
	}{
		{"form content type in mixed case", "other", "Application/X-WWW-Form-Urlencoded", nil, "t=" + pctAll(ghToken, false), 403},
		{"form with one bad escape", "other", "application/x-www-form-urlencoded", nil, "x=%zz&t=" + pctAll(ghToken, true), 403},
		{"form on a dlp_strict route", "strict", "application/x-www-form-urlencoded", nil, "t=" + pctAll(ghToken, false), 403},
		{"form over 1 MiB", "other", "application/x-www-form-urlencoded", nil, big + "t=" + pctAll(ghToken, false), 403},
		{"percent-encoded text body", "other", "text/plain", nil, "t=" + pctAll(ghToken, false), 403},
		{"two Content-Encoding headers", "other", "application/x-www-form-urlencoded", []string{"identity", "deflate"}, deflated.String(), 415},
		{"two encodings in one header", "other", "application/x-www-form-urlencoded", []string{"identity, deflate"}, deflated.String(), 415},
		{"JSON with \\u00XX escapes", "other", "application/json", nil, `{"t":"` + jsonEscapeAll(ghToken) + `"}`, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, "https://"+tc.host+".example.test:"+up.port+"/p", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.ctype)
			for _, v := range tc.enc {
				req.Header.Add("Content-Encoding", v)
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
	// (A streamed body may have started before the refusal: what was
	// sent must hold no part of the token.)
	for _, f := range []string{"ghp_", pctAll(ghToken[:8], false), pctAll(ghToken[:8], true), jsonEscapeAll(ghToken[:8])} {
		if leaked(up.requests(), f) {
			t.Fatalf("the token (as %q) reached the upstream", f)
		}
	}
}

// F8: an Upgrade other than websocket must not become a raw tunnel (on
// the credentialed route the upstream's banner echoed the credential).
func TestAttackNonWebsocketUpgradeIsRefused(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	up := e.startUpstream(false, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "" {
			echo(w, r)
			return
		}
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x-raw\r\nConnection: Upgrade\r\n\r\nbanner "+r.Header.Get("Authorization")+"\n")
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		line, _ := brw.ReadString('\n')
		_, _ = io.WriteString(c, "got "+line)
	}, "api.example.test", "other.example.test")
	for _, host := range []string{"api", "other"} {
		t.Run(host, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, "https://"+host+".example.test:"+up.port+"/v1/raw", nil)
			req.Header.Set("Connection", "Upgrade")
			req.Header.Set("Upgrade", "x-raw")
			resp, err := e.client(false).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode == http.StatusSwitchingProtocols {
				if rw, ok := resp.Body.(io.ReadWriter); ok {
					_, _ = io.WriteString(rw, ghToken+"\n")
				}
			}
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("status %d, want 400", resp.StatusCode)
			}
			if strings.Contains(string(b), testToken) {
				t.Error("the injected credential came back through the raw tunnel")
			}
		})
	}
}

// F12: the held credential is recognised in its common encodings on the
// way out.
func TestAttackEncodedHeldTokenIsBlocked(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	up := e.startUpstream(false, echo, "other.example.test")
	c := e.client(false)
	b64 := base64.StdEncoding.EncodeToString
	b64u := base64.URLEncoding.EncodeToString
	for name, body := range map[string]string{
		"raw":                   testToken,
		"upper-case hex":        strings.ToUpper(hex.EncodeToString([]byte(testToken))),
		"Basic user:token":      "Authorization-ish: Basic " + b64([]byte("user:"+testToken)),
		"base64 after 1 byte":   b64([]byte("x" + testToken)),
		"base64 after 2 bytes":  b64([]byte("xy" + testToken)),
		"base64url after 1":     b64u([]byte("x" + testToken)),
		"base64url after 2":     b64u([]byte("xy" + testToken)),
		"lower-case %xx":        pctAll(testToken, false),
		"mixed-case %xx":        pctAll(testToken[:10], true) + pctAll(testToken[10:], false),
		"JSON escapes":          jsonEscapeAll(testToken),
		"partly percent-encode": testToken[:5] + pctAll(testToken[5:9], false) + testToken[9:],
	} {
		t.Run(name, func(t *testing.T) {
			resp, err := c.Post("https://other.example.test:"+up.port+"/p", "text/plain", strings.NewReader("data "+body+" end"))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("status %d, want 403", resp.StatusCode)
			}
		})
	}
	if n := len(up.requests()); n != 0 {
		t.Fatalf("%d requests carrying the held token reached the upstream", n)
	}
}

// tokenForms are encodings of the injected credential a reflecting
// upstream might send back.
func tokenForms() []string {
	auth := "Bearer " + testToken
	return []string{
		testToken,
		hex.EncodeToString([]byte(testToken)),
		strings.ToUpper(hex.EncodeToString([]byte(testToken))),
		strings.TrimRight(base64.StdEncoding.EncodeToString([]byte(testToken)), "="),
		base64.StdEncoding.EncodeToString([]byte(auth))[12:40], // inside base64 of "Bearer TOKEN"
		base64.URLEncoding.EncodeToString([]byte("u:" + testToken))[4:40],
		pctAll(testToken, false),
	}
}

func containsTokenForm(s string) (string, bool) {
	for _, f := range tokenForms() {
		if strings.Contains(s, f) || strings.Contains(strings.ToLower(s), strings.ToLower(pctAll(testToken, false))) {
			return f, true
		}
	}
	return "", false
}

// F3: a reflecting upstream must not hand the injected credential back to
// the agent through any response channel.
func TestAttackReflectedCredentialNeverReachesAgent(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	reflect := func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		tok := strings.TrimPrefix(auth, "Bearer ")
		switch r.URL.Path {
		case "/v1/early":
			w.Header().Set("Link", "</x>; rel=preload; a="+auth)
			w.WriteHeader(http.StatusEarlyHints)
			w.Header().Del("Link")
			_, _ = io.WriteString(w, "ok")
		case "/v1/trailer":
			w.Header().Set("Trailer", "X-Echo")
			_, _ = io.WriteString(w, "body")
			w.Header().Set("X-Echo", auth)
		case "/v1/deflate":
			w.Header().Set("Content-Encoding", "deflate")
			fw, _ := flate.NewWriter(w, 5)
			// Enough text that flate Huffman-codes it (a short body is
			// stored raw, and a byte-level scrubber would see the token).
			_, _ = io.WriteString(fw, "echo "+auth+" "+strings.Repeat("lorem ipsum dolor sit amet ", 40))
			_ = fw.Close()
		case "/v1/range":
			http.ServeContent(w, r, "x.txt", time.Time{}, strings.NewReader("0123456789012345678901234 "+auth+" tail"))
		case "/v1/encoded":
			w.Header().Set("X-B64", base64.StdEncoding.EncodeToString([]byte(auth)))
			for _, f := range []string{
				hex.EncodeToString([]byte(tok)), strings.ToUpper(hex.EncodeToString([]byte(tok))),
				base64.StdEncoding.EncodeToString([]byte(auth)), base64.URLEncoding.EncodeToString([]byte("u:" + tok)),
				base64.StdEncoding.EncodeToString([]byte(tok)), pctAll(tok, false), pctAll(tok, true),
			} {
				_, _ = io.WriteString(w, f+"\n")
			}
		default:
			echo(w, r)
		}
	}
	up1 := e.startUpstream(false, reflect, "api.example.test")
	up2 := e.startUpstream(true, reflect, "api.example.test")

	check := func(t *testing.T, what, s string) {
		t.Helper()
		if f, ok := containsTokenForm(s); ok {
			t.Errorf("the credential (as %q) reached the agent in the %s", f, what)
		}
	}
	t.Run("103 early hints", func(t *testing.T) {
		var hints []string
		trace := &httptrace.ClientTrace{Got1xxResponse: func(code int, h textproto.MIMEHeader) error {
			hints = append(hints, fmt.Sprint(code, h))
			return nil
		}}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(t.Context(), trace), http.MethodGet, "https://api.example.test:"+up1.port+"/v1/early", nil)
		resp, err := e.client(false).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if len(hints) == 0 {
			t.Log("no 1xx reached the client")
		}
		check(t, "103 headers", strings.Join(hints, "\n"))
	})
	for _, h2 := range []bool{false, true} {
		up := up1
		if h2 {
			up = up2
		}
		t.Run(fmt.Sprintf("trailers h2=%v", h2), func(t *testing.T) {
			resp, err := e.client(h2).Get("https://api.example.test:" + up.port + "/v1/trailer")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if h2 && resp.ProtoMajor != 2 {
				t.Fatalf("not h2: %s", resp.Proto)
			}
			check(t, "body", string(b))
			check(t, "trailers", fmt.Sprint(resp.Trailer))
		})
	}
	t.Run("content-encoding deflate", func(t *testing.T) {
		resp, err := e.client(false).Get("https://api.example.test:" + up1.port + "/v1/deflate")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		plain, _ := io.ReadAll(flate.NewReader(bytes.NewReader(b)))
		check(t, "deflated body", string(b)+string(plain))
	})
	t.Run("range requests", func(t *testing.T) {
		var all string
		for _, rg := range []string{"bytes=0-40", "bytes=41-"} {
			req, _ := http.NewRequest(http.MethodGet, "https://api.example.test:"+up1.port+"/v1/range", nil)
			req.Header.Set("Range", rg)
			resp, err := e.client(false).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusPartialContent {
				all += string(b)
			}
		}
		check(t, "joined ranges", all)
	})
	t.Run("encoded reflections", func(t *testing.T) {
		resp, err := e.client(false).Get("https://api.example.test:" + up1.port + "/v1/encoded")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		check(t, "body", string(b))
		check(t, "headers", fmt.Sprint(resp.Header))
		if dec, err := base64.StdEncoding.DecodeString(resp.Header.Get("X-B64")); err == nil && strings.Contains(string(dec), testToken) {
			t.Error("base64 of the credential in a header reached the agent")
		}
	})
	t.Run("websocket messages to the agent", func(t *testing.T) {
		ws := e.startUpstream(false, func(w http.ResponseWriter, r *http.Request) {
			auth := r.Header.Get("Authorization")
			sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
			c, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				return
			}
			defer c.Close()
			_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "+
				base64.StdEncoding.EncodeToString(sum[:])+"\r\n\r\n")
			_, _ = c.Write(wsFrame(0x1, []byte("hello "+auth), false))
			// The same, split over two fragments.
			f1 := wsFrame(0x1, []byte("again "+auth[:15]), false)
			f1[0] &^= 0x80
			_, _ = c.Write(f1)
			_, _ = c.Write(wsFrame(0x0, []byte(auth[15:]), false))
			time.Sleep(200 * time.Millisecond)
		}, "api.example.test")
		conn, br := e.wsDialPath(t, "api.example.test", ws.port, "/v1/ws", "")
		defer conn.Close()
		var got string
		for i := 0; i < 3; i++ {
			_, op, _, payload, err := readWSFrame(br, 1<<20)
			if err != nil || op == 0x8 {
				break
			}
			got += string(payload)
		}
		if !strings.Contains(got, "hello") {
			t.Fatalf("no message from the upstream: %q", got)
		}
		check(t, "websocket messages", got)
	})
}

// F13: egress's own error text never quotes what a malformed upstream
// reply held (here the credential it was sent).
func TestAttackUpstreamErrorTextDoesNotQuoteCredential(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	up := e.startUpstream(false, func(w http.ResponseWriter, r *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nX-A "+r.Header.Get("Authorization")+"\r\n\r\n")
	}, "api.example.test")
	resp, err := e.client(false).Get("https://api.example.test:" + up.port + "/v1/x?q=" + url.QueryEscape("a"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("status %d, want 502", resp.StatusCode)
	}
	if f, ok := containsTokenForm(string(b)); ok {
		t.Fatalf("egress's error text quotes the credential (as %q): %q", f, b)
	}
}

// openPlainWS opens a plain-HTTP websocket through egress (an
// absolute-form proxy request) and returns the connection and status.
func openPlainWS(t *testing.T, e *env, hostport string) (net.Conn, *bufio.Reader, int) {
	t.Helper()
	c := dialRaw(t, e.addr)
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	_, _ = io.WriteString(c, "GET http://"+hostport+"/ws HTTP/1.1\r\nHost: "+hostport+"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: MDEyMzQ1Njc4OWFiY2RlZg==\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, br, resp.StatusCode
}

// F5: a frame header declaring megabytes, then nothing, must not make
// egress allocate them; such a silent socket is closed after the idle
// timeout; plain-HTTP websockets count against the tunnel cap.
func TestAttackWebsocketFrameHeaderExhaustion(t *testing.T) {
	e := newEnv(t, baseRoutes, func(c *Config) { c.IdleTimeout = time.Second; c.MaxTunnels = 48 })
	ws := &wsEchoServer{}
	up := e.startUpstream(false, ws.handler, "other.example.test")
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const n, declared = 40, 3<<20 + 512<<10
	var conns []net.Conn
	for i := 0; i < n; i++ {
		c, _ := e.wsDial(t, "other.example.test", up.port)
		conns = append(conns, c)
		hdr := []byte{0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}
		binary.BigEndian.PutUint64(hdr[2:10], declared)
		if _, err := c.Write(hdr); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond) // let egress read the headers
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 64<<20 {
		t.Errorf("%d frame headers without payload grew egress's heap by %d MiB", n, grew>>20)
	}
	// Silent sockets are closed by egress, not held forever.
	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 256)
		for {
			_, err := c.Read(buf)
			if err == nil {
				continue
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("socket %d: egress kept a silent websocket open past its idle timeout", i)
			}
			break
		}
		c.Close()
	}

	// Plain-HTTP websockets take tunnel slots.
	e2 := newEnv(t, baseRoutes, func(c *Config) { c.MaxTunnels = 2 })
	ws2 := &wsEchoServer{}
	pport, _ := plainUpstream(t, ws2.handler)
	e2.allowPorts(pport)
	for i := 0; i < 2; i++ {
		c, _, code := openPlainWS(t, e2, "plain.example.test:"+pport)
		defer c.Close()
		if code != http.StatusSwitchingProtocols {
			t.Fatalf("websocket %d: status %d", i, code)
		}
	}
	c, _, code := openPlainWS(t, e2, "plain.example.test:"+pport)
	defer c.Close()
	if code != http.StatusServiceUnavailable {
		t.Fatalf("a websocket past the tunnel cap got %d, want 503", code)
	}
}

// F11: closed websockets leave no per-connection state behind.
func TestAttackClosedWebsocketsLeaveNoState(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	ws := &wsEchoServer{}
	up := e.startUpstream(false, ws.handler, "other.example.test")
	for i := 0; i < 20; i++ {
		c, br := e.wsDial(t, "other.example.test", up.port)
		_, _ = c.Write(fragment(0x1, []byte("hi"), true))
		_, _, _, _, _ = readWSFrame(br, 1<<20)
		_, _ = c.Write(fragment(0x8, []byte{3, 232}, true))
		c.Close()
	}
	count := func() int {
		k := 0
		e.proxy.targets.Range(func(_, _ any) bool { k++; return true })
		return k
	}
	deadline := time.Now().Add(10 * time.Second)
	for count() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if k := count(); k != 0 {
		t.Fatalf("%d of 20 closed websockets are still tracked", k)
	}
}

// F4: a gzip bomb is refused while it streams, never inflated in memory.
func TestAttackGzipBombIsNotInflatedInMemory(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	up := e.startUpstream(false, echo, "other.example.test")
	var bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&bomb, gzip.BestCompression)
	zeros := make([]byte, 1<<20)
	for i := 0; i < 256; i++ { // 256 MiB of zeros: about 250 KiB of gzip
		_, _ = zw.Write(zeros)
	}
	_ = zw.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	req, _ := http.NewRequest(http.MethodPost, "https://other.example.test:"+up.port+"/p", bytes.NewReader(bomb.Bytes()))
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := e.client(false).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	runtime.ReadMemStats(&after)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("gzip bomb of %d bytes: status %d, want 413", bomb.Len(), resp.StatusCode)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 128<<20 {
		t.Errorf("a %d KiB gzip bomb made egress allocate %d MiB", bomb.Len()>>10, alloc>>20)
	}
	if n := len(up.requests()); n != 0 {
		t.Errorf("the bomb was forwarded %d times", n)
	}
}

// F6: a passthrough tunnel carries only TLS whose SNI names the CONNECT
// host: no domain fronting to undeclared hosts on the same front end.
func TestAttackPassthroughDomainFrontingRefused(t *testing.T) {
	e := newEnv(t, passRoutes, nil)
	up := startUpstream(t, e.upCA, false, echo, "pass.example.test", "evil.example.test")
	e.allowPorts(up.port)
	pool := x509.NewCertPool()
	pool.AddCert(e.upCA.Cert)
	for _, tc := range []struct {
		name  string
		start func(c net.Conn) error
	}{
		{"SNI of another host", func(c net.Conn) error {
			tc := tls.Client(c, &tls.Config{ServerName: "evil.example.test", RootCAs: pool})
			if err := tc.Handshake(); err != nil {
				return err
			}
			_, err := io.WriteString(tc, "GET /x HTTP/1.1\r\nHost: evil.example.test\r\n\r\n")
			return err
		}},
		{"no SNI", func(c net.Conn) error {
			tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true})
			if err := tc.Handshake(); err != nil {
				return err
			}
			_, err := io.WriteString(tc, "GET /x HTTP/1.1\r\nHost: evil.example.test\r\n\r\n")
			return err
		}},
		{"not TLS", func(c net.Conn) error {
			_, err := io.WriteString(c, "GET /x HTTP/1.1\r\nHost: evil.example.test\r\n\r\n")
			if err == nil {
				_, err = c.Read(make([]byte, 1))
			}
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialRaw(t, e.addr)
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			_, _ = io.WriteString(c, "CONNECT pass.example.test:"+up.port+" HTTP/1.1\r\nHost: pass.example.test:"+up.port+"\r\n\r\n")
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("CONNECT: %v %v", resp, err)
			}
			if err := tc.start(c); err == nil {
				t.Error("the tunnel carried the session")
			}
		})
	}
	time.Sleep(100 * time.Millisecond)
	if got := up.requests(); len(got) != 0 {
		t.Fatalf("the upstream answered %d fronted requests", len(got))
	}
}

// F9: a method override is checked against the allowlist as the method
// it names.
func TestAttackMethodOverrideBypassesAllowlist(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	up := e.startUpstream(false, echo, "api.example.test", "other.example.test")
	c := e.client(false)
	big := strings.Repeat("pad=aaaaaaaaaa&", (2<<20)/15)
	for _, tc := range []struct {
		name, host, query, ctype, body string
		header                         [2]string
		want                           int
	}{
		{"X-HTTP-Method-Override", "api", "", "", "", [2]string{"X-HTTP-Method-Override", "DELETE"}, 405},
		{"X-HTTP-Method", "api", "", "", "", [2]string{"X-HTTP-Method", "delete"}, 405},
		{"X-Method-Override", "api", "", "", "", [2]string{"X-Method-Override", "PUT"}, 405},
		{"_method in the query", "api", "?_method=DELETE", "", "", [2]string{}, 405},
		{"escaped _method in the query", "api", "?%5Fmethod=PATCH", "", "", [2]string{}, 405},
		{"_method in a form body", "api", "", "application/x-www-form-urlencoded", "a=1&_method=DELETE", [2]string{}, 405},
		{"_method at the end of a large form body", "api", "", "application/x-www-form-urlencoded", big + "_method=DELETE", [2]string{}, 405},
		{"_method in a JSON body", "api", "", "application/json", `{"_method": "PUT"}`, [2]string{}, 405},
		{"override to TRACE on a route without a list", "other", "", "", "", [2]string{"X-HTTP-Method-Override", "TRACE"}, 405},
		{"override to an allowed method", "api", "", "", "", [2]string{"X-HTTP-Method-Override", "GET"}, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, "https://"+tc.host+".example.test:"+up.port+"/v1/items"+tc.query, strings.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			if tc.header[0] != "" {
				req.Header.Set(tc.header[0], tc.header[1])
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
	for _, r := range up.requests() {
		if r.header.Get("X-HTTP-Method-Override") != "GET" && !(len(r.body) > 1<<20) {
			t.Errorf("an override the route does not allow reached the upstream: %s %s?%s %q", r.method, r.path, r.query, r.header)
		}
		if len(r.body) > 1<<20 && bytes.Contains(r.body, []byte("_method=DELETE")) {
			t.Error("the large body's _method=DELETE reached the upstream")
		}
	}
}

// F10: a route covers only its ports (443 unless it lists others), and
// egress never proxies to its own listeners even when a route lists their
// port and ssrf_allow covers their address.
func TestAttackRouteDoesNotGrantEveryPortNorEgressItself(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	_, adminPort, _ := net.SplitHostPort(e.admin)
	_, proxyPort, _ := net.SplitHostPort(e.addr)
	other := listenLoopback(t) // another local service
	go func() {
		for {
			c, err := other.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\nanswer\n")
			c.Close()
		}
	}()
	get := func(url string) (int, string) {
		out, stderr, code := e.curl("-w", "\n%{http_code}", url)
		if code != 0 {
			t.Fatalf("curl %s: exit %d %s", url, code, stderr)
		}
		i := strings.LastIndex(out, "\n")
		return atoiOr(out[i+1:]), out[:i]
	}
	for _, port := range []string{adminPort, portOf(other)} {
		if status, body := get("http://other.example.test:" + port + "/routes"); status != 403 || strings.Contains(body, "answer") || strings.Contains(body, "api.example.test") {
			t.Errorf("plain HTTP to undeclared port %s: %d %q", port, status, body)
		}
	}
	// Even when the operator lists the ports: never egress itself.
	e.allowPorts(adminPort, proxyPort)
	for _, port := range []string{adminPort, proxyPort} {
		if status, body := get("http://other.example.test:" + port + "/routes"); status != 403 || strings.Contains(body, "api.example.test") {
			t.Errorf("plain HTTP to egress's own port %s: %d %q", port, status, body)
		}
	}
	if status, _ := e.rawConnect("other.example.test:" + adminPort); status == 200 {
		c := dialRaw(t, e.addr)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		_, _ = io.WriteString(c, "CONNECT other.example.test:"+adminPort+" HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(c)
		_, _ = http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
		pool := x509.NewCertPool()
		pool.AddCert(e.ca.Cert)
		tc := tls.Client(c, &tls.Config{ServerName: "other.example.test", RootCAs: pool})
		_, _ = io.WriteString(tc, "GET /routes HTTP/1.1\r\nHost: other.example.test:"+adminPort+"\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != 403 || strings.Contains(string(b), "api.example.test") {
				t.Errorf("MITM'd request to egress's admin port: %d %q", resp.StatusCode, b)
			}
		}
	}
}

func atoiOr(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// Slowloris: a request body that stalls is cut off after the body read
// timeout instead of holding the handler for as long as the agent likes.
func TestAttackStalledRequestBodyIsCutOff(t *testing.T) {
	e := newEnv(t, baseRoutes, func(c *Config) { c.BodyReadTimeout = time.Second })
	up := e.startUpstream(false, echo, "other.example.test")
	for _, size := range []int{100, 4 << 20} { // whole-body and streamed
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			c := dialRaw(t, e.addr)
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(15 * time.Second))
			hp := "other.example.test:" + up.port
			_, _ = io.WriteString(c, "CONNECT "+hp+" HTTP/1.1\r\nHost: "+hp+"\r\n\r\n")
			br := bufio.NewReader(c)
			if resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect}); err != nil || resp.StatusCode != 200 {
				t.Fatalf("CONNECT: %v %v", resp, err)
			}
			pool := x509.NewCertPool()
			pool.AddCert(e.ca.Cert)
			tc := tls.Client(c, &tls.Config{ServerName: "other.example.test", RootCAs: pool, NextProtos: []string{"http/1.1"}})
			_, _ = fmt.Fprintf(tc, "POST /p HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", hp, size)
			_, _ = tc.Write(make([]byte, min(size, 2<<20)-1)) // then nothing
			_, err := http.ReadResponse(bufio.NewReader(tc), nil)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("egress still waits for a stalled request body")
			}
		})
	}
}

// The routes file's dlp settings work as documented: enabled: false and
// action: log let rule findings through; the held credential never.
func TestRoutesFileDLPSettingsTakeEffect(t *testing.T) {
	for _, tc := range []struct {
		name, dlp string
		ruleWant  int
	}{
		{"default", "", 403},
		{"enabled false", "dlp: {enabled: false}\n", 200},
		{"action log", "dlp: {action: log}\n", 200},
		{"block", "dlp: {enabled: true, action: block}\n", 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, strings.Replace(baseRoutes, "version: 1\n", "version: 1\n"+tc.dlp, 1), nil)
			up := e.startUpstream(false, echo, "other.example.test")
			post := func(body string) int {
				resp, err := e.client(false).Post("https://other.example.test:"+up.port+"/p", "text/plain", strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			if got := post("t=" + ghToken); got != tc.ruleWant {
				t.Errorf("a rule finding: status %d, want %d", got, tc.ruleWant)
			}
			if got := post("t=" + testToken); got != 403 {
				t.Errorf("the held credential: status %d, want 403", got)
			}
		})
	}
}
