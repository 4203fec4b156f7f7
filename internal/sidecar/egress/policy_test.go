package egress

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// inTunnel is a GET for path inside a TLS tunnel to host:443 whose Host
// header names the same host.
func inTunnel(host, path string) Request {
	return Request{ConnectHost: host, ConnectPort: "443", HostHeader: host, Method: "GET", EscapedPath: path, TLS: true}
}

// plainHTTP is a plain-HTTP proxy GET for path on host.
func plainHTTP(host, path string) Request {
	return Request{HostHeader: host, Method: "GET", EscapedPath: path}
}

// with returns r changed by f.
func with(r Request, f func(*Request)) Request {
	f(&r)
	return r
}

func TestConnectDecision(t *testing.T) {
	rf := testRoutes(t)
	for _, c := range []struct {
		host, port string
		wantRoute  string
		wantRule   Rule
	}{
		{"api.example.test", "443", "api.example.test", RuleAllow},
		{"API.Example.TEST", "443", "api.example.test", RuleAllow},
		{"api.example.test.", "443", "api.example.test", RuleAllow},
		{"api.example.test..", "443", "", RuleNoRoute},
		{"x.api.example.test", "443", "", RuleNoRoute},
		{"example.test", "443", "", RuleNoRoute},
		{"a.cdn.example.test", "443", "*.cdn.example.test", RuleAllow},
		{"a.b.cdn.example.test", "443", "*.cdn.example.test", RuleAllow},
		{"cdn.example.test", "443", "", RuleNoRoute},
		{"*.cdn.example.test", "443", "", RuleNoRoute},
		{"registry.example.test", "443", "registry.example.test", RuleAllow},
		{"192.0.2.10", "443", "192.0.2.10", RuleAllow},
		{"192.0.2.10.", "443", "192.0.2.10", RuleAllow},
		{"192.0.2.11", "443", "", RuleNoRoute},
		{"2001:db8::10", "443", "2001:db8::10", RuleAllow},
		{"2001:DB8:0:0::10", "443", "2001:db8::10", RuleAllow},
		{"[2001:db8::10]", "443", "", RuleNoRoute},
		{"::ffff:192.0.2.10", "443", "", RuleNoRoute},
		{"3221226058", "443", "", RuleNoRoute}, // 192.0.2.10 as one number
		{"0xc0.0.2.10", "443", "", RuleNoRoute},
		{"api.example.test:443", "443", "", RuleNoRoute},
		{"", "443", "", RuleNoRoute},
		{"undeclared.example.test", "443", "", RuleNoRoute},

		// Ports: 443 unless the route lists its own.
		{"api.example.test", "8443", "api.example.test", RulePortNotAllowed},
		{"api.example.test", "22", "api.example.test", RulePortNotAllowed},
		{"api.example.test", "80", "api.example.test", RulePortNotAllowed},
		{"a.cdn.example.test", "8443", "*.cdn.example.test", RulePortNotAllowed},
		{"2001:db8::10", "22", "2001:db8::10", RulePortNotAllowed},
		{"admin.example.test", "80", "admin.example.test", RuleAllow},
		{"admin.example.test", "8443", "admin.example.test", RulePortNotAllowed},
		{"ports.example.test", "8443", "ports.example.test", RuleAllow},
		{"ports.example.test", "8080", "ports.example.test", RuleAllow},
		{"ports.example.test", "443", "ports.example.test", RulePortNotAllowed},
		{"ports.example.test", "22", "ports.example.test", RulePortNotAllowed},
		{"registry.example.test", "8443", "registry.example.test", RulePortNotAllowed},
		{"registry.example.test", "22", "registry.example.test", RulePortNotAllowed},
		{"pass-ports.example.test", "8443", "pass-ports.example.test", RuleAllow},
		{"pass-ports.example.test", "443", "pass-ports.example.test", RuleAllow},
		{"pass-ports.example.test", "22", "pass-ports.example.test", RulePortNotAllowed},
		{"api.example.test", "0443", "api.example.test", RuleBadHost},
		{"api.example.test", "0", "api.example.test", RuleBadHost},
		{"api.example.test", "65536", "api.example.test", RuleBadHost},
		{"api.example.test", "+443", "api.example.test", RuleBadHost},
		{"api.example.test", "https", "api.example.test", RuleBadHost},
		{"api.example.test", "", "api.example.test", RuleBadHost},
		{"undeclared.example.test", "22", "", RuleNoRoute},
		{"undeclared.example.test", "bad", "", RuleNoRoute},
	} {
		t.Run(c.host+" port "+c.port, func(t *testing.T) {
			d := ConnectDecision(rf, c.host, c.port)
			got := ""
			if d.Route != nil {
				got = d.Route.Host
			}
			if got != c.wantRoute || d.Rule != c.wantRule || d.Allow != (c.wantRule == RuleAllow) {
				t.Fatalf("ConnectDecision(%q, %q) = route %q, %s; want %q, %s", c.host, c.port, got, d.Rule, c.wantRoute, c.wantRule)
			}
			wantStatus := map[Rule]int{RuleAllow: 0, RuleNoRoute: 403, RulePortNotAllowed: 403, RuleBadHost: 400}[c.wantRule]
			if d.Status != wantStatus {
				t.Errorf("status %d, want %d", d.Status, wantStatus)
			}
			if (d.Port != "") != (d.Allow || d.Rule == RulePortNotAllowed) || d.Port != "" && d.Port != c.port {
				t.Errorf("Port = %q for %s; want the CONNECT port when allowed or refused for it", d.Port, d.Rule)
			}
			if d.Allow != (d.Reason == "") {
				t.Errorf("Reason = %q", d.Reason)
			}
		})
	}
	t.Run("nil routes file", func(t *testing.T) {
		if d := ConnectDecision(nil, "api.example.test", "443"); d.Allow || d.Route != nil || d.Rule != RuleNoRoute {
			t.Fatalf("ConnectDecision(nil) = %+v", d)
		}
	})
}

