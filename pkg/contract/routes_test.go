package contract_test

import (
	"flag"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

func boolPtr(b bool) *bool { return &b }

// exampleRoutes is testdata/routes-valid.yaml (the design's example) as a
// struct.
func exampleRoutes() *contract.RoutesFile {
	return &contract.RoutesFile{
		Version: 1,
		DLP:     contract.DLPConfig{Enabled: boolPtr(true), Action: contract.DLPBlock},
		Routes: []contract.Route{
			{
				Host:          "api.example.test",
				PathAllowlist: []string{"/v1/"},
				Methods:       []string{"GET", "POST"},
				Auth:          &contract.Auth{Scheme: contract.AuthBearer, Secret: "example_token"},
				SSRFAllow:     []string{"10.1.2.0/24"},
			},
			{Host: "registry.example.test", TLSPassthrough: true},
		},
	}
}

func TestRoutesValidate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		route contract.Route
		wants []string
	}{
		{"minimal", contract.Route{Host: "api.example.test"}, nil},
		{"everything", contract.Route{
			Host:          "*.example.test",
			PathAllowlist: []string{"/v1/", "/.well-known/", "/v1/~user/a+b@c"},
			Methods:       []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"},
			Auth:          &contract.Auth{Scheme: contract.AuthToken, Secret: "gh.token-1"},
			SSRFAllow:     []string{"10.0.0.0/8", "192.168.1.7", "fd00::/8", "::1"},
			DLPAllow:      []string{"generic-api-key", "aws.key_1"},
			DLPStrict:     true,
		}, nil},
		{"passthrough alone", contract.Route{Host: "r.example.test", TLSPassthrough: true, SSRFAllow: []string{"10.0.0.1"}}, nil},
		{"ports", contract.Route{Host: "h.test", Ports: []int{443, 8443, 1, 65535}}, nil},
		{"passthrough with ports", contract.Route{Host: "r.example.test", TLSPassthrough: true, Ports: []int{443, 8443}}, nil},
		{"auth with ports", contract.Route{Host: "h.test", Auth: &contract.Auth{Scheme: contract.AuthBearer, Secret: "t"}, Ports: []int{8443}}, nil},
		{"wildcard with ports", contract.Route{Host: "*.example.test", Ports: []int{80, 443}}, nil},

		{"empty host", contract.Route{}, []string{"routes[0].host: host is empty"}},
		{"bad host", contract.Route{Host: "https://x"}, []string{`routes[0].host: "https://x" has a scheme`}},

		{"path empty", contract.Route{Host: "h.test", PathAllowlist: []string{""}}, []string{"routes[0].path_allowlist[0]: path prefix is empty"}},
		{"path relative", contract.Route{Host: "h.test", PathAllowlist: []string{"/ok/", "v1/"}}, []string{`routes[0].path_allowlist[1]: "v1/" must start with '/'`}},
		{"path url", contract.Route{Host: "h.test", PathAllowlist: []string{"https://h.test/v1"}}, []string{"is a URL; write only its path"}},
		{"path dotdot", contract.Route{Host: "h.test", PathAllowlist: []string{"/v1/../admin"}}, []string{`contains ".."`}},
		{"path percent", contract.Route{Host: "h.test", PathAllowlist: []string{"/v1%2F"}}, []string{"contains '%'; write the decoded path"}},
		{"path double slash", contract.Route{Host: "h.test", PathAllowlist: []string{"/v1//x"}}, []string{`contains "//"`}},
		{"path dot segment", contract.Route{Host: "h.test", PathAllowlist: []string{"/v1/./x"}}, []string{`contains a "." segment`}},
		{"path trailing dot segment", contract.Route{Host: "h.test", PathAllowlist: []string{"/v1/."}}, []string{`contains a "." segment`}},
		{"path space", contract.Route{Host: "h.test", PathAllowlist: []string{"/v1 /"}}, []string{"contains a space"}},
		{"path control", contract.Route{Host: "h.test", PathAllowlist: []string{"/v1\x7f"}}, []string{"contains the character U+007F"}},
		{"path query", contract.Route{Host: "h.test", PathAllowlist: []string{"/v1?a=b"}}, []string{"contains '?'"}},
		{"path fragment", contract.Route{Host: "h.test", PathAllowlist: []string{"/v1#x"}}, []string{"contains '#'"}},
		{"path too long", contract.Route{Host: "h.test", PathAllowlist: []string{"/" + strings.Repeat("a", 1024)}}, []string{"the limit is 1024"}},

		{"method lower", contract.Route{Host: "h.test", Methods: []string{"get"}}, []string{`routes[0].methods[0]: "get" must be upper-case; write "GET"`}},
		{"method connect", contract.Route{Host: "h.test", Methods: []string{"CONNECT"}}, []string{"routes[0].methods[0]: CONNECT cannot be allowed: egress handles CONNECT itself"}},
		{"method trace", contract.Route{Host: "h.test", Methods: []string{"trace"}}, []string{"TRACE cannot be allowed: it echoes the request"}},
		{"method unknown", contract.Route{Host: "h.test", Methods: []string{"PROPFIND"}}, []string{`"PROPFIND" is not an allowed method; use GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS`}},
		{"method empty", contract.Route{Host: "h.test", Methods: []string{""}}, []string{"method is empty"}},
		{"method duplicate", contract.Route{Host: "h.test", Methods: []string{"GET", "POST", "GET"}}, []string{`routes[0].methods[2]: "GET" duplicates routes[0].methods[0]`}},

		{"auth bad scheme", contract.Route{Host: "h.test", Auth: &contract.Auth{Scheme: "bearer", Secret: "t"}}, []string{`routes[0].auth.scheme: "bearer" is not a supported scheme; use "Bearer" or "token" (case-sensitive)`}},
		{"auth no scheme", contract.Route{Host: "h.test", Auth: &contract.Auth{Secret: "t"}}, []string{`routes[0].auth.scheme: "" is not a supported scheme`}},
		{"auth no secret", contract.Route{Host: "h.test", Auth: &contract.Auth{Scheme: "Bearer"}}, []string{"routes[0].auth.secret: secret name is empty"}},
		{"auth secret path", contract.Route{Host: "h.test", Auth: &contract.Auth{Scheme: "Bearer", Secret: "../ca_key"}}, []string{"routes[0].auth.secret: secret name \"../ca_key\" contains '/'"}},
		{"auth empty", contract.Route{Host: "h.test", Auth: &contract.Auth{}}, []string{"routes[0].auth.scheme", "routes[0].auth.secret"}},

		{"passthrough auth", contract.Route{Host: "h.test", TLSPassthrough: true, Auth: &contract.Auth{Scheme: "Bearer", Secret: "t"}},
			[]string{"routes[0].auth: cannot be combined with tls_passthrough: egress does not read a passthrough tunnel, so the credential would silently not apply; remove auth or set tls_passthrough: false"}},
		{"passthrough everything", contract.Route{Host: "h.test", TLSPassthrough: true, PathAllowlist: []string{"/v1/"}, Methods: []string{"GET"}, DLPAllow: []string{"r"}, DLPStrict: true},
			[]string{"routes[0].path_allowlist: cannot be combined", "routes[0].methods: cannot be combined", "routes[0].dlp_allow: cannot be combined", "routes[0].dlp_strict: cannot be combined"}},

		{"ssrf not canonical", contract.Route{Host: "h.test", SSRFAllow: []string{"10.1.2.3/24"}}, []string{`routes[0].ssrf_allow[0]: "10.1.2.3/24" has host bits set; write the network, "10.1.2.0/24"`}},
		{"ssrf v6 not canonical", contract.Route{Host: "h.test", SSRFAllow: []string{"fd00::1/8"}}, []string{`write the network, "fd00::/8"`}},
		{"ssrf bad cidr", contract.Route{Host: "h.test", SSRFAllow: []string{"10.0.0.0/33"}}, []string{`"10.0.0.0/33" is not a CIDR`}},
		{"ssrf name", contract.Route{Host: "h.test", SSRFAllow: []string{"localhost"}}, []string{"neither an IP address nor a CIDR"}},
		{"ssrf zone", contract.Route{Host: "h.test", SSRFAllow: []string{"fe80::1%eth0"}}, []string{"has an IPv6 zone"}},

		{"port zero", contract.Route{Host: "h.test", Ports: []int{0}}, []string{"routes[0].ports[0]: 0 is not a TCP port; use a number from 1 to 65535"}},
		{"port too big", contract.Route{Host: "h.test", Ports: []int{443, 65536}}, []string{"routes[0].ports[1]: 65536 is not a TCP port"}},
		{"port negative", contract.Route{Host: "h.test", Ports: []int{-443}}, []string{"routes[0].ports[0]: -443 is not a TCP port"}},
		{"port duplicate", contract.Route{Host: "h.test", Ports: []int{443, 8443, 443}}, []string{"routes[0].ports[2]: 443 duplicates routes[0].ports[0]"}},
		{"ports, every problem", contract.Route{Host: "h.test", Ports: []int{0, 8443, 70000, 8443}}, []string{"routes[0].ports[0]", "routes[0].ports[2]", "routes[0].ports[3]: 8443 duplicates routes[0].ports[1]"}},

		{"dlp allow empty", contract.Route{Host: "h.test", DLPAllow: []string{""}}, []string{"routes[0].dlp_allow[0]: rule id is empty"}},
		{"dlp allow upper", contract.Route{Host: "h.test", DLPAllow: []string{"AWS"}}, []string{"rule ids are lower-case"}},
		{"dlp allow leading dash", contract.Route{Host: "h.test", DLPAllow: []string{"-x"}}, []string{"must start with a lower-case letter or digit"}},
		{"dlp allow bad char", contract.Route{Host: "h.test", DLPAllow: []string{"a/b"}}, []string{"contains '/'"}},
		{"dlp allow duplicate", contract.Route{Host: "h.test", DLPAllow: []string{"a", "b", "a"}}, []string{`routes[0].dlp_allow[2]: "a" duplicates dlp_allow[0]`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &contract.RoutesFile{Version: 1, Routes: []contract.Route{tc.route}}
			checkProblems(t, f.Validate(), tc.wants...)
		})
	}
}

