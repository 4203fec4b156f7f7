package contract

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Length limits of the names this package validates.
const (
	// MaxSecretNameLen is the longest secret name ValidSecretName accepts.
	MaxSecretNameLen = 128
	// MaxRepoNameLen is the longest repository name ValidRepoName accepts.
	MaxRepoNameLen = 100
	// MaxHostLen is the longest host ValidHost accepts (the DNS limit).
	MaxHostLen = 253
	// maxLabelLen is the DNS limit on one label of a host name.
	maxLabelLen = 63
)

// describeByte names the character starting at byte i of s for an error
// message: quoted when printable, spelled out otherwise.
func describeByte(s string, i int) string {
	r, _ := utf8.DecodeRuneInString(s[i:])
	switch {
	case r == ' ':
		return "a space"
	case r == utf8.RuneError:
		return fmt.Sprintf("the byte %#02x", s[i])
	case unicode.IsSpace(r) || unicode.IsControl(r) || !unicode.IsPrint(r):
		return fmt.Sprintf("the character %U", r)
	default:
		return fmt.Sprintf("%q", r)
	}
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// ValidSecretName reports whether s can name a secret: a letter or digit,
// then letters, digits, '.', '_' and '-', at most MaxSecretNameLen
// characters. A secret name is a file name directly under SecretsDir, so it
// can never contain '/' or be "." or "..".
func ValidSecretName(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("secret name is empty; name a file under %s, as in %q", SecretsDir, "api_token")
	case s == "." || s == "..":
		return fmt.Errorf("secret name %q is not a file name", s)
	case len(s) > MaxSecretNameLen:
		return fmt.Errorf("secret name is %d characters; the limit is %d", len(s), MaxSecretNameLen)
	case strings.Contains(s, "/"):
		return fmt.Errorf("secret name %q contains '/'; it names a file directly under %s, so write a bare name like %q", s, SecretsDir, "api_token")
	case !isAlnum(s[0]):
		return fmt.Errorf("secret name %q must start with a letter or digit", s)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return fmt.Errorf("secret name %q contains %s; use only letters, digits, '.', '_' and '-'", s, describeByte(s, i))
		}
	}
	return nil
}

// ValidRepoName reports whether s can name a gate repository: letters,
// digits, '.', '_' and '-', at most MaxRepoNameLen characters, not "." or
// "..", and not ending in ".git" (the agent's URL adds that: repo "demo" is
// served as /demo.git). A leading '-' is refused too, so a name can never be
// mistaken for a command-line option by git or ssh.
func ValidRepoName(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("repo name is empty")
	case s == "." || s == "..":
		return fmt.Errorf("repo name %q is not a directory name", s)
	case len(s) > MaxRepoNameLen:
		return fmt.Errorf("repo name is %d characters; the limit is %d", len(s), MaxRepoNameLen)
	case s[0] == '-':
		return fmt.Errorf("repo name %q must not start with '-'", s)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return fmt.Errorf("repo name %q contains %s; use only letters, digits, '.', '_' and '-'", s, describeByte(s, i))
		}
	}
	if base, ok := strings.CutSuffix(s, ".git"); ok {
		return fmt.Errorf("repo name %q ends in \".git\"; write %q (the agent clones http://%s:%d/%s.git)", s, base, GitGateHost, GitHTTPPort, base)
	}
	return nil
}

// NormalizeHost returns the form of a host that route matching compares:
// lower-cased, and for an IP literal its canonical text (so "0:0::1" and
// "::1" are the same host). It does not validate s.
func NormalizeHost(s string) string {
	s = strings.ToLower(s)
	// Only IP literals can have another canonical form; testing for them
	// first keeps route lookup (called per request) free of allocations.
	if s != "" && (strings.IndexByte(s, ':') >= 0 || s[len(s)-1] >= '0' && s[len(s)-1] <= '9') {
		if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
			return a.String()
		}
	}
	return s
}

// bareHost makes a best guess at the host name inside something that is
// not a bare host (a URL, host:port, [v6]), for "write X instead" hints.
func bareHost(s string) string {
	if _, rest, ok := strings.Cut(s, "://"); ok {
		s = rest
	}
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		s = s[i+1:]
	}
	if strings.HasPrefix(s, "[") {
		if end := strings.IndexByte(s, ']'); end > 0 {
			return s[1:end]
		}
		return strings.TrimPrefix(s, "[")
	}
	if strings.Count(s, ":") == 1 {
		s, _, _ = strings.Cut(s, ":")
	}
	return strings.TrimSuffix(s, ".")
}

