package contract_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// addTestdata seeds f with every testdata file matching pattern.
func addTestdata(f *testing.F, pattern string) {
	f.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed files match %s: %v", pattern, err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// A file that parses must survive Marshal and parse to the same value. Nil
// and empty lists mean the same, and YAML does not keep the difference.
var equateEmpty = cmpopts.EquateEmpty()

func FuzzParseRoutes(f *testing.F) {
	addTestdata(f, "routes-*.yaml")
	f.Add([]byte("version: 1\nroutes:\n  - host: '*.a.test'\n    ssrf_allow: ['::1', 10.0.0.0/8]\n    dlp_allow: [x]\n"))
	f.Add([]byte("version: 1\nroutes:\n  - host: a.test\n    ports: [443, 8443]\n  - host: b.test\n    tls_passthrough: true\n    ports: [8443]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rf, err := contract.ParseRoutes(data)
		if err != nil {
			return
		}
		out, err := rf.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed file: %v", err)
		}
		again, err := contract.ParseRoutes(out)
		if err != nil {
			t.Fatalf("ParseRoutes(Marshal()): %v\n%s", err, out)
		}
		if diff := cmp.Diff(rf, again, equateEmpty); diff != "" {
			t.Fatalf("round trip mismatch (-first +second):\n%s", diff)
		}
		for _, r := range rf.Routes {
			if got, ok := rf.Lookup(r.Host); r.Host[0] != '*' && (!ok || got.Host != r.Host) {
				t.Fatalf("Lookup(%q) = %v, %v; want its own route", r.Host, got, ok)
			}
		}
	})
}

func FuzzParseGate(f *testing.F) {
	addTestdata(f, "gate-*.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		gf, err := contract.ParseGate(data)
		if err != nil {
			return
		}
		out, err := gf.Marshal()
		if err != nil {
			t.Fatalf("Marshal of a parsed file: %v", err)
		}
		again, err := contract.ParseGate(out)
		if err != nil {
			t.Fatalf("ParseGate(Marshal()): %v\n%s", err, out)
		}
		if diff := cmp.Diff(gf, again, equateEmpty); diff != "" {
			t.Fatalf("round trip mismatch (-first +second):\n%s", diff)
		}
	})
}

// FuzzParseFingerprint: whatever parses is valid and is exactly its own
// text form, so the gate, the proposal and the gate file can never
// disagree on which finding a fingerprint names.
func FuzzParseFingerprint(f *testing.F) {
	for _, s := range []string{
		"4f1c9a0e7b2d3c5a6e8f90a1b2c3d4e5f6a7b8c9:config/app.yaml:github-pat:3",
		"4f1c9a0e7b2d3c5a6e8f90a1b2c3d4e5f6a7b8c9:a:b/c::d e.txt:generic-api-key:12",
		"4f1c9a0e7b2d3c5a6e8f90a1b2c3d4e5f6a7b8c9:x:r:2147483648",
		"4f1c9a0:a:r:1",
		"4f1c9a0e7b2d3c5a6e8f90a1b2c3d4e5f6a7b8c9:a/../b:r:01",
		"github-pat",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fp, err := contract.ParseFingerprint(s)
		if err != nil {
			if fp != (contract.Fingerprint{}) {
				t.Fatalf("ParseFingerprint(%q) failed but returned %+v", s, fp)
			}
			return
		}
		if err := fp.Validate(); err != nil {
			t.Fatalf("ParseFingerprint(%q) = %+v, which does not validate: %v", s, fp, err)
		}
		if fp.String() != s {
			t.Fatalf("ParseFingerprint(%q).String() = %q", s, fp.String())
		}
		if strings.ContainsAny(fp.Path, "\x00\n\r\x1b") || fp.Line < 1 {
			t.Fatalf("ParseFingerprint(%q) = %+v: a control character or a bad line got through", s, fp)
		}
	})
}

func FuzzParseSSHURL(f *testing.F) {
	for _, s := range []string{
		"ssh://git@upstream.example.test:22/srv/git/demo.git",
		"ssh://deploy@[2001:db8::7]:2222/~/tools.git",
		"ssh://git@192.0.2.1/r",
		"git@h.test:demo.git",
		"ssh://git:pw@h.test/x",
		"ssh://git@h.test:0099/x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := contract.ParseSSHURL(s)
		if err != nil {
			return
		}
		if u.User == "" || u.Host == "" || u.Port < 1 || u.Port > 65535 || len(u.Path) < 2 || u.Path[0] != '/' {
			t.Fatalf("ParseSSHURL(%q) = %+v: a required part is missing", s, u)
		}
		again, err := contract.ParseSSHURL(u.String())
		if err != nil {
			t.Fatalf("ParseSSHURL(String() = %q): %v", u.String(), err)
		}
		if again != u {
			t.Fatalf("round trip: %+v became %+v", u, again)
		}
	})
}

func FuzzValidHost(f *testing.F) {
	for _, s := range []string{
		"api.example.test", "*.example.com", "192.0.2.1", "2001:db8::1", "::ffff:10.0.0.1",
		"https://x", "a.test:443", "[::1]", "a..b", "*.com", "1.2.3", "bücher.de", "fe80::1%eth0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := contract.ValidHost(s)
		n := contract.NormalizeHost(s)
		if contract.NormalizeHost(n) != n {
			t.Fatalf("NormalizeHost is not idempotent: %q -> %q -> %q", s, n, contract.NormalizeHost(n))
		}
		if err != nil {
			return
		}
		if err := contract.ValidHost(n); err != nil {
			t.Fatalf("ValidHost(%q) ok but ValidHost(NormalizeHost = %q): %v", s, n, err)
		}
		f := &contract.RoutesFile{Version: 1, Routes: []contract.Route{{Host: s}}}
		if err := f.Validate(); err != nil {
			t.Fatalf("a valid host makes an invalid route: %v", err)
		}
		r, ok := f.Lookup(n)
		if wildcard := s[0] == '*'; ok == wildcard || ok && r.Host != s {
			t.Fatalf("Lookup(%q) = %v, %v in a file routing only %q", n, r, ok, s)
		}
	})
}

// FuzzParseProposalAndResponse: the queue's records never panic the
// parsers, and what parses re-encodes and parses to the same record.
func FuzzParseProposalAndResponse(f *testing.F) {
	f.Add([]byte(`{"version":1,"id":"abc","bottle":"dev","tool":"egress-block","payload":{"host":"a.example.test"},"justification":"x","created_at":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"version":1,"id":"abc","status":"rejected","notes":"no","decided_at":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"version":1,"id":"abc","status":"edited","payload":{"host":"b.example.test"},"decided_at":"2026-01-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if p, err := contract.ParseProposal(data); err == nil {
			if err := contract.ValidDisplayText(p.Justification, true); err != nil {
				t.Fatalf("parsed proposal's justification is not display text: %v", err)
			}
			again, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := contract.ParseProposal(again); err != nil {
				t.Fatalf("re-encoded proposal does not parse: %v\n%s", err, again)
			}
		}
		if r, err := contract.ParseResponse(data); err == nil {
			again, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := contract.ParseResponse(again); err != nil {
				t.Fatalf("re-encoded response does not parse: %v\n%s", err, again)
			}
		}
	})
}