func TestRoutesValidateFile(t *testing.T) {
	for _, tc := range []struct {
		name  string
		file  contract.RoutesFile
		wants []string
	}{
		{"example", *exampleRoutes(), nil},
		{"no routes", contract.RoutesFile{Version: 1}, nil},
		{"dlp log", contract.RoutesFile{Version: 1, DLP: contract.DLPConfig{Enabled: boolPtr(false), Action: contract.DLPLog}}, nil},
		{"version missing", contract.RoutesFile{}, []string{"version: is required; add `version: 1`"}},
		{"version 2", contract.RoutesFile{Version: 2}, []string{"version: unsupported routes file version 2; this build understands version 1 (upgrade bot-bottle)"}},
		{"dlp action", contract.RoutesFile{Version: 1, DLP: contract.DLPConfig{Action: "Block"}}, []string{`dlp.action: "Block" is not a DLP action; use "block" or "log"`}},
		{"duplicate host", contract.RoutesFile{Version: 1, Routes: []contract.Route{{Host: "a.test"}, {Host: "b.test"}, {Host: "A.TEST"}}},
			[]string{`routes[2].host: "A.TEST" is already routed by routes[0]`}},
		{"duplicate ipv6", contract.RoutesFile{Version: 1, Routes: []contract.Route{{Host: "::1"}, {Host: "0:0::1"}}},
			[]string{`routes[1].host: "0:0::1" is already routed by routes[0]`}},
		{"duplicate wildcard", contract.RoutesFile{Version: 1, Routes: []contract.Route{{Host: "*.a.test"}, {Host: "*.A.test"}}},
			[]string{"routes[1].host"}},
		{"three problems", contract.RoutesFile{Version: 1, Routes: []contract.Route{
			{Host: "a.test"},
			{Host: "b.test", Auth: &contract.Auth{Scheme: "basic", Secret: "t"}},
			{Host: "c.test", Methods: []string{"GET"}, SSRFAllow: []string{"10.0.0.1/8"}, PathAllowlist: []string{"x"}},
		}}, []string{"routes[1].auth.scheme", "routes[2].path_allowlist[0]", "routes[2].ssrf_allow[0]"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkProblems(t, tc.file.Validate(), tc.wants...)
		})
	}
}

func TestDLPConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     contract.DLPConfig
		enabled bool
		action  contract.DLPAction
	}{
		{"zero fails closed", contract.DLPConfig{}, true, contract.DLPBlock},
		{"explicit on", contract.DLPConfig{Enabled: boolPtr(true)}, true, contract.DLPBlock},
		{"off", contract.DLPConfig{Enabled: boolPtr(false)}, false, contract.DLPBlock},
		{"log", contract.DLPConfig{Action: contract.DLPLog}, true, contract.DLPLog},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.cfg.IsEnabled(); got != tc.enabled {
				t.Errorf("IsEnabled() = %v, want %v", got, tc.enabled)
			}
			if got := tc.cfg.EffectiveAction(); got != tc.action {
				t.Errorf("EffectiveAction() = %v, want %v", got, tc.action)
			}
		})
	}
}

func TestEnums(t *testing.T) {
	for _, tc := range []struct {
		name  string
		parse func(string) (string, error)
		good  []string
		bad   []string
	}{
		{"dlp action", func(s string) (string, error) { v, err := contract.ParseDLPAction(s); return v.String(), err },
			[]string{"block", "log"}, []string{"", "Block", "warn"}},
		{"auth scheme", func(s string) (string, error) { v, err := contract.ParseAuthScheme(s); return v.String(), err },
			[]string{"Bearer", "token"}, []string{"", "bearer", "Token", "Basic"}},
		{"tool", func(s string) (string, error) { v, err := contract.ParseTool(s); return v.String(), err },
			[]string{"list-egress-routes", "egress-block", "dlp-block", "capability-block", "cred-block"}, []string{"", "egress_block", "shell"}},
		{"status", func(s string) (string, error) { v, err := contract.ParseStatus(s); return v.String(), err },
			[]string{"pending", "approved", "rejected", "edited"}, []string{"", "Approved", "denied"}},
		{"decision", func(s string) (string, error) { v, err := contract.ParseDecision(s); return v.String(), err },
			[]string{"allow", "deny", "error"}, []string{"", "ALLOW", "block"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, s := range tc.good {
				if got, err := tc.parse(s); err != nil || got != s {
					t.Errorf("Parse(%q) = %q, %v; want it back", s, got, err)
				}
			}
			for _, s := range tc.bad {
				if got, err := tc.parse(s); err == nil {
					t.Errorf("Parse(%q) = %q, want an error", s, got)
				} else if !strings.Contains(err.Error(), tc.good[0]) {
					t.Errorf("Parse(%q) error %q does not name the allowed values", s, err)
				}
			}
		})
	}
}

