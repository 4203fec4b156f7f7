package egress

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// ErrAmbiguousPath is matched (with errors.Is) by every error NormalizePath
// returns: the request path could be read differently by egress and by the
// upstream, or could step outside a path prefix, so it is refused.
var ErrAmbiguousPath = errors.New("ambiguous request path")

// pathError is one reason NormalizePath refuses a path. Its text describes
// the problem and never quotes the path, which may hold a secret (some APIs
// put tokens in the path), so it is safe to show the client and to log.
type pathError string

func (e pathError) Error() string { return string(e) }

func (e pathError) Is(target error) bool { return target == ErrAmbiguousPath }

// The reasons NormalizePath refuses a path.
const (
	errNotAbsolute      pathError = "path does not start with '/'"
	errBadEscape        pathError = "path contains a '%' that is not followed by two hex digits"
	errEncodedSlash     pathError = "path contains an encoded slash (%2F)"
	errEncodedBackslash pathError = "path contains an encoded backslash (%5C)"
	errEncodedDot       pathError = "path contains an encoded dot (%2E)"
	errEncodedPercent   pathError = "path contains an encoded percent sign (%25): double encoding is refused"
	errEncodedControl   pathError = "path contains an encoded control character"
	errBackslash        pathError = "path contains a backslash"
	errControl          pathError = "path contains a control character"
	errSpace            pathError = "path contains a raw space (send it as %20)"
	errQueryOrFragment  pathError = "path contains a raw '?' or '#'"
	errInvalidUTF8      pathError = "path is not valid UTF-8 once decoded"
	errLookalike        pathError = "path contains a character that some servers read as '/', '\\', '.' or '%'"
	errEmptySegment     pathError = "path contains an empty segment (\"//\")"
	errDotSegment       pathError = "path contains a \".\" or \"..\" segment (or one of only dots and spaces)"
)

// NormalizePath turns a request path as sent on the wire (percent-encoded,
// without the query: req.URL.EscapedPath() or the request-target up to '?')
// into the decoded path that path_allowlist prefixes are compared with. An
// empty path means "/" (an absolute URL with no path, RFC 9110 §4.2.3).
//
// A path is decoded exactly once, and only if nothing in it could mean one
// thing to egress and another to the upstream, or step outside a prefix
// once some server decodes, normalises or splits it further. Refused, with
// an error matching ErrAmbiguousPath:
//
//   - a path not starting with '/';
//   - a '%' not followed by two hex digits;
//   - an encoded '/', '\', '.' or '%' (%2F, %5C, %2E, %25, either case) and
//     any encoded control character (%00-%1F, %7F): some servers decode them
//     again before routing, so "/v1/%2e%2e/admin" or "/v1%2F..%2Fadmin"
//     would reach "/admin" while looking like "/v1/..." here, and
//     "%252e" is "%2e" after one decode;
//   - a raw backslash (a separator on Windows servers), a raw control
//     character, a raw space, a raw '?' or '#' (the caller passed a query or
//     fragment);
//   - after decoding: invalid UTF-8 (which includes overlong forms such as
//     %C0%AF for '/'), C1 control characters, and the handful of characters
//     that Unicode compatibility normalisation or Windows "best fit"
//     conversion turns into '/', '\', '.' or '%' (fullwidth solidus and full
//     stop, one- and two-dot leaders, the ellipsis, division and fraction
//     slashes, small and fullwidth reverse solidus and percent sign);
//   - empty segments ("//", except the empty segment after a trailing
//     '/'), which servers collapse differently;
//   - dot segments "." and "..", and segments made only of dots and spaces
//     (Windows strips trailing dots and spaces from a name).
//
// Semicolons are ordinary characters: egress compares "/v1;a=b/x" as it is,
// and a prefix match is still a match of the whole leading segments. A few
// servers (Tomcat, Jetty) strip ";params" from each segment before routing,
// so a segment whose part before the first ';' is empty or a dot segment
// (as in "/v1/..;/admin") is refused like the segment itself.
//
// The error text describes the problem without quoting the path.
func NormalizePath(escaped string) (string, error) {
	if escaped == "" {
		return "/", nil
	}
	if escaped[0] != '/' {
		return "", errNotAbsolute
	}
	decode := false
	for i := 0; i < len(escaped); i++ {
		switch c := escaped[i]; {
		case c == '%':
			decode = true
		case c == '\\':
			return "", errBackslash
		case c < 0x20 || c == 0x7f:
			return "", errControl
		case c == ' ':
			return "", errSpace
		case c == '?' || c == '#':
			return "", errQueryOrFragment
		}
	}
	path := escaped
	if decode {
		var err error
		if path, err = unescapePath(escaped); err != nil {
			return "", err
		}
	}
	if err := checkRunes(path); err != nil {
		return "", err
	}
	if err := checkSegments(path); err != nil {
		return "", err
	}
	return path, nil
}