// ValidHost reports whether s can be a route host: a DNS host name, a
// wildcard "*.example.com" (one '*', as the whole leftmost label, followed
// by at least two labels), or an IPv4 or IPv6 literal (IPv6 without
// brackets). It refuses schemes, ports, paths, user info, whitespace and a
// trailing dot, and the error says which and what to write instead.
//
// Host names have labels of 1 to 63 letters, digits and '-', not starting or
// ending with '-', and are at most MaxHostLen characters. A host whose last
// label is all digits but which is not a valid IPv4 address ("1.2.3",
// "010.0.0.1") is refused: resolvers disagree about what those mean.
func ValidHost(s string) error {
	if s == "" {
		return fmt.Errorf("host is empty")
	}
	if strings.Contains(s, "://") {
		return fmt.Errorf("%q has a scheme; write the bare host name %q", s, bareHost(s))
	}
	for i, r := range s {
		switch {
		case r == utf8.RuneError:
			return fmt.Errorf("host %q is not valid UTF-8", s)
		case unicode.IsSpace(r):
			return fmt.Errorf("host %q contains whitespace (%s)", s, describeByte(s, i))
		case unicode.IsControl(r):
			return fmt.Errorf("host %q contains a control character (%s)", s, describeByte(s, i))
		case r >= utf8.RuneSelf:
			return fmt.Errorf("host %q contains non-ASCII characters; write its punycode (xn--) form", s)
		}
	}
	if strings.Contains(s, "@") {
		return fmt.Errorf("%q has user info; write the bare host name %q", s, bareHost(s))
	}
	if i := strings.IndexAny(s, "/?#"); i >= 0 {
		what := "a path"
		if s[i] != '/' {
			what = "a query or fragment"
		}
		return fmt.Errorf("%q has %s; write the bare host name %q (routes narrow paths with path_allowlist)", s, what, bareHost(s))
	}
	if strings.ContainsAny(s, "[]") {
		if strings.Contains(s, "]:") {
			return fmt.Errorf("%q has a port; write the bare address %q", s, bareHost(s))
		}
		return fmt.Errorf("%q is in brackets; write the IPv6 address without them: %q", s, bareHost(s))
	}
	if strings.Contains(s, "%") {
		return fmt.Errorf("host %q contains '%%'; percent-encoding and IPv6 zones are not allowed", s)
	}
	if strings.Contains(s, ":") {
		a, err := netip.ParseAddr(s)
		if err == nil && a.Is6() {
			return nil
		}
		if strings.Count(s, ":") == 1 {
			return fmt.Errorf("%q has a port; write the bare host name %q", s, bareHost(s))
		}
		return fmt.Errorf("%q is not a valid IPv6 address", s)
	}
	if len(s) > MaxHostLen {
		return fmt.Errorf("host is %d characters; the limit is %d", len(s), MaxHostLen)
	}
	if strings.HasSuffix(s, ".") {
		return fmt.Errorf("host %q ends in a dot; write %q", s, strings.TrimRight(s, "."))
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
		return nil
	}
	name := s
	if rest, ok := strings.CutPrefix(s, "*."); ok {
		name = rest
		if strings.Count(name, ".") < 1 {
			return fmt.Errorf("wildcard %q is too broad; it needs at least two labels after \"*.\", as in \"*.example.com\"", s)
		}
	}
	if strings.Contains(name, "*") {
		return fmt.Errorf("host %q has a misplaced '*'; a wildcard is allowed only as the whole leftmost label, as in \"*.example.com\"", s)
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if err := validLabel(s, l); err != nil {
			return err
		}
	}
	if isDigits(labels[len(labels)-1]) {
		return fmt.Errorf("host %q looks like an IPv4 address but is not a valid one", s)
	}
	return nil
}

// validLabel checks one DNS label of host.
func validLabel(host, l string) error {
	switch {
	case l == "":
		return fmt.Errorf("host %q has an empty label (\"..\" or a leading dot)", host)
	case len(l) > maxLabelLen:
		return fmt.Errorf("host %q has a label of %d characters; the limit is %d", host, len(l), maxLabelLen)
	case l[0] == '-' || l[len(l)-1] == '-':
		return fmt.Errorf("host %q has a label starting or ending with '-' (%q)", host, l)
	}
	for i := 0; i < len(l); i++ {
		if c := l[i]; !isAlnum(c) && c != '-' {
			return fmt.Errorf("host %q contains %s; host names use letters, digits, '-' and '.'", host, describeByte(l, i))
		}
	}
	return nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