// A declared host is reachable on the route's ports only: a CONNECT to
// its SSH port, or to 80, must never become a TLS tunnel or a dial. The
// refusal names the host and port and says how to ask.
func TestConnectToAnotherPortOfADeclaredHostRefused(t *testing.T) {
	rf := testRoutes(t)
	for _, target := range [][2]string{
		{"api.example.test", "22"}, {"api.example.test", "80"}, {"api.example.test", "8443"},
		{"open.example.test", "6379"}, {"registry.example.test", "22"}, {"ports.example.test", "443"},
	} {
		t.Run(target[0]+":"+target[1], func(t *testing.T) {
			d := ConnectDecision(rf, target[0], target[1])
			if d.Allow || d.Rule != RulePortNotAllowed || d.Status != 403 {
				t.Fatalf("ConnectDecision = %+v; want port-not-allowed 403", d)
			}
			body := DenyBody(d, target[0])
			for _, want := range []string{target[0] + ":" + target[1] + " is not allowed", "egress-block", "port"} {
				if !strings.Contains(body, want) {
					t.Errorf("DenyBody = %q; want it to contain %q", body, want)
				}
			}
		})
	}
}

// decideCase is one Decide case. wantRoute "" means no route.
type decideCase struct {
	name       string
	req        Request
	wantRule   Rule
	wantStatus int
	wantRoute  string
	wantPath   string
}

