package sidecarinit

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestHealth(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz":
			w.Write([]byte("ok"))
		case "/draining":
			http.Error(w, "draining", http.StatusServiceUnavailable)
		case "/moved":
			http.Redirect(w, r, "/healthz", http.StatusFound)
		case "/slow":
			select {
			case <-time.After(10 * time.Second):
			case <-r.Context().Done():
			}
		}
	}))
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String() + "/healthz"
	ln.Close()

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
		within time.Duration
	}{
		{name: "200 is healthy", args: []string{"--health", srv.URL + "/healthz"}, code: 0, stdout: "healthy: GET " + srv.URL + "/healthz: HTTP 200"},
		{name: "503 is not", args: []string{"--health", srv.URL + "/draining"}, code: 1, stderr: "HTTP 503, want 200"},
		{name: "a redirect is not followed", args: []string{"--health", srv.URL + "/moved"}, code: 1, stderr: "HTTP 302"},
		{name: "no listener", args: []string{"--health", closed}, code: 1, stderr: "connection refused"},
		{name: "a hung server times out", args: []string{"--health", srv.URL + "/slow"}, code: 1, stderr: "deadline exceeded", within: healthTimeout + 2*time.Second},
		{name: "not an http URL", args: []string{"--health", "tcp://127.0.0.1:1"}, code: 1, stderr: "want an http:// or https:// URL"},
		{name: "daemon names with --health", args: []string{"--health", srv.URL, "egress"}, code: 2, stderr: "--health takes no daemon names"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			start := time.Now()
			// The daemons named in the environment do not exist: --health
			// never looks at them.
			getenv := func(k string) string {
				if k == "BOT_BOTTLE_SIDECAR_DAEMONS" {
					return "egress,nope"
				}
				return ""
			}
			code := Run(context.Background(), tt.args, getenv, &out, &errb)
			if code != tt.code || !strings.Contains(out.String(), tt.stdout) || !strings.Contains(errb.String(), tt.stderr) {
				t.Errorf("exit %d (want %d)\nstdout: %q (want %q)\nstderr: %q (want %q)", code, tt.code, out.String(), tt.stdout, errb.String(), tt.stderr)
			}
			if n := strings.Count(out.String()+errb.String(), "\n"); tt.code != 2 && n != 1 {
				t.Errorf("want one line of output, got %d", n)
			}
			if tt.within > 0 && time.Since(start) > tt.within {
				t.Errorf("took %v", time.Since(start))
			}
		})
	}
}

// TestHealthBinary runs the real binary as a compose healthcheck would, with
// a dead proxy in its environment (never used: health dials directly).
func TestHealthBinary(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	cmd := exec.Command(binary(t), "--health", srv.URL+"/healthz")
	cmd.Env = []string{"HTTP_PROXY=http://127.0.0.1:1", "http_proxy=http://127.0.0.1:1", "NO_PROXY=", "BOT_BOTTLE_SIDECAR_DAEMONS=egress"}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "healthy") {
		t.Errorf("%v: %s", err, out)
	}
	cmd = exec.Command(binary(t), "--health", "http://127.0.0.1:1/healthz")
	out, err = cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "unhealthy") {
		t.Errorf("closed port: %v: %s", err, out)
	}
}
