package probe

import (
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http/httpguts"
)

// echo answers with what it received, at the status ?status= asks for.
func echo(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/big":
		w.Write([]byte(strings.Repeat("x", maxBody+100)))
		return
	case "/slow":
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
		return
	case "/redirect":
		http.Redirect(w, r, "/elsewhere", http.StatusFound)
		return
	}
	body, _ := io.ReadAll(r.Body)
	if s := r.URL.Query().Get("status"); s != "" {
		var code int
		fmt.Sscan(s, &code)
		w.WriteHeader(code)
	}
	fmt.Fprintf(w, "method=%s host=%s x-test=%q body=%q", r.Method, r.Host, r.Header.Get("X-Test"), body)
}

// writeCA writes srv's certificate as a PEM file and returns its path.
func writeCA(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(path, pemBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestHTTP(t *testing.T) {
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(echo))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted case's handshake error
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	plain := httptest.NewServer(http.HandlerFunc(echo))
	defer plain.Close()
	// proxy answers every request itself, saying which absolute URL it got:
	// proof the probe sent the request to the proxy.
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "proxied %s %s", r.Method, r.URL.String())
	}))
	defer proxy.Close()
	// refuser refuses every CONNECT with an explanation, as egress does for
	// an undeclared host.
	refuser := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		http.Error(w, "egress: "+r.Host+" is not declared; ask with egress-block", http.StatusForbidden)
	}))
	defer refuser.Close()
	ca := writeCA(t, tlsSrv)
	dataFile := filepath.Join(t.TempDir(), "body")
	if err := os.WriteFile(dataFile, []byte("from a file"), 0o644); err != nil {
		t.Fatal(err)
	}
	badCA := filepath.Join(t.TempDir(), "bad.pem")
	if err := os.WriteFile(badCA, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}

	runCases(t, "http", []runCase{
		{name: "TLS trusted through --ca", args: []string{"--ca", ca, tlsSrv.URL + "/"},
			code: ExitOK, stdout: "HTTP 200\nmethod=GET"},
		{name: "TLS trusted through BOT_BOTTLE_CA_CERT", environ: []string{EnvCACert + "=" + ca}, args: []string{tlsSrv.URL + "/"},
			code: ExitOK, stdout: "HTTP 200\n"},
		{name: "TLS without the CA is a transport error", args: []string{tlsSrv.URL + "/"},
			code: ExitFail, stderr: "certificate"},
		{name: "non-2xx exits 3 and prints the body", args: []string{"--ca", ca, tlsSrv.URL + "/?status=403"},
			code: ExitStatus, stdout: "HTTP 403\nmethod=GET"},
		{name: "-i prints the response headers, sorted, before the body", args: []string{"-i", plain.URL + "/redirect"},
			code: ExitStatus, stdout: "HTTP 302\nContent-Length: 33\nContent-Type: text/html; charset=utf-8\nDate: "},
		{name: "-i headers end with an empty line", args: []string{"-i", "-d", "x", plain.URL + "/"},
			code: ExitOK, stdout: "\n\nmethod=POST"},
		{name: "redirects are not followed", args: []string{plain.URL + "/redirect"},
			code: ExitStatus, stdout: "HTTP 302\n"},
		{name: "data makes a POST", args: []string{"-d", "hello", "-H", "X-Test: one two", plain.URL + "/"},
			code: ExitOK, stdout: `method=POST host=` + strings.TrimPrefix(plain.URL, "http://") + ` x-test="one two" body="hello"`},
		{name: "method and Host header", args: []string{"-X", "PUT", "-H", "Host: api.example.test", plain.URL + "/"},
			code: ExitOK, stdout: `method=PUT host=api.example.test`},
		{name: "data from a file", args: []string{"--data-file", dataFile, plain.URL + "/"},
			code: ExitOK, stdout: `body="from a file"`},
		{name: "data from stdin", stdin: "piped", args: []string{"--data-file", "-", plain.URL + "/"},
			code: ExitOK, stdout: `body="piped"`},
		{name: "flags after the URL", args: []string{plain.URL + "/", "-X", "DELETE"},
			code: ExitOK, stdout: "method=DELETE"},
		{name: "body is cut at 64 KiB", args: []string{plain.URL + "/big"},
			code: ExitOK, stdout: "HTTP 200\n" + strings.Repeat("x", maxBody) + "\n", stderr: "body cut at 65536 bytes"},
		{name: "HTTP_PROXY is used", environ: []string{"HTTP_PROXY=" + proxy.URL}, args: []string{"http://upstream.example.test/x"},
			code: ExitOK, stdout: "HTTP 200\nproxied GET http://upstream.example.test/x"},
		{name: "lower-case http_proxy is used", environ: []string{"http_proxy=" + proxy.URL}, args: []string{"http://upstream.example.test/y"},
			code: ExitOK, stdout: "proxied GET http://upstream.example.test/y"},
		{name: "NO_PROXY bypasses the proxy", environ: []string{"HTTP_PROXY=" + proxy.URL, "NO_PROXY=.invalid"},
			args: []string{"--timeout", "1s", "http://upstream.invalid/"}, code: ExitFail, stderr: "upstream.invalid"},
		{name: "a refused CONNECT prints the proxy's status and body", environ: []string{"HTTPS_PROXY=" + refuser.URL},
			args: []string{"https://undeclared.example.test/"},
			code: ExitStatus, stdout: "HTTP 403\negress: undeclared.example.test:443 is not declared; ask with egress-block\n",
			stderr: "the proxy refused CONNECT undeclared.example.test"},
		{name: "connection refused", args: []string{"http://" + closedPort(t) + "/"},
			code: ExitFail, stderr: "refused"},
		{name: "timeout", args: []string{"--timeout", "200ms", plain.URL + "/slow"},
			code: ExitFail, stderr: "Timeout"},
		{name: "no URL", args: nil, code: ExitUsage, stderr: "want exactly one URL"},
		{name: "not an http URL", args: []string{"ftp://x/"}, code: ExitUsage, stderr: "want an http:// or https:// URL"},
		{name: "bad header", args: []string{"-H", "no colon", plain.URL}, code: ExitUsage, stderr: "want 'Name: value'"},
		{name: "data twice", args: []string{"-d", "a", "--data-file", dataFile, plain.URL}, code: ExitUsage, stderr: "not both"},
		{name: "CA file missing", args: []string{"--ca", "/nonexistent/ca.pem", plain.URL}, code: ExitUsage, stderr: "--ca"},
		{name: "CA file without a certificate", args: []string{"--ca", badCA, plain.URL}, code: ExitUsage, stderr: "no PEM certificate"},
	})
}