var decideCases = []decideCase{
	// Allowed.
	{"allowed path", inTunnel("api.example.test", "/v1/models"), RuleAllow, 0, "api.example.test", "/v1/models"},
	{"prefix without slash, exact", inTunnel("api.example.test", "/v2"), RuleAllow, 0, "api.example.test", "/v2"},
	{"prefix without slash, below", inTunnel("api.example.test", "/v2/x"), RuleAllow, 0, "api.example.test", "/v2/x"},
	{"decoded path", inTunnel("api.example.test", "/v1/caf%C3%A9"), RuleAllow, 0, "api.example.test", "/v1/café"},
	{"listed POST", with(inTunnel("api.example.test", "/v1/chat"), func(r *Request) { r.Method = "POST" }), RuleAllow, 0, "api.example.test", "/v1/chat"},
	{"host header with default port", with(inTunnel("api.example.test", "/v1/"), func(r *Request) { r.HostHeader = "api.example.test:443" }), RuleAllow, 0, "api.example.test", "/v1/"},
	{"host header case and trailing dot", with(inTunnel("api.example.test", "/v1/"), func(r *Request) { r.HostHeader = "API.Example.Test." }), RuleAllow, 0, "api.example.test", "/v1/"},
	{"connect host case and trailing dot", with(inTunnel("API.EXAMPLE.TEST.", "/v1/"), func(r *Request) { r.HostHeader = "api.example.test" }), RuleAllow, 0, "api.example.test", "/v1/"},
	{"other port, same in both", with(inTunnel("ports.example.test", "/"), func(r *Request) { r.ConnectPort, r.HostHeader = "8443", "ports.example.test:8443" }), RuleAllow, 0, "ports.example.test", "/"},
	{"listed 80 over TLS", with(inTunnel("admin.example.test", "/"), func(r *Request) { r.ConnectPort, r.HostHeader = "80", "admin.example.test:80" }), RuleAllow, 0, "admin.example.test", "/"},
	{"passthrough route, listed port", with(inTunnel("pass-ports.example.test", "/"), func(r *Request) { r.ConnectPort, r.HostHeader = "8443", "pass-ports.example.test:8443" }), RuleAllow, 0, "pass-ports.example.test", "/"},
	{"wildcard", inTunnel("a.cdn.example.test", "/assets/app.js"), RuleAllow, 0, "*.cdn.example.test", "/assets/app.js"},
	{"IPv4 literal", inTunnel("192.0.2.10", "/"), RuleAllow, 0, "192.0.2.10", "/"},
	{"IPv6 literal", with(inTunnel("2001:db8::10", "/"), func(r *Request) { r.HostHeader = "[2001:db8::10]" }), RuleAllow, 0, "2001:db8::10", "/"},
	{"IPv6 literal, other spelling and port", with(inTunnel("2001:db8::10", "/"), func(r *Request) { r.HostHeader = "[2001:DB8:0::10]:443" }), RuleAllow, 0, "2001:db8::10", "/"},
	{"no methods list allows DELETE", with(inTunnel("open.example.test", "/x"), func(r *Request) { r.Method = "DELETE" }), RuleAllow, 0, "open.example.test", "/x"},
	{"plain HTTP on a listed 80", plainHTTP("ports.example.test", "/pool/main/x.deb"), RuleAllow, 0, "ports.example.test", "/pool/main/x.deb"},
	{"plain HTTP on a listed 80, written", plainHTTP("ports.example.test:80", "/x"), RuleAllow, 0, "ports.example.test", "/x"},
	{"plain HTTP on a listed port", plainHTTP("ports.example.test:8080", "/x"), RuleAllow, 0, "ports.example.test", "/x"},
	{"plain HTTP empty path", plainHTTP("ports.example.test", ""), RuleAllow, 0, "ports.example.test", "/"},
	{"plain HTTP to a passthrough host's listed port", plainHTTP("pass-ports.example.test:8443", "/v2/"), RuleAllow, 0, "pass-ports.example.test", "/v2/"},
	{"git fetch advertisement", with(inTunnel("github.example.test", "/o/r.git/info/refs"), func(r *Request) { r.RawQuery = "service=git-upload-pack" }), RuleAllow, 0, "github.example.test", "/o/r.git/info/refs"},
	{"git fetch", with(inTunnel("github.example.test", "/o/r.git/git-upload-pack"), func(r *Request) { r.Method = "POST" }), RuleAllow, 0, "github.example.test", "/o/r.git/git-upload-pack"},

	// No route.
	{"undeclared host", inTunnel("undeclared.example.test", "/"), RuleNoRoute, 403, "", ""},
	{"undeclared IP literal", inTunnel("192.0.2.11", "/"), RuleNoRoute, 403, "", ""},
	{"wildcard suffix itself", inTunnel("cdn.example.test", "/assets/x"), RuleNoRoute, 403, "", ""},
	{"undeclared wins over bad port", with(inTunnel("undeclared.example.test", "/"), func(r *Request) { r.ConnectPort = "" }), RuleNoRoute, 403, "", ""},
	{"plain HTTP undeclared", plainHTTP("undeclared.example.test", "/"), RuleNoRoute, 403, "", ""},
	{"plain HTTP IPv4-mapped form of a literal", plainHTTP("[::ffff:192.0.2.10]", "/"), RuleNoRoute, 403, "", ""},

	// Bad host.
	{"no connect port", with(inTunnel("api.example.test", "/v1/"), func(r *Request) { r.ConnectPort = "" }), RuleBadHost, 400, "api.example.test", ""},
	{"connect port 0", with(inTunnel("api.example.test", "/v1/"), func(r *Request) { r.ConnectPort = "0" }), RuleBadHost, 400, "api.example.test", ""},
	{"connect port too big", with(inTunnel("api.example.test", "/v1/"), func(r *Request) { r.ConnectPort = "65536" }), RuleBadHost, 400, "api.example.test", ""},
	{"missing host header", with(inTunnel("api.example.test", "/v1/"), func(r *Request) { r.HostHeader = "" }), RuleBadHost, 400, "api.example.test", ""},
	{"host header with userinfo", with(inTunnel("api.example.test", "/v1/"), func(r *Request) { r.HostHeader = "u@api.example.test" }), RuleBadHost, 400, "api.example.test", ""},
	{"host header with empty port", with(inTunnel("api.example.test", "/v1/"), func(r *Request) { r.HostHeader = "api.example.test:" }), RuleBadHost, 400, "api.example.test", ""},
	{"host header port with leading zero", with(inTunnel("api.example.test", "/v1/"), func(r *Request) { r.HostHeader = "api.example.test:0443" }), RuleBadHost, 400, "api.example.test", ""},
	{"host header with two trailing dots", with(inTunnel("api.example.test", "/v1/"), func(r *Request) { r.HostHeader = "api.example.test.." }), RuleBadHost, 400, "api.example.test", ""},
	{"host header with path", with(inTunnel("api.example.test", "/v1/"), func(r *Request) { r.HostHeader = "api.example.test/x" }), RuleBadHost, 400, "api.example.test", ""},
	{"host header wildcard", with(inTunnel("a.cdn.example.test", "/assets/"), func(r *Request) { r.HostHeader = "*.cdn.example.test" }), RuleBadHost, 400, "*.cdn.example.test", ""},
	{"unbracketed IPv6 host header", with(inTunnel("2001:db8::10", "/"), func(r *Request) { r.HostHeader = "2001:db8::10" }), RuleBadHost, 400, "2001:db8::10", ""},
	{"bracketed name", with(inTunnel("api.example.test", "/v1/"), func(r *Request) { r.HostHeader = "[api.example.test]" }), RuleBadHost, 400, "api.example.test", ""},
	{"bracketed IPv4", with(inTunnel("192.0.2.10", "/"), func(r *Request) { r.HostHeader = "[192.0.2.10]" }), RuleBadHost, 400, "192.0.2.10", ""},
	{"junk after brackets", with(inTunnel("2001:db8::10", "/"), func(r *Request) { r.HostHeader = "[2001:db8::10]x443" }), RuleBadHost, 400, "2001:db8::10", ""},
	{"unclosed bracket", with(inTunnel("2001:db8::10", "/"), func(r *Request) { r.HostHeader = "[2001:db8::10" }), RuleBadHost, 400, "2001:db8::10", ""},
	{"zoned IPv6 host header", with(inTunnel("2001:db8::10", "/"), func(r *Request) { r.HostHeader = "[2001:db8::10%25eth0]" }), RuleBadHost, 400, "2001:db8::10", ""},
	{"plain HTTP without host", plainHTTP("", "/"), RuleBadHost, 400, "", ""},

	// Host mismatch.
	{"host header names another declared host", with(inTunnel("open.example.test", "/"), func(r *Request) { r.HostHeader = "api.example.test" }), RuleHostMismatch, 421, "open.example.test", ""},
	{"host header names an undeclared host", with(inTunnel("open.example.test", "/"), func(r *Request) { r.HostHeader = "undeclared.example.test" }), RuleHostMismatch, 421, "open.example.test", ""},
	{"host header names another port", with(inTunnel("api.example.test", "/v1/"), func(r *Request) { r.HostHeader = "api.example.test:8443" }), RuleHostMismatch, 421, "api.example.test", ""},
	{"host header omits a non-default port", with(inTunnel("api.example.test", "/v1/"), func(r *Request) { r.ConnectPort = "8443" }), RuleHostMismatch, 421, "api.example.test", ""},
	{"host header under the same wildcard", with(inTunnel("a.cdn.example.test", "/assets/"), func(r *Request) { r.HostHeader = "b.cdn.example.test" }), RuleHostMismatch, 421, "*.cdn.example.test", ""},
	{"plain tunnel defaults to port 80", with(inTunnel("open.example.test", "/"), func(r *Request) { r.TLS = false }), RuleHostMismatch, 421, "open.example.test", ""},

	// Credentials only over TLS.
	{"auth route over plain HTTP", plainHTTP("api.example.test", "/v1/models"), RuleAuthNeedsTLS, 403, "api.example.test", ""},
	{"auth route over plain HTTP on a listed 80", plainHTTP("admin.example.test", "/"), RuleAuthNeedsTLS, 403, "admin.example.test", ""},
	{"auth route over plain HTTP, unlisted port", plainHTTP("api.example.test:8080", "/v1/"), RuleAuthNeedsTLS, 403, "api.example.test", ""},

	// Ports: 443 over HTTPS unless the route lists its own; plain HTTP
	// only to a listed port.
	{"tunnel to another port", with(inTunnel("api.example.test", "/v1/"), func(r *Request) { r.ConnectPort, r.HostHeader = "8443", "api.example.test:8443" }), RulePortNotAllowed, 403, "api.example.test", ""},
	{"tunnel to the SSH port", with(inTunnel("open.example.test", "/"), func(r *Request) { r.ConnectPort, r.HostHeader = "22", "open.example.test:22" }), RulePortNotAllowed, 403, "open.example.test", ""},
	{"TLS tunnel to 80 without ports", with(inTunnel("open.example.test", "/"), func(r *Request) { r.ConnectPort, r.HostHeader = "80", "open.example.test:80" }), RulePortNotAllowed, 403, "open.example.test", ""},
	{"the list replaces 443", inTunnel("ports.example.test", "/"), RulePortNotAllowed, 403, "ports.example.test", ""},
	{"wildcard route, other port", with(inTunnel("a.cdn.example.test", "/assets/"), func(r *Request) { r.ConnectPort, r.HostHeader = "8443", "a.cdn.example.test:8443" }), RulePortNotAllowed, 403, "*.cdn.example.test", ""},
	{"IPv6 literal, other port", with(inTunnel("2001:db8::10", "/"), func(r *Request) { r.ConnectPort, r.HostHeader = "8443", "[2001:db8::10]:8443" }), RulePortNotAllowed, 403, "2001:db8::10", ""},
	{"plain HTTP without ports", plainHTTP("open.example.test", "/pool/main/x.deb"), RulePortNotAllowed, 403, "open.example.test", ""},
	{"plain HTTP without ports, 8080", plainHTTP("open.example.test:8080", "/x"), RulePortNotAllowed, 403, "open.example.test", ""},
	{"plain HTTP without ports, 443", plainHTTP("open.example.test:443", "/x"), RulePortNotAllowed, 403, "open.example.test", ""},
	{"plain HTTP, unlisted port", plainHTTP("ports.example.test:22", "/x"), RulePortNotAllowed, 403, "ports.example.test", ""},
	{"plain HTTP to a passthrough host without ports", plainHTTP("registry.example.test", "/v2/"), RulePortNotAllowed, 403, "registry.example.test", ""},
	{"plain tunnel without ports", with(inTunnel("open.example.test", "/"), func(r *Request) { r.TLS, r.ConnectPort, r.HostHeader = false, "80", "open.example.test" }), RulePortNotAllowed, 403, "open.example.test", ""},
	{"port before path", with(inTunnel("api.example.test", "/%2e%2e"), func(r *Request) { r.ConnectPort, r.HostHeader = "22", "api.example.test:22" }), RulePortNotAllowed, 403, "api.example.test", ""},
	{"auth route in a plain tunnel", with(inTunnel("api.example.test", "/v1/"), func(r *Request) { r.TLS, r.ConnectPort = false, "80" }), RuleAuthNeedsTLS, 403, "api.example.test", ""},

	// Bad path.
	{"encoded dots", inTunnel("api.example.test", "/v1/%2e%2e/admin"), RuleBadPath, 400, "api.example.test", ""},
	{"not absolute", inTunnel("open.example.test", "*"), RuleBadPath, 400, "open.example.test", ""},

	// Git push.
	{"git push", with(inTunnel("github.example.test", "/o/r.git/git-receive-pack"), func(r *Request) { r.Method = "POST" }), RuleGitReceivePack, 403, "github.example.test", "/o/r.git/git-receive-pack"},
	{"git push advertisement", with(inTunnel("github.example.test", "/o/r.git/info/refs"), func(r *Request) { r.RawQuery = "service=git-receive-pack" }), RuleGitReceivePack, 403, "github.example.test", "/o/r.git/info/refs"},
	{"git push on a narrowed route", with(inTunnel("api.example.test", "/v1/r.git/git-receive-pack"), func(r *Request) { r.Method = "POST" }), RuleGitReceivePack, 403, "api.example.test", "/v1/r.git/git-receive-pack"},
	{"git push outside the allowlist", with(inTunnel("api.example.test", "/r.git/git-receive-pack"), func(r *Request) { r.Method = "POST" }), RuleGitReceivePack, 403, "api.example.test", "/r.git/git-receive-pack"},

	// Path allowlist.
	{"outside the allowlist", inTunnel("api.example.test", "/admin"), RulePathNotAllowed, 403, "api.example.test", "/admin"},
	{"sibling of a prefix", inTunnel("api.example.test", "/v2x"), RulePathNotAllowed, 403, "api.example.test", "/v2x"},
	{"prefix without its slash", inTunnel("api.example.test", "/v1"), RulePathNotAllowed, 403, "api.example.test", "/v1"},
	{"case differs", inTunnel("api.example.test", "/V1/models"), RulePathNotAllowed, 403, "api.example.test", "/V1/models"},
	{"wildcard path", inTunnel("a.cdn.example.test", "/other"), RulePathNotAllowed, 403, "*.cdn.example.test", "/other"},
	{"path before method", with(inTunnel("api.example.test", "/admin"), func(r *Request) { r.Method = "DELETE" }), RulePathNotAllowed, 403, "api.example.test", "/admin"},

	// Methods.
	{"unlisted method", with(inTunnel("mirror.example.test", "/x"), func(r *Request) { r.Method = "POST" }), RuleMethodNotAllowed, 405, "mirror.example.test", "/x"},
	{"lower-case method", with(inTunnel("open.example.test", "/x"), func(r *Request) { r.Method = "get" }), RuleMethodNotAllowed, 405, "open.example.test", "/x"},
	{"TRACE", with(inTunnel("open.example.test", "/x"), func(r *Request) { r.Method = "TRACE" }), RuleMethodNotAllowed, 405, "open.example.test", "/x"},
	{"CONNECT inside a tunnel", with(inTunnel("open.example.test", "/x"), func(r *Request) { r.Method = "CONNECT" }), RuleMethodNotAllowed, 405, "open.example.test", "/x"},
	{"WebDAV", with(inTunnel("open.example.test", "/x"), func(r *Request) { r.Method = "PROPFIND" }), RuleMethodNotAllowed, 405, "open.example.test", "/x"},
	{"empty method", with(inTunnel("open.example.test", "/x"), func(r *Request) { r.Method = "" }), RuleMethodNotAllowed, 405, "open.example.test", "/x"},
}