func TestAllowsMethod(t *testing.T) {
	for _, tc := range []struct {
		name    string
		methods []string
		m       string
		want    bool
	}{
		{"empty allows all", nil, "DELETE", true},
		{"listed", []string{"GET", "POST"}, "POST", true},
		{"not listed", []string{"GET", "POST"}, "DELETE", false},
		{"case-sensitive", []string{"GET"}, "get", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := (contract.Route{Methods: tc.methods}).AllowsMethod(tc.m); got != tc.want {
				t.Errorf("AllowsMethod(%q) = %v, want %v", tc.m, got, tc.want)
			}
		})
	}
}

// A route reaches 443 over HTTPS unless it lists its ports; plain HTTP
// goes only to a port the route lists.
func TestAllowsPort(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ports []int
		port  int
		tls   bool
		want  bool
	}{
		{"default: 443 over TLS", nil, 443, true, true},
		{"default: another port over TLS", nil, 8443, true, false},
		{"default: 80 over TLS", nil, 80, true, false},
		{"default: 22 over TLS", nil, 22, true, false},
		{"default: plain HTTP on 80", nil, 80, false, false},
		{"default: plain HTTP on 443", nil, 443, false, false},
		{"empty list is the default", []int{}, 443, true, true},
		{"empty list takes no plain HTTP", []int{}, 80, false, false},
		{"listed port over TLS", []int{8443}, 8443, true, true},
		{"listed port over plain HTTP", []int{8080}, 8080, false, true},
		{"list replaces 443", []int{8443}, 443, true, false},
		{"listed 80 over plain HTTP", []int{443, 80}, 80, false, true},
		{"listed 443 still over TLS", []int{443, 80}, 443, true, true},
		{"unlisted port", []int{443, 80}, 8080, false, false},
		{"port 0", []int{443}, 0, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := (contract.Route{Ports: tc.ports}).AllowsPort(tc.port, tc.tls); got != tc.want {
				t.Errorf("Route{Ports: %v}.AllowsPort(%d, tls=%v) = %v, want %v", tc.ports, tc.port, tc.tls, got, tc.want)
			}
		})
	}
}

