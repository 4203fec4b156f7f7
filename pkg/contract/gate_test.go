package contract_test

import (
	"encoding/base64"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

const (
	// ed25519Line is a real public key line (from ssh-keygen).
	ed25519Line = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAeKoX7k+QKFZbI8WWrRoeMW+NOmgRG9HLaNOFKEH4/V"
	// ecdsaKey is a real nistp256 key, without its type.
	ecdsaKey = "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBHOWhO0AqRNAg45UGfPNddogxbGOGwikHC9eYPIab0Z3SEq9b0zyqiqHmrCpAF5yx6TPc1g/l4Xvha+2g0BCm4E="
)

// sshBlob builds a base64 SSH public key blob from its fields.
func sshBlob(fields ...string) string {
	var b []byte
	for _, f := range fields {
		b = binary.BigEndian.AppendUint32(b, uint32(len(f)))
		b = append(b, f...)
	}
	return base64.StdEncoding.EncodeToString(b)
}

func exampleGate() *contract.GateFile {
	return &contract.GateFile{Version: 1, Repos: []contract.Repo{
		{Name: "demo", URL: "ssh://git@upstream.example.test:22/srv/git/demo.git", Identity: "demo_key", HostKey: ed25519Line + " demo-upstream",
			DLPExceptions: []contract.Fingerprint{{Commit: "4f1c9a0e7b2d3c5a6e8f90a1b2c3d4e5f6a7b8c9", Path: "test/fixtures/fake-key.pem", Rule: "private-key", Line: 1}}},
		{Name: "tools", URL: "ssh://deploy@[2001:db8::7]:2222/~/tools.git", Identity: "tools_key", HostKey: "tools_known_hosts",
			PushRefs: []string{"refs/notes/"}, AllowBranchDelete: true},
		{Name: "lib", URL: "ssh://git@lib.example.test/lib.git", Identity: "lib_key", HostKey: "lib.example.test,192.0.2.7 ecdsa-sha2-nistp256 " + ecdsaKey},
	}}
}

func TestParseSSHURL(t *testing.T) {
	const shape = "; expected ssh://git@host[:port]/path.git"
	for _, tc := range []struct {
		name, in string
		want     contract.SSHURL
		err      string
	}{
		{"full", "ssh://git@upstream.example.test:2222/srv/git/demo.git", contract.SSHURL{User: "git", Host: "upstream.example.test", Port: 2222, Path: "/srv/git/demo.git"}, ""},
		{"default port", "ssh://git@h.test/demo.git", contract.SSHURL{User: "git", Host: "h.test", Port: 22, Path: "/demo.git"}, ""},
		{"ipv6", "ssh://git@[2001:db8::1]:22/r", contract.SSHURL{User: "git", Host: "2001:db8::1", Port: 22, Path: "/r"}, ""},
		{"ipv6 no port", "ssh://git@[::1]/r", contract.SSHURL{User: "git", Host: "::1", Port: 22, Path: "/r"}, ""},
		{"ipv4", "ssh://git@192.0.2.1:65535/r", contract.SSHURL{User: "git", Host: "192.0.2.1", Port: 65535, Path: "/r"}, ""},
		{"home path", "ssh://u.ser-1@h.test/~/repo.git", contract.SSHURL{User: "u.ser-1", Host: "h.test", Port: 22, Path: "/~/repo.git"}, ""},

		{"empty", "", contract.SSHURL{}, "URL is empty" + shape},
		{"scp form", "git@h.test:demo.git", contract.SSHURL{}, "URL is in scp form (user@host:path); write it as an ssh:// URL" + shape},
		{"no scheme", "h.test/demo.git", contract.SSHURL{}, "URL has no scheme" + shape},
		{"https", "https://h.test/demo.git", contract.SSHURL{}, `URL scheme is "https"; the gate reaches upstreams over SSH only` + shape},
		{"git+ssh", "git+ssh://git@h.test/demo.git", contract.SSHURL{}, `URL scheme is "git+ssh"`},
		{"no user", "ssh://h.test/demo.git", contract.SSHURL{}, "URL has no user" + shape},
		{"empty user", "ssh://@h.test/demo.git", contract.SSHURL{}, "user is empty"},
		{"password", "ssh://git:hunter2@h.test/demo.git", contract.SSHURL{}, "URL has a password; remove it"},
		{"option user", "ssh://-oProxyCommand=x@h.test/demo.git", contract.SSHURL{}, "must not start with '-'"},
		{"two ats", "ssh://a@b@h.test/demo.git", contract.SSHURL{}, "more than one '@'"},
		{"no host", "ssh://git@/demo.git", contract.SSHURL{}, "host is empty"},
		{"no host with port", "ssh://git@:22/demo.git", contract.SSHURL{}, "host is empty"},
		{"option host", "ssh://git@-oProxyCommand=x/demo.git", contract.SSHURL{}, "starting or ending with '-'"},
		{"bad host", "ssh://git@h_x.test/demo.git", contract.SSHURL{}, "contains '_'"},
		{"wildcard host", "ssh://git@*.h.test/demo.git", contract.SSHURL{}, "has a wildcard"},
		{"bare ipv6", "ssh://git@2001:db8::1/demo.git", contract.SSHURL{}, "write an IPv6 address in brackets"},
		{"unclosed bracket", "ssh://git@[::1/demo.git", contract.SSHURL{}, "'[' without ']'"},
		{"ipv4 in brackets", "ssh://git@[192.0.2.1]/demo.git", contract.SSHURL{}, "is not an IPv6 address"},
		{"junk after bracket", "ssh://git@[::1]x/demo.git", contract.SSHURL{}, `unexpected "x"`},
		{"empty port", "ssh://git@h.test:/demo.git", contract.SSHURL{}, "port is empty"},
		{"port zero", "ssh://git@h.test:0/demo.git", contract.SSHURL{}, "port 0 is out of range 1-65535"},
		{"port big", "ssh://git@h.test:65536/demo.git", contract.SSHURL{}, "out of range"},
		{"port name", "ssh://git@h.test:ssh/demo.git", contract.SSHURL{}, `port "ssh" is not a number`},
		{"port sign", "ssh://git@h.test:+22/demo.git", contract.SSHURL{}, "is not a number"},
		{"no path", "ssh://git@h.test", contract.SSHURL{}, "URL has no path"},
		{"empty path", "ssh://git@h.test/", contract.SSHURL{}, "path is empty"},
		{"query", "ssh://git@h.test/demo.git?x=1", contract.SSHURL{}, "query or fragment"},
		{"fragment", "ssh://git@h.test/demo.git#main", contract.SSHURL{}, "query or fragment"},
		{"space", "ssh://git@h.test/my repo.git", contract.SSHURL{}, "contains a space"},
		{"newline", "ssh://git@h.test/demo.git\n", contract.SSHURL{}, "contains the character U+000A"},
		{"shell quote", "ssh://git@h.test/demo'.git", contract.SSHURL{}, `path contains '\''`},
		{"shell dollar", "ssh://git@h.test/$(id).git", contract.SSHURL{}, `path contains '$'`},
		{"percent", "ssh://git@h.test/demo%20x.git", contract.SSHURL{}, `path contains '%'`},
		{"dotdot", "ssh://git@h.test/srv/../etc", contract.SSHURL{}, `".." segment`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := contract.ParseSSHURL(tc.in)
			checkErr(t, err, tc.err)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseSSHURL(%q) mismatch (-want +got):\n%s", tc.in, diff)
			}
			if err == nil {
				again, err := contract.ParseSSHURL(got.String())
				if err != nil || again != got {
					t.Errorf("ParseSSHURL(String() = %q) = %+v, %v; want %+v", got.String(), again, err, got)
				}
			}
		})
	}
}