// decisionSummary is what decideCase compares.
type decisionSummary struct {
	Allow  bool
	Rule   Rule
	Status int
	Route  string
	Path   string
	Reason bool // whether there is one
}

func summarize(d Decision) decisionSummary {
	s := decisionSummary{Allow: d.Allow, Rule: d.Rule, Status: d.Status, Path: d.Path, Reason: d.Reason != ""}
	if d.Route != nil {
		s.Route = d.Route.Host
	}
	return s
}

func TestDecide(t *testing.T) {
	rf := testRoutes(t)
	seen := map[Rule]bool{}
	for _, c := range decideCases {
		seen[c.wantRule] = true
		t.Run(c.name, func(t *testing.T) {
			want := decisionSummary{Allow: c.wantRule == RuleAllow, Rule: c.wantRule, Status: c.wantStatus,
				Route: c.wantRoute, Path: c.wantPath, Reason: c.wantRule != RuleAllow}
			if diff := cmp.Diff(want, summarize(Decide(rf, c.req))); diff != "" {
				t.Fatalf("Decide(%+v) (-want +got):\n%s", c.req, diff)
			}
		})
	}
	t.Run("every rule covered", func(t *testing.T) {
		for _, rule := range []Rule{RuleAllow, RuleNoRoute, RuleBadHost, RuleHostMismatch, RuleAuthNeedsTLS,
			RulePortNotAllowed, RuleBadPath, RuleGitReceivePack, RulePathNotAllowed, RuleMethodNotAllowed} {
			if !seen[rule] {
				t.Errorf("no case for %s", rule)
			}
		}
	})
	t.Run("nil routes file", func(t *testing.T) {
		if d := Decide(nil, plainHTTP("open.example.test", "/")); d.Allow || d.Rule != RuleNoRoute {
			t.Fatalf("Decide(nil) = %+v", d)
		}
	})
}

