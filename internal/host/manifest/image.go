package manifest

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// imageRefRE is Docker's image reference grammar (distribution/reference):
// [REGISTRY[:PORT]/]PATH[:TAG][@DIGEST], where PATH is lowercase
// components joined by '/', and the registry is a host name or a
// bracketed IPv6 address.
var imageRefRE = func() *regexp.Regexp {
	const (
		alnum     = `[a-z0-9]+`
		separator = `(?:[._]|__|[-]+)`
		component = alnum + `(?:` + separator + alnum + `)*`
		domainCmp = `(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])`
		domain    = `(?:` + domainCmp + `(?:\.` + domainCmp + `)*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?`
		tag       = `[\w][\w.-]{0,127}`
		digest    = `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`
	)
	return regexp.MustCompile(`^(?:` + domain + `/)?` + component + `(?:/` + component + `)*(?::` + tag + `)?(?:@` + digest + `)?$`)
}()

// maxImageNameLen is Docker's limit on the name part (registry and path).
const maxImageNameLen = 255

// imageRefError is what is wrong with an image reference, and how to
// write it instead.
type imageRefError struct{ msg, hint string }

func (e *imageRefError) Error() string { return e.msg }

// validImageRef checks that s is an image reference Docker can pull or
// run: no whitespace or control characters, no leading '-' (which a
// command line would read as an option), and Docker's reference grammar.
func validImageRef(s string) *imageRefError {
	const example = "write [REGISTRY/]NAME[:TAG][@DIGEST], e.g. bot-bottle/agent-test:local"
	if i := strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }); i >= 0 {
		return &imageRefError{fmt.Sprintf("image %q contains whitespace or a control character", s), "an image reference is one word; " + example}
	}
	if strings.HasPrefix(s, "-") {
		return &imageRefError{fmt.Sprintf("image %q starts with '-', which a command line reads as an option", s), example}
	}
	if imageRefRE.MatchString(s) {
		name := imageName(s)
		if len(name) > maxImageNameLen {
			return &imageRefError{fmt.Sprintf("image name is %d characters; Docker's limit is %d", len(name), maxImageNameLen), ""}
		}
		// Docker takes a first component with capitals for a registry
		// host, so "Bot-bottle/agent" would be pulled from a host
		// "Bot-bottle": almost surely a typo, refused here with its fix.
		if first, _, ok := strings.Cut(name, "/"); ok && !strings.ContainsAny(first, ".:") && strings.ToLower(first) != first {
			return &imageRefError{fmt.Sprintf("image %q has upper-case letters in %q, which Docker would take for a registry host", s, first),
				fmt.Sprintf("did you mean %q?", strings.ToLower(first)+s[len(first):])}
		}
		return nil
	}
	if lower := lowerPath(s); lower != s && imageRefRE.MatchString(lower) {
		return &imageRefError{fmt.Sprintf("image %q has upper-case letters in its name, which Docker refuses", s), fmt.Sprintf("did you mean %q?", lower)}
	}
	return &imageRefError{fmt.Sprintf("%q is not an image reference", s), example}
}

// imageName returns the registry and path of a reference, without its tag
// and digest.
func imageName(s string) string {
	s, _, _ = strings.Cut(s, "@")
	if i := strings.LastIndexByte(s, ':'); i > strings.LastIndexByte(s, '/') {
		s = s[:i]
	}
	return s
}

// lowerPath lowercases a reference's path, leaving its registry (which
// may have capitals) and its tag (which may too) as written.
func lowerPath(s string) string {
	name := imageName(s)
	rest := s[len(name):]
	registry, path := "", name
	if i := strings.IndexByte(name, '/'); i >= 0 {
		first := name[:i]
		if strings.ContainsAny(first, ".:") || first == "localhost" {
			registry, path = first+"/", name[i+1:]
		}
	}
	return registry + strings.ToLower(path) + rest
}