// unescapePath decodes every %XX in s once, refusing the escapes that
// NormalizePath documents.
func unescapePath(s string) (string, error) {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b = append(b, c)
			continue
		}
		if i+2 >= len(s) {
			return "", errBadEscape
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", errBadEscape
		}
		switch d := hi<<4 | lo; {
		case d == '/':
			return "", errEncodedSlash
		case d == '\\':
			return "", errEncodedBackslash
		case d == '.':
			return "", errEncodedDot
		case d == '%':
			return "", errEncodedPercent
		case d < 0x20 || d == 0x7f:
			return "", errEncodedControl
		default:
			b = append(b, d)
		}
		i += 2
	}
	return string(b), nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// checkRunes checks the decoded path is valid UTF-8 without C1 controls or
// separator look-alikes. ASCII controls were refused while decoding.
func checkRunes(path string) error {
	if !utf8.ValidString(path) {
		return errInvalidUTF8
	}
	for i := 0; i < len(path); i++ {
		if path[i] < utf8.RuneSelf {
			continue
		}
		r, size := utf8.DecodeRuneInString(path[i:])
		if unicode.IsControl(r) {
			return errControl
		}
		if isLookalike(r) {
			return errLookalike
		}
		i += size - 1
	}
	return nil
}

// isLookalike reports whether r becomes '/', '\', '.' or '%' (or a run of
// dots) under NFKC normalisation or Windows best-fit mapping, the
// conversions path-traversal attacks on some servers rely on.
func isLookalike(r rune) bool {
	switch r {
	case '\u2024', // ONE DOT LEADER: NFKC "."
		'\u2025', // TWO DOT LEADER: NFKC ".."
		'\u2026', // HORIZONTAL ELLIPSIS: NFKC "..."
		'\uFE52', // SMALL FULL STOP: NFKC "."
		'\uFF0E', // FULLWIDTH FULL STOP: NFKC "."
		'\uFF0F', // FULLWIDTH SOLIDUS: NFKC "/"
		'\u2215', // DIVISION SLASH: best fit "/"
		'\u2044', // FRACTION SLASH: best fit "/"
		'\uFE68', // SMALL REVERSE SOLIDUS: NFKC "\"
		'\uFF3C', // FULLWIDTH REVERSE SOLIDUS: NFKC "\"
		'\u2216', // SET MINUS: best fit "\"
		'\uFE6A', // SMALL PERCENT SIGN: NFKC "%"
		'\uFF05': // FULLWIDTH PERCENT SIGN: NFKC "%"
		return true
	}
	return false
}

// checkSegments refuses empty and dot segments of a decoded path that
// starts with '/'.
func checkSegments(path string) error {
	rest := path[1:]
	for {
		seg, tail, more := strings.Cut(rest, "/")
		// Servers that strip path parameters see only the part before ';'.
		base, _, _ := strings.Cut(seg, ";")
		switch {
		case base == "" && (more || seg != ""):
			// Only the segment after a trailing '/' may be empty; one of
			// only parameters (";x") is empty to the servers above.
			return errEmptySegment
		case base != "" && strings.TrimRight(base, ". ") == "":
			return errDotSegment
		}
		if !more {
			return nil
		}
		rest = tail
	}
}

// MatchPrefix reports whether the normalised path falls under one
// path_allowlist prefix, segment by segment: a prefix ending in '/' matches
// every path that starts with it; any other prefix matches the path equal to
// it and the paths below it, so "/v1" matches "/v1" and "/v1/x" but not
// "/v1x" or "/v1.bak". A plain string prefix would let "/v1" grant
// "/v1-admin", which the operator never wrote. Paths are compared
// case-sensitively, as HTTP defines them; an empty prefix matches nothing.
func MatchPrefix(path, prefix string) bool {
	switch {
	case prefix == "" || !strings.HasPrefix(path, prefix):
		return false
	case len(path) == len(prefix) || prefix[len(prefix)-1] == '/':
		return true
	default:
		return path[len(prefix)] == '/'
	}
}

// PathAllowed reports whether route lets the agent request the normalised
// path: true if its path_allowlist is empty or any prefix matches (see
// MatchPrefix). A nil route allows nothing.
func PathAllowed(route *contract.Route, path string) bool {
	if route == nil {
		return false
	}
	if len(route.PathAllowlist) == 0 {
		return true
	}
	for _, p := range route.PathAllowlist {
		if MatchPrefix(path, p) {
			return true
		}
	}
	return false
}