func TestAllowHeader(t *testing.T) {
	rf := testRoutes(t)
	for _, c := range []struct {
		name string
		req  Request
		want string
	}{
		{"listed methods", with(inTunnel("mirror.example.test", "/"), func(r *Request) { r.Method = "POST" }), "GET, HEAD"},
		{"every method", with(inTunnel("open.example.test", "/"), func(r *Request) { r.Method = "TRACE" }), "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"},
		{"no route", inTunnel("undeclared.example.test", "/"), ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Decide(rf, c.req).AllowHeader(); got != c.want {
				t.Fatalf("AllowHeader() = %q, want %q", got, c.want)
			}
		})
	}
}

// A request inside a tunnel to one declared host must not reach another
// declared host (and its credential) by naming it in the Host header; nor
// may the answer tell whether the other host is declared.
func TestHostHeaderSmugglingToAnotherDeclaredHost(t *testing.T) {
	rf := testRoutes(t)
	declared := Decide(rf, with(inTunnel("open.example.test", "/"), func(r *Request) { r.HostHeader = "admin.example.test" }))
	undeclared := Decide(rf, with(inTunnel("open.example.test", "/"), func(r *Request) { r.HostHeader = "nothing.example.test" }))
	for name, d := range map[string]Decision{"declared": declared, "undeclared": undeclared} {
		t.Run(name, func(t *testing.T) {
			if d.Allow || d.Rule != RuleHostMismatch || d.Status != 421 {
				t.Fatalf("Decide = %+v; want host-mismatch 421", d)
			}
			if d.Route == nil || d.Route.Host != "open.example.test" {
				t.Fatalf("Decide matched route %v; want the CONNECT target's", d.Route)
			}
			if strings.Contains(d.Reason, "admin") || strings.Contains(d.Reason, "nothing") {
				t.Fatalf("Reason %q names the smuggled host", d.Reason)
			}
		})
	}
	t.Run("indistinguishable", func(t *testing.T) {
		if diff := cmp.Diff(declared, undeclared); diff != "" {
			t.Fatalf("a declared and an undeclared Host header are answered differently:\n%s", diff)
		}
		if DenyBody(declared, "open.example.test") != DenyBody(undeclared, "open.example.test") {
			t.Fatal("deny bodies differ")
		}
	})
	t.Run("absolute URL host in a tunnel", func(t *testing.T) {
		// An absolute-form request inside the tunnel reaches the caller
		// as its URL host, put in HostHeader.
		d := Decide(rf, with(inTunnel("open.example.test", "/"), func(r *Request) { r.HostHeader = "admin.example.test:443" }))
		if d.Allow || d.Rule != RuleHostMismatch {
			t.Fatalf("Decide = %+v; want host-mismatch", d)
		}
	})
}

