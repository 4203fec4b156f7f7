// Package wildcard refuses route hosts that are wildcards at or above a
// public suffix: *.co.uk, *.github.io, *.s3.amazonaws.com. Anyone can
// register a name under a public suffix, so such a route would let egress
// forward to hosts that strangers own, including one an attacker set up
// to receive what the agent sends.
//
// The check uses the public suffix list compiled into
// golang.org/x/net/publicsuffix, ICANN and private sections alike (the
// private section is where github.io and s3.amazonaws.com are). It lives
// here, not in pkg/contract, whose imports stay the standard library and a
// YAML decoder: the manifest loader, the proposals operator and supervise
// call it on top of contract.ValidHost.
package wildcard

import (
	"fmt"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// Check returns an error saying why when host is a wildcard "*.SUFFIX"
// whose SUFFIX is a public suffix or lies above one (a bare TLD, say).
// Any other host, wildcard or not, is nil: Check adds to
// contract.ValidHost, which judges the rest of the syntax.
func Check(host string) error {
	suffix, ok := strings.CutPrefix(strings.ToLower(strings.TrimSuffix(host, ".")), "*.")
	if !ok || suffix == "" {
		return nil
	}
	// PublicSuffix("co.uk") is "co.uk": the name is itself a public suffix.
	// For a name above the list's entries ("uk" when only "co.uk" were
	// listed) it returns the name too, by the list's default rule "*".
	if ps, _ := publicsuffix.PublicSuffix(suffix); ps == suffix {
		return fmt.Errorf("%q is a wildcard over the public suffix %q, under which anyone can register a name: "+
			"egress would forward to hosts that others own; name the host (api.example.%s), or a wildcard under "+
			"a registered domain (*.example.%s)", host, suffix, suffix, suffix)
	}
	return nil
}
