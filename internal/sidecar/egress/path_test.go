package egress

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

func TestNormalizePath(t *testing.T) {
	for _, c := range readFixture(t, "paths.txt", 2) {
		escaped, want := c.fields[0], c.fields[1]
		t.Run(strconv.Itoa(c.line)+":"+escaped, func(t *testing.T) {
			got, err := NormalizePath(escaped)
			wantSub, wantErr := strings.CutPrefix(want, "ERROR")
			if !wantErr {
				if err != nil || got != want {
					t.Fatalf("NormalizePath(%q) = %q, %v; want %q", escaped, got, err, want)
				}
				return
			}
			if err == nil {
				t.Fatalf("NormalizePath(%q) = %q; want an error", escaped, got)
			}
			if !errors.Is(err, ErrAmbiguousPath) {
				t.Errorf("error %v does not match ErrAmbiguousPath", err)
			}
			if got != "" {
				t.Errorf("NormalizePath(%q) returned %q with its error", escaped, got)
			}
			if sub := strings.TrimSpace(wantSub); !strings.Contains(err.Error(), sub) {
				t.Errorf("error %q does not mention %q", err, sub)
			}
		})
	}
}

// The error describes the problem and never quotes the path, which may hold
// a secret.
func TestNormalizePathErrorsDoNotEchoThePath(t *testing.T) {
	const secret = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"
	for _, path := range []string{
		"/bot" + secret + "/%2e%2e/x",
		"/bot" + secret + "%2F",
		"/bot" + secret + "/../x",
		"/bot" + secret + "//x",
		"/bot" + secret + "%zz",
		"/bot" + secret + "%C0%AF",
		"bot" + secret,
	} {
		t.Run(path, func(t *testing.T) {
			_, err := NormalizePath(path)
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "bot") {
				t.Fatalf("error %q echoes the path", err)
			}
		})
	}
}

func TestMatchPrefix(t *testing.T) {
	for _, c := range []struct {
		path, prefix string
		want         bool
	}{
		{"/v1", "/v1", true},
		{"/v1/", "/v1", true},
		{"/v1/x", "/v1", true},
		{"/v1x", "/v1", false},
		{"/v1.bak", "/v1", false},
		{"/v1-admin/x", "/v1", false},
		{"/v", "/v1", false},
		{"/v1/x", "/v1/", true},
		{"/v1/", "/v1/", true},
		{"/v1", "/v1/", false},
		{"/v1x", "/v1/", false},
		{"/V1/x", "/v1/", false},
		{"/anything", "/", true},
		{"/", "/", true},
		{"/x", "", false},
		{"", "", false},
		{"/a/b/c", "/a/b", true},
		{"/a/bc", "/a/b", false},
	} {
		t.Run(c.path+" under "+c.prefix, func(t *testing.T) {
			if got := MatchPrefix(c.path, c.prefix); got != c.want {
				t.Fatalf("MatchPrefix(%q, %q) = %v, want %v", c.path, c.prefix, got, c.want)
			}
		})
	}
}

func TestPathAllowed(t *testing.T) {
	narrow := &contract.Route{Host: "a.test", PathAllowlist: []string{"/v1/", "/health"}}
	open := &contract.Route{Host: "a.test"}
	for _, c := range []struct {
		name  string
		route *contract.Route
		path  string
		want  bool
	}{
		{"empty allowlist allows all", open, "/anything/at/all", true},
		{"first prefix", narrow, "/v1/models", true},
		{"second prefix exact", narrow, "/health", true},
		{"second prefix below", narrow, "/health/live", true},
		{"second prefix sibling", narrow, "/healthz", false},
		{"outside", narrow, "/admin", false},
		{"root", narrow, "/", false},
		{"nil route", nil, "/v1/models", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := PathAllowed(c.route, c.path); got != c.want {
				t.Fatalf("PathAllowed(%q) = %v, want %v", c.path, got, c.want)
			}
		})
	}
}