func TestParsePorts(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []int
		err        string
	}{
		{"flow list", "[443, 8443]", []int{443, 8443}, ""},
		{"block list", "\n      - 80\n      - 443", []int{80, 443}, ""},
		{"empty", "[]", []int{}, ""},
		{"quoted", `["443"]`, nil, "cannot unmarshal !!str `443` into int"},
		{"not a list", "443", nil, "cannot unmarshal !!int `443` into []int"},
		{"range", "[443-450]", nil, "cannot unmarshal !!str `443-450` into int"},
		{"zero", "[0]", nil, "routes[0].ports[0]: 0 is not a TCP port"},
		{"duplicate", "[443, 443]", nil, "routes[0].ports[1]: 443 duplicates routes[0].ports[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rf, err := contract.ParseRoutes([]byte("version: 1\nroutes:\n  - host: a.test\n    ports: " + tc.yaml + "\n"))
			checkErr(t, err, tc.err)
			if err == nil {
				if diff := cmp.Diff(tc.want, rf.Routes[0].Ports); diff != "" {
					t.Errorf("ports (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestSSRFPrefixes(t *testing.T) {
	r := contract.Route{SSRFAllow: []string{"10.1.2.0/24", "192.0.2.7", "fd00::/8", "::1", "junk"}}
	want := []netip.Prefix{
		netip.MustParsePrefix("10.1.2.0/24"),
		netip.MustParsePrefix("192.0.2.7/32"),
		netip.MustParsePrefix("fd00::/8"),
		netip.MustParsePrefix("::1/128"),
	}
	if diff := cmp.Diff(want, r.SSRFPrefixes(), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
		t.Errorf("SSRFPrefixes() mismatch (-want +got):\n%s", diff)
	}
}

func TestLookup(t *testing.T) {
	f := &contract.RoutesFile{Version: 1, Routes: []contract.Route{
		{Host: "*.example.com"},
		{Host: "api.example.com"},
		{Host: "*.b.example.com"},
		{Host: "Exact.Test"},
		{Host: "2001:db8::1"},
		{Host: "192.0.2.1"},
	}}
	for _, tc := range []struct {
		name, host, want string
	}{
		{"exact beats wildcard", "api.example.com", "api.example.com"},
		{"exact case-insensitive", "API.EXAMPLE.COM", "api.example.com"},
		{"exact, route upper case", "exact.test", "Exact.Test"},
		{"wildcard one level", "www.example.com", "*.example.com"},
		{"wildcard case-insensitive", "WWW.Example.Com", "*.example.com"},
		{"wildcard deeper", "a.c.example.com", "*.example.com"},
		{"most specific wildcard", "a.b.example.com", "*.b.example.com"},
		{"deeper specific wildcard", "x.y.b.example.com", "*.b.example.com"},
		{"apex of a deeper wildcard falls to a shorter one", "b.example.com", "*.example.com"},
		{"ipv6 canonical", "2001:DB8:0::1", "2001:db8::1"},
		{"ipv4", "192.0.2.1", "192.0.2.1"},
		{"wildcard never matches apex", "example.com", ""},
		{"not a suffix match", "badexample.com", ""},
		{"unrelated", "evil.test", ""},
		{"subdomain of exact is not matched", "x.exact.test", ""},
		{"port is not stripped", "api.example.com:443", ""},
		{"trailing dot", "api.example.com.", ""},
		{"empty label", "a..example.com", ""},
		{"wildcard query", "*.example.com", ""},
		{"empty", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, ok := f.Lookup(tc.host)
			got := ""
			if ok {
				got = r.Host
			}
			if got != tc.want {
				t.Errorf("Lookup(%q) = %q, %v; want %q", tc.host, got, ok, tc.want)
			}
		})
	}
}

func TestLookupPointsIntoRoutes(t *testing.T) {
	f := exampleRoutes()
	r, ok := f.Lookup("api.example.test")
	if !ok || r != &f.Routes[0] {
		t.Fatalf("Lookup = %p, %v; want &Routes[0] = %p", r, ok, &f.Routes[0])
	}
}

func TestParseRoutesVersion(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"empty file", "", "version is required; add `version: 1`"},
		{"comments only", "# nothing\n", "version is required; add `version: 1`"},
		{"null document", "~\n", "version is required; add `version: 1`"},
		{"missing", "routes: []\n", "version is required; add `version: 1`"},
		{"zero", "version: 0\nroutes: []\n", "unsupported routes file version 0; this build understands version 1 (upgrade bot-bottle)"},
		{"two", "version: 2\n", "unsupported routes file version 2; this build understands version 1 (upgrade bot-bottle)"},
		{"negative", "version: -1\n", "unsupported routes file version -1"},
		{"huge", "version: 99999999999999999999\n", "version must be the number 1"},
		{"string", "version: \"1\"\n", "version must be the number 1, not the string \"1\""},
		{"float", "version: 1.0\n", "version must be the number 1"},
		{"list", "version: [1]\n", "version must be the number 1, not a list"},
		{"null", "version:\n", "version must be the number 1, not an empty value"},
		{"version 2 with unknown keys", "version: 2\nfuture: {x: 1}\n", "unsupported routes file version 2"},
		{"not a mapping", "- version: 1\n", "a routes file is a YAML mapping starting with `version: 1`, not a list"},
		{"one", "version: 1\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := contract.ParseRoutes([]byte(tc.in))
			checkErr(t, err, tc.want)
		})
	}
}