// The port in the Host header must match the CONNECT target's, or a tunnel
// to :443 could be used to send requests meant for another port.
func TestPortSmugglingInsideTunnel(t *testing.T) {
	rf := testRoutes(t)
	for _, c := range []struct {
		name, host, connectPort, hostHeader string
		tls                                 bool
		wantRule                            Rule
	}{
		{"other port in host", "open.example.test", "443", "open.example.test:8080", true, RuleHostMismatch},
		{"other listed port in host", "ports.example.test", "8443", "ports.example.test:8080", true, RuleHostMismatch},
		{"default port of the other scheme", "open.example.test", "443", "open.example.test:80", true, RuleHostMismatch},
		{"missing port means 443 over TLS", "ports.example.test", "8443", "ports.example.test", true, RuleHostMismatch},
		{"missing port means 80 in plain", "open.example.test", "443", "open.example.test", false, RuleHostMismatch},
		{"port with leading zero", "open.example.test", "443", "open.example.test:0443", true, RuleBadHost},
		{"port with sign", "open.example.test", "443", "open.example.test:+443", true, RuleBadHost},
		{"port out of range", "open.example.test", "443", "open.example.test:65979", true, RuleBadHost},
		{"port overflowing", "open.example.test", "443", "open.example.test:4294967739", true, RuleBadHost},
		{"two ports", "open.example.test", "443", "open.example.test:443:443", true, RuleBadHost},
		{"matching explicit port", "open.example.test", "443", "open.example.test:443", true, RuleAllow},
		{"matching other port", "ports.example.test", "8080", "ports.example.test:8080", true, RuleAllow},
		{"matching port the route does not list", "open.example.test", "8080", "open.example.test:8080", true, RulePortNotAllowed},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := Decide(rf, Request{ConnectHost: c.host, ConnectPort: c.connectPort, HostHeader: c.hostHeader,
				Method: "GET", EscapedPath: "/", TLS: c.tls})
			if d.Rule != c.wantRule || d.Allow != (c.wantRule == RuleAllow) {
				t.Fatalf("Decide = %+v; want %s", d, c.wantRule)
			}
		})
	}
}

// git push over HTTPS through egress would bypass the git gate's scan.
func TestGitPushOverHTTPSRefused(t *testing.T) {
	rf := testRoutes(t)
	post := func(path string) Request {
		return with(inTunnel("github.example.test", path), func(r *Request) { r.Method = "POST" })
	}
	refs := func(path, query string) Request {
		return with(inTunnel("github.example.test", path), func(r *Request) { r.RawQuery = query })
	}
	for _, c := range []struct {
		name string
		req  Request
	}{
		{"receive-pack POST", post("/o/r.git/git-receive-pack")},
		{"receive-pack without .git", post("/o/r/git-receive-pack")},
		{"receive-pack at the root", post("/git-receive-pack")},
		{"receive-pack upper case", post("/o/r.git/GIT-RECEIVE-PACK")},
		{"receive-pack mixed case", post("/o/r.git/Git-Receive-Pack")},
		{"receive-pack encoded", post("/o/r.git/git%2Dreceive%2Dpack")},
		{"receive-pack with trailing slash", post("/o/r.git/git-receive-pack/")},
		{"receive-pack with path parameter", post("/o/r.git/git-receive-pack;x=y")},
		{"receive-pack by GET", inTunnel("github.example.test", "/o/r.git/git-receive-pack")},
		{"advertisement", refs("/o/r.git/info/refs", "service=git-receive-pack")},
		{"advertisement upper-case value", refs("/o/r.git/info/refs", "service=GIT-RECEIVE-PACK")},
		{"advertisement upper-case key", refs("/o/r.git/info/refs", "SERVICE=git-receive-pack")},
		{"advertisement upper-case path", refs("/o/r.git/INFO/REFS", "service=git-receive-pack")},
		{"advertisement encoded value", refs("/o/r.git/info/refs", "service=git%2Dreceive%2Dpack")},
		{"advertisement double-encoded value", refs("/o/r.git/info/refs", "service=git%252Dreceive%252Dpack")},
		{"advertisement encoded key", refs("/o/r.git/info/refs", "%73ervice=git-receive-pack")},
		{"advertisement second parameter", refs("/o/r.git/info/refs", "x=1&service=git-receive-pack")},
		{"advertisement repeated parameter", refs("/o/r.git/info/refs", "service=git-upload-pack&service=git-receive-pack")},
		{"advertisement semicolon separator", refs("/o/r.git/info/refs", "x=1;service=git-receive-pack")},
		{"advertisement with bad escape elsewhere", refs("/o/r.git/info/refs", "service=git-receive-pack&x=%zz")},
		{"advertisement with trailing slash", refs("/o/r.git/info/refs/", "service=git-receive-pack")},
		{"advertisement with path parameter", refs("/o/r.git/info;x/refs;y", "service=git-receive-pack")},
		{"plain HTTP", with(plainHTTP("ports.example.test", "/o/r.git/git-receive-pack"), func(r *Request) { r.Method = "POST" })},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := Decide(rf, c.req)
			if d.Allow || d.Rule != RuleGitReceivePack || d.Status != 403 {
				t.Fatalf("Decide = %+v; want git-receive-pack 403", d)
			}
			body := DenyBody(d, c.req.HostHeader)
			want := fmt.Sprintf("http://%s:%d/<name>.git", contract.GitGateHost, contract.GitHTTPPort)
			if !strings.Contains(body, want) || !strings.Contains(body, "git gate") {
				t.Fatalf("DenyBody = %q; want it to point at %s", body, want)
			}
		})
	}
	// Whatever url.ParseQuery reads as service=git-receive-pack is refused.
	t.Run("ParseQuery agrees", func(t *testing.T) {
		for _, q := range []string{"service=git-receive-pack", "a=b&service=git-receive-pack", "service=git-receive-pack&service=x", "service=git%2dreceive-pack"} {
			v, _ := url.ParseQuery(q)
			if v.Get("service") == "" {
				t.Fatalf("ParseQuery(%q) has no service", q)
			}
			if d := Decide(rf, refs("/o/r.git/info/refs", q)); d.Rule != RuleGitReceivePack {
				t.Errorf("query %q: Decide = %+v", q, d)
			}
		}
	})
	t.Run("fetch still works", func(t *testing.T) {
		for _, r := range []Request{refs("/o/r.git/info/refs", "service=git-upload-pack"), post("/o/r.git/git-upload-pack"), inTunnel("github.example.test", "/o/receive-pack-docs"),
			refs("/o/r.git/notinfo/refs", "service=git-receive-pack")} {
			if d := Decide(rf, r); !d.Allow {
				t.Errorf("Decide(%+v) = %+v; want allowed", r, d)
			}
		}
	})
}