// TestParseSSHURLHidesPassword checks an error about a URL never repeats
// the password it may carry.
func TestParseSSHURLHidesPassword(t *testing.T) {
	for _, in := range []string{
		"ssh://git:hunter2@h.test/demo.git",
		"ssh://git:hunter2@h.test",
		"https://git:hunter2@h.test/demo.git",
		"ssh://git:hunter2@h test/demo.git",
	} {
		t.Run(in, func(t *testing.T) {
			_, err := contract.ParseSSHURL(in)
			if err == nil || strings.Contains(err.Error(), "hunter2") {
				t.Errorf("ParseSSHURL(%q) error = %v; want an error without the password", in, err)
			}
		})
	}
}

func TestSSHURLString(t *testing.T) {
	for _, tc := range []struct {
		name string
		u    contract.SSHURL
		want string
	}{
		{"default port", contract.SSHURL{User: "git", Host: "h.test", Port: 22, Path: "/r.git"}, "ssh://git@h.test/r.git"},
		{"zero port", contract.SSHURL{User: "git", Host: "h.test", Path: "/r.git"}, "ssh://git@h.test/r.git"},
		{"other port", contract.SSHURL{User: "git", Host: "h.test", Port: 2222, Path: "/r.git"}, "ssh://git@h.test:2222/r.git"},
		{"ipv6", contract.SSHURL{User: "git", Host: "::1", Port: 2222, Path: "/r.git"}, "ssh://git@[::1]:2222/r.git"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.u.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHostKeyIsSecret(t *testing.T) {
	for _, tc := range []struct {
		hostKey string
		want    bool
	}{
		{"known_hosts", true},
		{ed25519Line, false},
		{"ssh-ed25519\tAAAA", false},
	} {
		t.Run(tc.hostKey, func(t *testing.T) {
			if got := (contract.Repo{HostKey: tc.hostKey}).HostKeyIsSecret(); got != tc.want {
				t.Errorf("HostKeyIsSecret() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestGateValidate(t *testing.T) {
	good := contract.Repo{Name: "demo", URL: "ssh://git@h.test/demo.git", Identity: "demo_key", HostKey: ed25519Line}
	with := func(f func(*contract.Repo)) contract.Repo {
		r := good
		f(&r)
		return r
	}
	hostKey := func(k string) contract.Repo { return with(func(r *contract.Repo) { r.HostKey = k }) }
	for _, tc := range []struct {
		name  string
		repo  contract.Repo
		wants []string
	}{
		{"good", good, nil},
		{"key with comment", hostKey(ed25519Line + " me@laptop and more words"), nil},
		{"key with host pattern", hostKey("h.test,[h.test]:2222 " + ed25519Line), nil},
		{"hashed host pattern", hostKey("|1|c2FsdA==|aGFzaA== " + ed25519Line), nil},
		{"tab separated", hostKey("h.test\tssh-ed25519\t" + strings.Fields(ed25519Line)[1]), nil},
		{"ecdsa", hostKey("ecdsa-sha2-nistp256 " + ecdsaKey), nil},
		{"rsa shape", hostKey("ssh-rsa " + sshBlob("ssh-rsa", "\x01\x00\x01", strings.Repeat("n", 257))), nil},
		{"sk ed25519", hostKey("sk-ssh-ed25519@openssh.com " + sshBlob("sk-ssh-ed25519@openssh.com", strings.Repeat("k", 32), "ssh:")), nil},
		{"secret name", hostKey("upstream_known_hosts"), nil},

		{"bad name", with(func(r *contract.Repo) { r.Name = "demo.git" }), []string{`repos[0].name: repo name "demo.git" ends in ".git"`}},
		{"no name", with(func(r *contract.Repo) { r.Name = "" }), []string{"repos[0].name: repo name is empty"}},
		{"bad url", with(func(r *contract.Repo) { r.URL = "git@h.test:demo.git" }), []string{"repos[0].url: URL is in scp form"}},
		{"no url", with(func(r *contract.Repo) { r.URL = "" }), []string{"repos[0].url: URL is empty"}},
		{"no identity", with(func(r *contract.Repo) { r.Identity = "" }), []string{"repos[0].identity: secret name is empty"}},
		{"identity path", with(func(r *contract.Repo) { r.Identity = "/home/me/.ssh/id_ed25519" }), []string{"repos[0].identity: secret name \"/home/me/.ssh/id_ed25519\" contains '/'"}},
		{"no host key", hostKey(""), []string{"repos[0].host_key: is required: gitgate checks the upstream's host key strictly and never trusts it on first use"}},
		{"bad secret name", hostKey("known/hosts"), []string{`repos[0].host_key: is neither a key line ("ssh-ed25519 AAAA...") nor a secret name`}},
		{"unknown type", hostKey("ssh-dss AAAAB3NzaC1kc3M="), []string{"key line has no key type; it needs one of ssh-ed25519, ssh-rsa"}},
		{"type only", hostKey("h.test ssh-ed25519"), []string{`key line has no key after "ssh-ed25519"`}},
		{"not base64", hostKey("ssh-ed25519 not*base64"), []string{"key line's key is not valid base64"}},
		{"truncated", hostKey(ed25519Line[:len(ed25519Line)-8]), []string{"key line's key is cut short or malformed"}},
		{"wrong type", hostKey("ssh-rsa " + strings.Fields(ed25519Line)[1]), []string{`key line's key is a "ssh-ed25519" key, not "ssh-rsa"`}},
		{"short ed25519", hostKey("ssh-ed25519 " + sshBlob("ssh-ed25519", "short")), []string{"ed25519 key is 5 bytes, not 32"}},
		{"marker", hostKey("@cert-authority *.h.test " + ed25519Line), []string{`marker "@cert-authority"`}},
		{"two lines", hostKey(ed25519Line + "\n" + ed25519Line), []string{"contains the character U+000A; give exactly one line"}},
		{"too long", hostKey(ed25519Line + " " + strings.Repeat("c", 8192)), []string{"the limit is 8192"}},
		{"push refs", with(func(r *contract.Repo) { r.PushRefs = []string{"refs/notes/", "refs/meta/"} }), nil},
		{"push ref without slash", with(func(r *contract.Repo) { r.PushRefs = []string{"refs/notes"} }), []string{`repos[0].push_refs[0]: "refs/notes" is not a ref namespace`}},
		{"push ref outside refs", with(func(r *contract.Repo) { r.PushRefs = []string{"notes/"} }), []string{`repos[0].push_refs[0]: "notes/" is not a ref namespace`}},
		{"push ref of branches", with(func(r *contract.Repo) { r.PushRefs = []string{"refs/heads/"} }), []string{`"refs/heads/" is always allowed`}},
		{"push ref bad char", with(func(r *contract.Repo) { r.PushRefs = []string{"refs/a b/"} }), []string{"is not a valid ref namespace"}},
		{"push ref duplicate", with(func(r *contract.Repo) { r.PushRefs = []string{"refs/notes/", "refs/notes/"} }), []string{"repos[0].push_refs[1]: duplicates push_refs[0]"}},
		{"everything wrong", contract.Repo{Name: "-x", URL: "ssh://h/x", Identity: "", HostKey: ""},
			[]string{"repos[0].name", "repos[0].url", "repos[0].identity", "repos[0].host_key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &contract.GateFile{Version: 1, Repos: []contract.Repo{tc.repo}}
			checkProblems(t, f.Validate(), tc.wants...)
		})
	}
}

func TestRepoMayPush(t *testing.T) {
	r := contract.Repo{PushRefs: []string{"refs/notes/"}}
	for name, want := range map[string]bool{
		"refs/heads/main": true, "refs/tags/v1": true, "refs/notes/commits": true,
		"refs/replace/abc": false, "refs/pull/1/head": false, "refs/remotes/origin/x": false,
		"refs/meta/config": false, "refs/headsx": false, "refs/notesx/y": false,
	} {
		if got := r.MayPush(name); got != want {
			t.Errorf("MayPush(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestGateValidateFile(t *testing.T) {
	for _, tc := range []struct {
		name  string
		file  *contract.GateFile
		wants []string
	}{
		{"example", exampleGate(), nil},
		{"no repos", &contract.GateFile{Version: 1}, nil},
		{"empty repos", &contract.GateFile{Version: 1, Repos: []contract.Repo{}}, nil},
		{"version missing", &contract.GateFile{}, []string{"version: is required"}},
		{"version 2", &contract.GateFile{Version: 2}, []string{"version: unsupported gate file version 2"}},
		{"duplicate name", func() *contract.GateFile {
			f := exampleGate()
			f.Repos[2].Name = "Demo"
			return f
		}(), []string{`repos[2].name: "Demo" is already used by repos[0]`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkProblems(t, tc.file.Validate(), tc.wants...)
		})
	}
}

func TestGateLookup(t *testing.T) {
	f := exampleGate()
	for _, tc := range []struct {
		name string
		want int
	}{
		{"demo", 0},
		{"lib", 2},
		{"Demo", -1},
		{"demo.git", -1},
		{"", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, ok := f.Lookup(tc.name)
			switch {
			case tc.want < 0 && ok:
				t.Errorf("Lookup(%q) = %+v; want no match", tc.name, r)
			case tc.want >= 0 && (!ok || r != &f.Repos[tc.want]):
				t.Errorf("Lookup(%q) = %p, %v; want &Repos[%d]", tc.name, r, ok, tc.want)
			}
		})
	}
}

func TestParseGateVersion(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"missing", "repos: []\n", "version is required; add `version: 1`"},
		{"zero", "version: 0\n", "unsupported gate file version 0; this build understands version 1 (upgrade bot-bottle)"},
		{"two", "version: 2\nrepos: [{name: x, mirror: true}]\n", "unsupported gate file version 2; this build understands version 1 (upgrade bot-bottle)"},
		{"string", "version: one\n", `version must be the number 1, not the string "one"`},
		{"one", "version: 1\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := contract.ParseGate([]byte(tc.in))
			checkErr(t, err, tc.want)
		})
	}
}

func TestParseGateUnknownKey(t *testing.T) {
	in := "version: 1\nrepos:\n  - name: demo\n    url: ssh://git@h.test/demo.git\n    identity: k\n    hostkey: k2\n"
	_, err := contract.ParseGate([]byte(in))
	checkProblems(t, err, `repos[0].hostkey: line 6: unknown key "hostkey"; known keys here are name, url, identity, host_key`)
}

func TestGateRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		file *contract.GateFile
	}{
		{"example", exampleGate()},
		{"empty", &contract.GateFile{Version: 1, Repos: []contract.Repo{}}},
	} {
		roundTrip(t, tc.name, tc.file, tc.file.Marshal, contract.ParseGate)
	}
}

func TestGateMarshalValidates(t *testing.T) {
	f := exampleGate()
	f.Repos[0].HostKey = ""
	_, err := f.Marshal()
	checkProblems(t, err, "repos[0].host_key: is required")
}
