package egress

import (
	"fmt"
	"strings"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// askOperator is how the agent asks for more: the supervise MCP server's
// egress-block tool.
const askOperator = "ask the operator with the egress-block tool (supervise) and say why"

// DenyBody returns the plain-text body of the response refusing d: what was
// refused and what the agent can do about it, one short paragraph ending in
// a newline. host is the host the agent asked for (the CONNECT target, or
// the Host header's host for plain HTTP); it is named as given if valid and
// quoted otherwise. The body holds nothing that Decision.Reason does not
// (no path, query or header values). It returns "" when d allows the
// request.
func DenyBody(d Decision, host string) string {
	if d.Allow {
		return ""
	}
	h := displayHost(host)
	switch d.Rule {
	case RuleNoRoute:
		return fmt.Sprintf("egress: %s is not an allowed destination for this bottle.\n"+
			"If you need it, %s.\n", h, askOperator)
	case RulePortNotAllowed:
		// The Reason names the host and port, the scheme if it was plain
		// HTTP, and the ports the route allows: nothing the agent did not
		// send or the route does not say.
		return fmt.Sprintf("egress: %s.\n"+
			"If you need that port, %s; name the host and the port (the operator adds ports to a route in the bottle).\n", d.Reason, askOperator)
	case RuleBadHost:
		return "egress: the request has no valid Host header (or the CONNECT target no valid port), so egress cannot tell where it is going.\n" +
			"Send the request with a Host header naming the host you connected to, as HTTP clients do by default.\n"
	case RuleHostMismatch:
		return fmt.Sprintf("egress: this request's Host header names a different host or port than the tunnel it was sent in (CONNECT %s).\n"+
			"Each tunnel carries requests for its own host only: open a new connection for each host you talk to (use that host's URL directly).\n", h)
	case RuleAuthNeedsTLS:
		return fmt.Sprintf("egress: %s is reachable from this bottle only over HTTPS: egress adds its credential to TLS requests only, never over plain HTTP.\n"+
			"Use https://%s/ instead of http://.\n", h, bracketIPv6(h))
	case RuleBadPath:
		return fmt.Sprintf("egress: refused the request path: %s.\n"+
			"Egress compares paths after decoding them once and refuses any path servers could read differently: encoded '/', '\\', '.' or '%%', dot or empty segments, control characters, invalid UTF-8. Send the plain, normalised path.\n", d.Reason)
	case RuleGitReceivePack:
		return fmt.Sprintf("egress: git push over HTTP(S) is refused; every push goes through the git gate, which scans it first.\n"+
			"Push through the git gate: your remote for this repo is http://%s:%d/<name>.git, where <name> is the repo's name in this bottle's git-gate list (`git remote -v` shows your remotes).\n", contract.GitGateHost, contract.GitHTTPPort)
	case RulePathNotAllowed:
		prefixes := "none"
		if d.Route != nil && len(d.Route.PathAllowlist) > 0 {
			prefixes = strings.Join(d.Route.PathAllowlist, ", ")
		}
		return fmt.Sprintf("egress: this path is not allowed on %s; this bottle may use only paths under: %s.\n"+
			"If you need another path, %s (name the host and the path prefix).\n", h, prefixes, askOperator)
	case RuleMethodNotAllowed:
		return fmt.Sprintf("egress: this method is not allowed on %s; allowed methods: %s.\n"+
			"If you need another method, %s.\n", h, d.AllowHeader(), askOperator)
	default:
		return fmt.Sprintf("egress: the request to %s was refused (rule %s).\n", h, d.Rule)
	}
}

// bracketIPv6 brackets an IPv6 literal for use in a URL.
func bracketIPv6(h string) string {
	if strings.Contains(h, ":") && !strings.HasPrefix(h, "\"") {
		return "[" + h + "]"
	}
	return h
}