// A route that injects a credential must never be reachable over plain
// HTTP: the credential would cross the network in clear.
func TestAuthRouteOverPlainHTTPRefused(t *testing.T) {
	rf := testRoutes(t)
	for _, c := range []struct {
		name string
		req  Request
	}{
		{"plain proxy request", plainHTTP("api.example.test", "/v1/models")},
		{"plain proxy request with port", plainHTTP("api.example.test:80", "/v1/models")},
		{"plain proxy request, other case", plainHTTP("ADMIN.example.test.", "/")},
		{"plain tunnel", Request{ConnectHost: "admin.example.test", ConnectPort: "80", HostHeader: "admin.example.test", Method: "GET", EscapedPath: "/"}},
		{"plain HTTP, path not allowed either", plainHTTP("api.example.test", "/admin")},
		{"plain HTTP, bad path too", plainHTTP("api.example.test", "/%2e%2e")},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := Decide(rf, c.req)
			if d.Allow || d.Rule != RuleAuthNeedsTLS || d.Status != 403 {
				t.Fatalf("Decide = %+v; want auth-needs-tls 403", d)
			}
			if !strings.Contains(DenyBody(d, c.req.HostHeader), "https://") {
				t.Fatalf("DenyBody does not say to use https")
			}
		})
	}
	t.Run("same route over TLS", func(t *testing.T) {
		if d := Decide(rf, inTunnel("admin.example.test", "/")); !d.Allow {
			t.Fatalf("Decide = %+v; want allowed", d)
		}
	})
}

// Nothing from the path, the query or any header but the host reaches a
// Reason or a deny body.
func TestDecisionNeverEchoesSecrets(t *testing.T) {
	rf := testRoutes(t)
	const secret = "sk-proj-SECRETSECRETSECRET"
	for _, c := range []struct {
		name string
		req  Request
	}{
		{"no route", Request{ConnectHost: "undeclared.example.test", ConnectPort: "443", HostHeader: "undeclared.example.test", Method: "GET", EscapedPath: "/" + secret, RawQuery: "key=" + secret, TLS: true}},
		{"bad host", with(inTunnel("api.example.test", "/"+secret), func(r *Request) { r.HostHeader = secret + "@api.example.test"; r.RawQuery = secret })},
		{"host mismatch", with(inTunnel("api.example.test", "/"+secret), func(r *Request) { r.HostHeader = "open.example.test"; r.RawQuery = secret })},
		{"auth needs TLS", with(plainHTTP("api.example.test", "/"+secret), func(r *Request) { r.RawQuery = secret })},
		{"bad path", with(inTunnel("api.example.test", "/v1/"+secret+"/%2e%2e"), func(r *Request) { r.RawQuery = secret })},
		{"git push", with(inTunnel("github.example.test", "/"+secret+".git/info/refs"), func(r *Request) { r.RawQuery = "service=git-receive-pack&t=" + secret })},
		{"path not allowed", with(inTunnel("api.example.test", "/"+secret), func(r *Request) { r.RawQuery = secret })},
		{"method not allowed", with(inTunnel("mirror.example.test", "/"+secret), func(r *Request) { r.Method = "POST"; r.RawQuery = secret })},
		{"weird method", with(inTunnel("open.example.test", "/"), func(r *Request) { r.Method = secret })},
		{"port not allowed", with(inTunnel("api.example.test", "/"+secret), func(r *Request) { r.ConnectPort, r.HostHeader, r.RawQuery = "8443", "api.example.test:8443", secret })},
		{"plain HTTP port not allowed", with(plainHTTP("open.example.test:8080", "/"+secret), func(r *Request) { r.RawQuery = secret })},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := Decide(rf, c.req)
			if d.Allow {
				t.Fatalf("Decide allowed %+v", c.req)
			}
			host := c.req.ConnectHost
			if host == "" {
				host = c.req.HostHeader
			}
			for what, text := range map[string]string{"Reason": d.Reason, "DenyBody": DenyBody(d, host)} {
				if strings.Contains(text, secret) || strings.Contains(text, "SECRET") {
					t.Errorf("%s %q echoes the secret", what, text)
				}
			}
		})
	}
}