// An encoded slash must not let a path look like it is under a prefix while
// a server that decodes %2F before routing sees another path.
func TestEncodedSlashEscapesPrefix(t *testing.T) {
	rf := testRoutes(t)
	for _, path := range []string{
		"/v1%2F..%2Fadmin",
		"/v1%2f..%2fadmin",
		"/v1/%2E%2E%2Fadmin",
		"/v1/..%2Fadmin",
		"/v1/%252F..%252Fadmin",
		"/v1/..%5Cadmin",
		"/v1/%C0%AF../admin",
		"/v1/%EF%BC%8F..%EF%BC%8Fadmin",
	} {
		t.Run(path, func(t *testing.T) {
			d := Decide(rf, Request{ConnectHost: "api.example.test", ConnectPort: "443", HostHeader: "api.example.test",
				Method: "GET", EscapedPath: path, TLS: true})
			if d.Allow || d.Rule != RuleBadPath || d.Status != 400 {
				t.Fatalf("Decide = %+v; want bad-path 400", d)
			}
		})
	}
}

// Dot segments, raw or in any disguise, must never be resolved past a
// prefix.
func TestDotSegmentEscapesPrefix(t *testing.T) {
	rf := testRoutes(t)
	for _, path := range []string{
		"/v1/../admin",
		"/v1/./../admin",
		"/v1/%2e%2e/admin",
		"/v1/.%2E/admin",
		"/v1/..;/admin",
		"/v1/.. /admin",
		"/v1/..%20/admin",
		"/v1/.../admin",
		"/v1/%C0%AE%C0%AE/admin",
		"/v1/%EF%BC%8E%EF%BC%8E/admin",
		"/v1/%E2%80%A5/admin",
		"/v1/..",
	} {
		t.Run(path, func(t *testing.T) {
			d := Decide(rf, Request{ConnectHost: "api.example.test", ConnectPort: "443", HostHeader: "api.example.test",
				Method: "GET", EscapedPath: path, TLS: true})
			if d.Allow || d.Rule != RuleBadPath || d.Status != 400 {
				t.Fatalf("Decide = %+v; want bad-path 400", d)
			}
		})
	}
}

// reescape percent-encodes each segment of a normalised path, as a client
// sending it would.
func reescape(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

func FuzzNormalizePath(f *testing.F) {
	for _, c := range readFixture(f, "paths.txt", 2) {
		f.Add(c.fields[0])
	}
	f.Fuzz(func(t *testing.T, escaped string) {
		got, err := NormalizePath(escaped)
		if err != nil {
			if !errors.Is(err, ErrAmbiguousPath) {
				t.Fatalf("error %v does not match ErrAmbiguousPath", err)
			}
			return
		}
		switch {
		case !strings.HasPrefix(got, "/"):
			t.Fatalf("%q: result %q does not start with '/'", escaped, got)
		case !utf8.ValidString(got):
			t.Fatalf("%q: result %q is not valid UTF-8", escaped, got)
		case strings.Contains(got, "//"):
			t.Fatalf("%q: result %q has an empty segment", escaped, got)
		case strings.Contains(got, "/./") || strings.Contains(got, "/../") ||
			strings.HasSuffix(got, "/.") || strings.HasSuffix(got, "/.."):
			t.Fatalf("%q: result %q has a dot segment", escaped, got)
		case strings.ContainsAny(got, "%\\"):
			t.Fatalf("%q: result %q still holds '%%' or '\\'", escaped, got)
		}
		for _, r := range got {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("%q: result %q holds control character %U", escaped, got, r)
			}
		}
		again, err := NormalizePath(reescape(got))
		if err != nil || again != got {
			t.Fatalf("%q: NormalizePath(reescape(%q)) = %q, %v; want the same path", escaped, got, again, err)
		}
	})
}

func BenchmarkNormalizePath(b *testing.B) {
	for _, c := range []struct{ name, path string }{
		{"plain", "/v1/chat/completions"},
		{"encoded", "/v1/files/caf%C3%A9%20menu;v=2/content"},
		{"refused", "/v1/%2e%2e/admin"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = NormalizePath(c.path)
			}
		})
	}
}
