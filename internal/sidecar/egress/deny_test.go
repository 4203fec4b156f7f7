package egress

import (
	"strings"
	"testing"
)

func TestDenyBody(t *testing.T) {
	rf := testRoutes(t)
	for _, c := range []struct {
		name string
		req  Request
		host string
		want []string // substrings, in order
	}{
		{"no route", inTunnel("api.undeclared.test", "/"), "api.undeclared.test",
			[]string{"egress: api.undeclared.test is not an allowed destination for this bottle.\n", "egress-block", "supervise", "why"}},
		{"no route, odd host", inTunnel("evil\r\nX-Injected: 1", "/"), "evil\r\nX-Injected: 1",
			[]string{`"evil\r\nX-Injected: 1" is not an allowed destination`}},
		{"bad host", with(inTunnel("open.example.test", "/"), func(r *Request) { r.HostHeader = "" }), "open.example.test",
			[]string{"no valid Host header"}},
		{"host mismatch", with(inTunnel("open.example.test", "/"), func(r *Request) { r.HostHeader = "api.example.test" }), "open.example.test",
			[]string{"different host or port", "CONNECT open.example.test", "new connection"}},
		{"auth needs TLS", plainHTTP("api.example.test", "/v1/"), "api.example.test",
			[]string{"only over HTTPS", "https://api.example.test/"}},
		{"auth needs TLS, IPv6", plainHTTP("api.example.test", "/v1/"), "2001:db8::10",
			[]string{"https://[2001:db8::10]/"}},
		{"bad path", inTunnel("api.example.test", "/v1%2Fx"), "api.example.test",
			[]string{"refused the request path: path contains an encoded slash (%2F).\n", "normalised path"}},
		{"git push", with(inTunnel("github.example.test", "/o/r.git/git-receive-pack"), func(r *Request) { r.Method = "POST" }), "github.example.test",
			[]string{"git push over HTTP(S) is refused", "push through the git gate: your remote for this repo is http://git-gate:9420/<name>.git"}},
		{"path not allowed", inTunnel("api.example.test", "/admin"), "api.example.test",
			[]string{"not allowed on api.example.test", "/v1/, /v2", "egress-block"}},
		{"method not allowed", with(inTunnel("mirror.example.test", "/"), func(r *Request) { r.Method = "PUT" }), "mirror.example.test",
			[]string{"method is not allowed on mirror.example.test", "GET, HEAD", "egress-block"}},
		{"port not allowed", with(inTunnel("api.example.test", "/v1/"), func(r *Request) { r.ConnectPort, r.HostHeader = "8443", "api.example.test:8443" }), "api.example.test",
			[]string{"api.example.test:8443 is not allowed", "only HTTPS, on port 443", "egress-block", "host and the port"}},
		{"port not allowed, listed ports", inTunnel("ports.example.test", "/"), "ports.example.test",
			[]string{"ports.example.test:443 is not allowed", "only ports 80, 8080, 8443", "egress-block"}},
		{"plain HTTP port not allowed", plainHTTP("open.example.test", "/"), "open.example.test",
			[]string{"plain HTTP to open.example.test:80 is not allowed", "only HTTPS, on port 443", "egress-block"}},
		{"port not allowed, IPv6", with(inTunnel("2001:db8::10", "/"), func(r *Request) { r.ConnectPort, r.HostHeader = "22", "[2001:db8::10]:22" }), "2001:db8::10",
			[]string{"[2001:db8::10]:22 is not allowed"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := Decide(rf, c.req)
			body := DenyBody(d, c.host)
			rest := strings.ToLower(body)
			for _, w := range c.want {
				i := strings.Index(rest, strings.ToLower(w))
				if i < 0 {
					t.Fatalf("DenyBody(%s) = %q; want it to contain %q (after the previous ones)", d.Rule, body, w)
				}
				rest = rest[i+len(w):]
			}
			if !strings.HasPrefix(body, "egress: ") || !strings.HasSuffix(body, "\n") {
				t.Errorf("DenyBody = %q; want \"egress: ...\\n\"", body)
			}
			if strings.ContainsAny(strings.TrimSuffix(body, "\n"), "\r") {
				t.Errorf("DenyBody = %q holds a carriage return", body)
			}
		})
	}
	t.Run("exact no-route body", func(t *testing.T) {
		got := DenyBody(Decide(rf, inTunnel("api.undeclared.test", "/")), "api.undeclared.test")
		want := "egress: api.undeclared.test is not an allowed destination for this bottle.\n" +
			"If you need it, ask the operator with the egress-block tool (supervise) and say why.\n"
		if got != want {
			t.Fatalf("DenyBody =\n%q\nwant\n%q", got, want)
		}
	})
	t.Run("exact port-not-allowed body", func(t *testing.T) {
		got := DenyBody(ConnectDecision(rf, "api.example.test", "22"), "api.example.test")
		want := "egress: api.example.test:22 is not allowed for this bottle; the route allows only HTTPS, on port 443.\n" +
			"If you need that port, ask the operator with the egress-block tool (supervise) and say why; name the host and the port (the operator adds ports to a route in the bottle).\n"
		if got != want {
			t.Fatalf("DenyBody =\n%q\nwant\n%q", got, want)
		}
	})
	t.Run("allowed", func(t *testing.T) {
		if got := DenyBody(Decide(rf, inTunnel("open.example.test", "/")), "open.example.test"); got != "" {
			t.Fatalf("DenyBody of an allowed request = %q", got)
		}
	})
	t.Run("unknown rule", func(t *testing.T) {
		if got := DenyBody(Decision{Rule: "dlp"}, "a.test"); !strings.Contains(got, "rule dlp") {
			t.Fatalf("DenyBody = %q", got)
		}
	})
}