func TestParseHeader(t *testing.T) {
	tests := []struct {
		in, name, value string
		ok              bool
	}{
		{"X-Test: a b", "X-Test", "a b", true},
		{"x-test:v", "X-Test", "v", true},
		{"Empty:", "Empty", "", true},
		{"A: b: c", "A", "b: c", true},
		{"no colon", "", "", false},
		{": v", "", "", false},
		{"Bad Name: v", "", "", false},
		{"X: a\r\nInjected: b", "", "", false},
	}
	for _, tt := range tests {
		name, value, err := parseHeader(tt.in)
		if (err == nil) != tt.ok || name != tt.name || value != tt.value {
			t.Errorf("parseHeader(%q) = %q, %q, %v; want %q, %q, ok=%v", tt.in, name, value, err, tt.name, tt.value, tt.ok)
		}
	}
}

// FuzzParseHeader: whatever parseHeader accepts is a header net/http will
// send unchanged: a token name and a value without line breaks.
func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{"X-Test: a", "a:b", ":", "A: b\r\nC: d", "Host: h", "\x00: x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, value, err := parseHeader(s)
		if err != nil {
			return
		}
		if !httpguts.ValidHeaderFieldName(name) {
			t.Fatalf("accepted name %q", name)
		}
		if strings.ContainsAny(value, "\r\n\x00") || value != strings.TrimSpace(value) {
			t.Fatalf("accepted value %q", value)
		}
		h := http.Header{}
		h.Add(name, value)
		if h.Get(name) != value {
			t.Fatalf("header %q: %q did not round-trip", name, value)
		}
	})
}