func TestParseRoutesStrict(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		wants    []string
	}{
		{"unknown top-level key", "version: 1\nroute: []\n", []string{`route: line 2: unknown key "route"; known keys here are version, dlp, routes`}},
		{"unknown route key", "version: 1\nroutes:\n  - host: a.test\n    hots: b.test\n", []string{`routes[0].hots: line 4: unknown key "hots"; known keys here are host, path_allowlist, methods, auth, tls_passthrough, ssrf_allow, dlp_allow, dlp_strict`}},
		{"unknown auth key", "version: 1\nroutes:\n  - host: a.test\n    auth: {scheme: Bearer, secret: t, token: hunter2}\n", []string{`routes[0].auth.token: line 4: unknown key "token"`}},
		{"every unknown key", "version: 1\nx: 1\ndlp: {y: 2}\nroutes: [{host: a.test, z: 3}, {host: b.test, w: 4}]\n", []string{"x: line 2", "dlp.y: line 3", "routes[0].z: line 4", "routes[1].w: line 4"}},
		{"merge key", "version: 1\nroutes:\n  - <<: {host: a.test}\n", []string{"routes[0]: line 3: merge keys (<<) are not supported"}},
		{"duplicate key", "version: 1\nroutes:\n  - host: a.test\n    host: evil.test\n", []string{`line 4: mapping key "host" already defined at line 3`}},
		{"every type error", "version: 1\nroutes:\n  - host: a.test\n    methods: GET\n    tls_passthrough: maybe\n", []string{"line 4: cannot unmarshal", "line 5: cannot unmarshal"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := contract.ParseRoutes([]byte(tc.in))
			checkProblems(t, err, tc.wants...)
		})
	}
	for _, tc := range []struct {
		name, in, want string
	}{
		{"second document", "version: 1\n---\nversion: 1\n", "line 2: a routes file holds one YAML document, but a second one starts here"},
		{"syntax error", "version: 1\nroutes: [\n", "yaml:"},
		{"unknown key inside alias", "version: 1\nx: &a {host: a.test, bogus: 1}\n", `unknown key "x"`},
		{"alias of unknown keys", "version: 1\nroutes:\n  - &a {host: a.test}\n  - *a\n", "already routed by routes[0]"},
		{"then validates", "version: 1\nroutes:\n  - host: a.test:443\n", `routes[0].host: "a.test:443" has a port`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := contract.ParseRoutes([]byte(tc.in))
			checkErr(t, err, tc.want)
		})
	}
}

func TestRoutesRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		file *contract.RoutesFile
	}{
		{"example", exampleRoutes()},
		{"empty", &contract.RoutesFile{Version: 1, Routes: []contract.Route{}}},
		{"quoting", &contract.RoutesFile{Version: 1, DLP: contract.DLPConfig{Enabled: boolPtr(false), Action: contract.DLPLog}, Routes: []contract.Route{
			{Host: "::1", PathAllowlist: []string{"/yes", "/:a", "/@x"}, Auth: &contract.Auth{Scheme: contract.AuthToken, Secret: "123"}},
			{Host: "*.example.test", SSRFAllow: []string{"::/0"}, DLPAllow: []string{"true", "1e5"}, DLPStrict: true},
		}}},
		{"ports", &contract.RoutesFile{Version: 1, Routes: []contract.Route{
			{Host: "api.example.test", Ports: []int{443, 8443}},
			{Host: "registry.example.test", TLSPassthrough: true, Ports: []int{8443}},
		}}},
	} {
		roundTrip(t, tc.name, tc.file, tc.file.Marshal, contract.ParseRoutes)
	}
}

func TestRoutesMarshalValidates(t *testing.T) {
	f := exampleRoutes()
	f.Routes[1].Auth = &contract.Auth{Scheme: contract.AuthBearer, Secret: "t"}
	_, err := f.Marshal()
	checkProblems(t, err, "routes[1].auth: cannot be combined with tls_passthrough")
}

var update = flag.Bool("update", false, "rewrite golden files in testdata")

// TestRoutesMarshalGolden pins what the CLI writes, so a change to the
// encoding shows up in review.
func TestRoutesMarshalGolden(t *testing.T) {
	data, err := exampleRoutes().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	const golden = "testdata/routes-marshal.golden"
	if *update {
		if err := os.WriteFile(golden, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(data)); diff != "" {
		t.Errorf("Marshal output changed (-want +got):\n%s", diff)
	}
}

func TestFileWideSSRFAllow(t *testing.T) {
	f, err := contract.ParseRoutes([]byte("version: 1\nssrf_allow: [\"10.9.0.0/16\"]\nroutes:\n  - host: a.example.test\n    ssrf_allow: [\"192.168.1.5\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := f.SSRFPrefixes(&f.Routes[0])
	if len(got) != 2 || got[0].String() != "10.9.0.0/16" || got[1].String() != "192.168.1.5/32" {
		t.Errorf("SSRFPrefixes = %v", got)
	}
	_, err = contract.ParseRoutes([]byte("version: 1\nssrf_allow: [\"10.9.0.1/16\"]\nroutes: []\n"))
	checkProblems(t, err, "ssrf_allow[0]")
}