func FuzzDecide(f *testing.F) {
	rf := testRoutes(f)
	for _, c := range decideCases {
		f.Add(c.req.ConnectHost, c.req.ConnectPort, c.req.HostHeader, c.req.Method, c.req.EscapedPath, c.req.RawQuery, c.req.TLS)
	}
	f.Fuzz(func(t *testing.T, connectHost, connectPort, hostHeader, method, path, query string, tls bool) {
		r := Request{ConnectHost: connectHost, ConnectPort: connectPort, HostHeader: hostHeader,
			Method: method, EscapedPath: path, RawQuery: query, TLS: tls}
		d := Decide(rf, r)
		if d.Rule == "" {
			t.Fatalf("Decide(%+v) has no rule", r)
		}
		if d.Allow != (d.Rule == RuleAllow) || d.Allow != (d.Status == 0) {
			t.Fatalf("Decide(%+v) = %+v: Allow, RuleAllow and Status 0 go together", r, d)
		}
		if !d.Allow {
			if DenyBody(d, connectHost) == "" {
				t.Fatalf("Decide(%+v) = %+v has no deny body", r, d)
			}
			// The query decides only whether this is a git push; it never
			// shapes the Reason.
			noQuery := r
			noQuery.RawQuery = ""
			if d2 := Decide(rf, noQuery); d.Rule != RuleGitReceivePack && d2 != d {
				t.Fatalf("the query changed the decision: %+v without it, %+v with it", d2, d)
			}
			return
		}
		// The route must be the one the target names, and inside a tunnel
		// the Host header must name the same host.
		target := connectHost
		if target == "" {
			h, _, ok := splitAuthority(hostHeader)
			if !ok {
				t.Fatalf("allowed %+v with an unparsable Host", r)
			}
			target = h
		} else {
			h, _, ok := splitAuthority(hostHeader)
			ct, ok2 := normalizeTarget(connectHost)
			if !ok || !ok2 || h != ct {
				t.Fatalf("allowed %+v whose Host %q is not the CONNECT host %q", r, h, ct)
			}
		}
		nt, _ := normalizeTarget(target)
		route, _ := lookup(rf, nt)
		if route == nil || route != d.Route {
			t.Fatalf("allowed %+v with route %v; the target's route is %v", r, d.Route, route)
		}
		if rh := contract.NormalizeHost(route.Host); rh != nt && !(strings.HasPrefix(rh, "*.") && strings.HasSuffix(nt, rh[1:])) {
			t.Fatalf("allowed %+v on route %q, which is not the target %q", r, route.Host, nt)
		}
		if !PathAllowed(route, d.Path) || !route.AllowsMethod(method) || !egressAllowsMethod(method) {
			t.Fatalf("allowed %+v: path %q or method %q not allowed on %q", r, d.Path, method, route.Host)
		}
		if p, err := NormalizePath(path); err != nil || p != d.Path {
			t.Fatalf("allowed %+v with path %q; NormalizePath gives %q, %v", r, d.Path, p, err)
		}
		if route.Auth != nil && !tls {
			t.Fatalf("allowed %+v: an auth route over plain HTTP", r)
		}
		// The port egress dials is the one the request targets, and the
		// route allows it for this scheme.
		wantPort := connectPort
		if connectHost == "" {
			_, wantPort, _ = splitAuthority(hostHeader)
			if wantPort == "" && tls {
				wantPort = "443"
			} else if wantPort == "" {
				wantPort = "80"
			}
		}
		n, err := strconv.Atoi(d.Port)
		if d.Port != wantPort || err != nil || !route.AllowsPort(n, tls) {
			t.Fatalf("allowed %+v on port %q (want %q), which route %q does not allow (ports %v, tls %v)", r, d.Port, wantPort, route.Host, route.Ports, tls)
		}
		if isGitReceivePack(d.Path, query) {
			t.Fatalf("allowed a git push: %+v", r)
		}
		if seg := d.Path[strings.LastIndexByte(strings.TrimSuffix(d.Path, "/"), '/')+1:]; strings.EqualFold(strings.TrimSuffix(seg, "/"), "git-receive-pack") {
			t.Fatalf("allowed a git push: %+v", r)
		}
		if strings.HasSuffix(strings.ToLower(d.Path), "/info/refs") {
			v, _ := url.ParseQuery(query)
			for _, s := range v["service"] {
				if strings.EqualFold(s, "git-receive-pack") {
					t.Fatalf("allowed a git push advertisement: %+v", r)
				}
			}
		}
	})
}

// FuzzConnectDecision: a CONNECT is allowed only to a declared host, on a
// canonical port its route allows over TLS.
func FuzzConnectDecision(f *testing.F) {
	rf := testRoutes(f)
	for _, seed := range [][2]string{{"api.example.test", "443"}, {"api.example.test", "22"}, {"ports.example.test", "8443"},
		{"pass-ports.example.test", "8443"}, {"a.cdn.example.test", "0443"}, {"2001:db8::10", "443"}, {"x", ""}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, host, port string) {
		d := ConnectDecision(rf, host, port)
		if d.Allow != (d.Rule == RuleAllow) || d.Allow != (d.Status == 0) || d.Rule == "" {
			t.Fatalf("ConnectDecision(%q, %q) = %+v: Allow, RuleAllow and Status 0 go together", host, port, d)
		}
		if !d.Allow {
			if DenyBody(d, host) == "" {
				t.Fatalf("ConnectDecision(%q, %q) = %+v has no deny body", host, port, d)
			}
			return
		}
		nt, ok := normalizeTarget(host)
		route, _ := lookup(rf, nt)
		if !ok || route == nil || route != d.Route {
			t.Fatalf("allowed %q with route %v; its route is %v", host, d.Route, route)
		}
		n, err := strconv.Atoi(port)
		if err != nil || d.Port != port || strconv.Itoa(n) != port || !route.AllowsPort(n, true) {
			t.Fatalf("allowed %q on port %q (Port %q), which route %q (ports %v) does not allow over TLS", host, port, d.Port, route.Host, route.Ports)
		}
	})
}

// benchRoutes is a 50-route file like a busy bottle's: exact hosts, a few
// wildcards, path allowlists and methods.
func benchRoutes(b *testing.B) *contract.RoutesFile {
	rf := &contract.RoutesFile{Version: contract.Version}
	for i := range 50 {
		r := contract.Route{Host: fmt.Sprintf("api%d.example.test", i)}
		switch i % 5 {
		case 0:
			r.Host = fmt.Sprintf("*.cdn%d.example.test", i)
		case 1:
			r.PathAllowlist = []string{"/v1/", "/v2/", "/health"}
			r.Methods = []string{"GET", "POST"}
		case 2:
			r.Auth = &contract.Auth{Scheme: contract.AuthBearer, Secret: fmt.Sprintf("token%d", i)}
		}
		rf.Routes = append(rf.Routes, r)
	}
	if err := rf.Validate(); err != nil {
		b.Fatal(err)
	}
	return rf
}

func BenchmarkDecide(b *testing.B) {
	rf := benchRoutes(b)
	for _, c := range []struct {
		name string
		req  Request
	}{
		{"allow-first", with(inTunnel("api1.example.test", "/v1/chat/completions"), func(r *Request) { r.Method = "POST" })},
		{"allow-last", inTunnel("api49.example.test", "/v1/chat/completions")},
		{"allow-wildcard", inTunnel("x.cdn45.example.test", "/assets/app.js")},
		{"no-route", inTunnel("undeclared.example.test", "/")},
		{"path-not-allowed", inTunnel("api41.example.test", "/admin")},
		{"bad-path", inTunnel("api49.example.test", "/v1/%2e%2e/admin")},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = Decide(rf, c.req)
			}
		})
	}
}
