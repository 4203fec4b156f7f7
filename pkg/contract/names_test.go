package contract_test

import (
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

func TestValidSecretName(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"simple", "example_token", ""},
		{"dots and dashes", "a.b-c_d", ""},
		{"digit first", "0key", ""},
		{"longest", strings.Repeat("a", 128), ""},
		{"empty", "", "secret name is empty"},
		{"dot", ".", "not a file name"},
		{"dotdot", "..", "not a file name"},
		{"too long", strings.Repeat("a", 129), "the limit is 128"},
		{"slash", "a/b", "contains '/'"},
		{"traversal", "../ca_key", "contains '/'"},
		{"leading dot", ".hidden", "must start with a letter or digit"},
		{"leading dash", "-x", "must start with a letter or digit"},
		{"space", "a b", "contains a space"},
		{"newline", "a\nb", "contains the character U+000A"},
		{"unicode", "tökén", "contains 'ö'"},
		{"invalid utf8", "a\xffb", "contains the byte 0xff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkErr(t, contract.ValidSecretName(tc.in), tc.want)
		})
	}
}

func TestValidRepoName(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"simple", "demo", ""},
		{"mixed", "My.Repo_2-x", ""},
		{"git inside", "demo.gitx", ""},
		{"longest", strings.Repeat("r", 100), ""},
		{"empty", "", "repo name is empty"},
		{"dot", ".", "not a directory name"},
		{"dotdot", "..", "not a directory name"},
		{"too long", strings.Repeat("r", 101), "the limit is 100"},
		{"dot git", "demo.git", `ends in ".git"; write "demo"`},
		{"slash", "org/demo", `contains '/'`},
		{"leading dash", "-upload-pack=x", "must not start with '-'"},
		{"space", "my repo", "contains a space"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkErr(t, contract.ValidRepoName(tc.in), tc.want)
		})
	}
}

func TestValidHost(t *testing.T) {
	long := strings.Repeat("a", 63)
	for _, tc := range []struct {
		name, in, want string
	}{
		{"name", "api.example.test", ""},
		{"upper case", "API.Example.Test", ""},
		{"single label", "localhost", ""},
		{"hyphen inside", "my-host.example", ""},
		{"digits label", "1password.com", ""},
		{"63 char label", long + ".com", ""},
		{"253 chars", strings.Repeat(long+".", 3) + strings.Repeat("b", 61), ""},
		{"wildcard", "*.example.com", ""},
		{"deep wildcard", "*.a.b.example.com", ""},
		{"ipv4", "192.0.2.1", ""},
		{"ipv6", "2001:db8::1", ""},
		{"ipv6 loopback", "::1", ""},
		{"ipv4 mapped", "::ffff:192.0.2.1", ""},

		{"empty", "", "host is empty"},
		{"scheme", "https://x", `"https://x" has a scheme; write the bare host name "x"`},
		{"scheme with path", "http://api.example.test:8080/v1", `write the bare host name "api.example.test"`},
		{"port", "api.example.test:443", `has a port; write the bare host name "api.example.test"`},
		{"path", "api.example.test/v1", `has a path; write the bare host name "api.example.test"`},
		{"query", "api.example.test?x=1", "has a query or fragment"},
		{"userinfo", "user@api.example.test", `has user info; write the bare host name "api.example.test"`},
		{"brackets", "[::1]", `is in brackets; write the IPv6 address without them: "::1"`},
		{"brackets and port", "[::1]:443", `has a port; write the bare address "::1"`},
		{"zone", "fe80::1%eth0", "IPv6 zones are not allowed"},
		{"bad ipv6", "1:2:3", "not a valid IPv6 address"},
		{"space", "api example", "contains whitespace"},
		{"leading space", " api.example.test", "contains whitespace"},
		{"tab", "api\t.test", "contains whitespace"},
		{"control", "api\x00.test", "contains a control character"},
		{"non ascii", "bücher.example", "punycode"},
		{"trailing dot", "example.com.", `ends in a dot; write "example.com"`},
		{"empty label", "a..example.com", "empty label"},
		{"leading dot", ".example.com", "empty label"},
		{"leading hyphen", "-a.example.com", "starting or ending with '-'"},
		{"trailing hyphen", "a-.example.com", "starting or ending with '-'"},
		{"underscore", "a_b.example.com", `contains '_'`},
		{"label too long", long + "a.com", "label of 64 characters"},
		{"too long", strings.Repeat(long+".", 3) + strings.Repeat("b", 62), "the limit is 253"},
		{"wildcard alone", "*", "misplaced '*'"},
		{"wildcard tld", "*.com", "too broad"},
		{"two wildcards", "*.*.example.com", "misplaced '*'"},
		{"inner wildcard", "a.*.example.com", "misplaced '*'"},
		{"partial wildcard", "*api.example.com", "misplaced '*'"},
		{"wildcard suffix", "api.*", "misplaced '*'"},
		{"short ipv4", "10.1", "looks like an IPv4 address"},
		{"octal ipv4", "010.0.0.1", "looks like an IPv4 address"},
		{"decimal ipv4", "2130706433", "looks like an IPv4 address"},
		{"big octet", "1.2.3.256", "looks like an IPv4 address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkErr(t, contract.ValidHost(tc.in), tc.want)
		})
	}
}

func TestNormalizeHost(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"lower cases", "API.Example.TEST", "api.example.test"},
		{"wildcard", "*.Example.com", "*.example.com"},
		{"ipv6 canonical", "2001:DB8:0:0::1", "2001:db8::1"},
		{"ipv4 unchanged", "192.0.2.1", "192.0.2.1"},
		{"zone left alone", "FE80::1%ETH0", "fe80::1%eth0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := contract.NormalizeHost(tc.in); got != tc.want {
				t.Errorf("NormalizeHost(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
