package egress

// Rule is the stable id of the rule behind one decision: why egress
// allowed, refused or failed a request. The policy (Decide,
// ConnectDecision) and the proxy (scanning, dialling, tunnelling) share
// this one namespace; DenyBody picks a refusal's text by it, and it is the
// rule field of the audit record (contract.AuditRecord.Rule), so the ids
// are stable: audit consumers match on them.
type Rule string

// String returns the id as the audit record writes it.
func (r Rule) String() string { return string(r) }

// The rules the policy decides by (Decision.Rule).
const (
	// RuleAllow: the request is allowed.
	RuleAllow Rule = "allow"
	// RuleNoRoute (403): the target host has no route.
	RuleNoRoute Rule = "no-route"
	// RuleBadHost (400): the Host header (or the CONNECT port) is missing
	// or malformed, so there is no authority to compare or route by.
	RuleBadHost Rule = "bad-host"
	// RuleHostMismatch (421): inside a tunnel, the Host header names
	// another host or port than the CONNECT target.
	RuleHostMismatch Rule = "host-mismatch"
	// RuleAuthNeedsTLS (403): a route with auth was asked for over plain
	// HTTP.
	RuleAuthNeedsTLS Rule = "auth-needs-tls"
	// RuleBadPath (400): NormalizePath refused the path.
	RuleBadPath Rule = "bad-path"
	// RuleGitReceivePack (403): a git push over HTTP(S), which must go
	// through the git gate.
	RuleGitReceivePack Rule = "git-receive-pack"
	// RulePathNotAllowed (403): no path_allowlist prefix matches.
	RulePathNotAllowed Rule = "path-not-allowed"
	// RuleMethodNotAllowed (405): the route (or egress) does not allow the
	// method; Decision.AllowHeader gives the Allow header.
	RuleMethodNotAllowed Rule = "method-not-allowed"
	// RulePortNotAllowed (403): the route does not allow the target port
	// (a CONNECT's, or a plain-HTTP URL's) over TLS or plain HTTP; see
	// contract.Route.AllowsPort. It replaces "passthrough-port", which
	// covered tls_passthrough routes only.
	RulePortNotAllowed Rule = "port-not-allowed"
)

// The rules the proxy applies around the policy: tunnels, upstream dials,
// bodies and DLP.
const (
	// RulePassthrough: a tls_passthrough tunnel ran (and closed).
	RulePassthrough Rule = "passthrough"
	// RuleSNIMismatch (403): a tls_passthrough tunnel's ClientHello does not
	// name the CONNECT host (or has no SNI, or an encrypted one); the
	// tunnel is closed before any byte goes upstream.
	RuleSNIMismatch Rule = "sni-mismatch"
	// RuleTunnelCap (503): too many tunnels are open.
	RuleTunnelCap Rule = "tunnel-cap"
	// RuleUpstream (502, or 499 when the agent gave up): the upstream could
	// not be reached or answered unusably, or egress failed internally.
	RuleUpstream Rule = "upstream"
	// RuleSSRF (403): the host resolved to an address the SSRF rules
	// refuse and the route does not allow.
	RuleSSRF Rule = "ssrf"
	// RuleDLPBudget (403): the DLP scan did not finish in time; egress
	// fails closed.
	RuleDLPBudget Rule = "dlp-budget"
	// RuleEncoding (415 or 400): a request body egress cannot decode to
	// scan.
	RuleEncoding Rule = "unscannable-encoding"
	// RuleBadUpgrade (400): a protocol upgrade other than a websocket
	// handshake (a GET without a body); it would become a raw tunnel.
	RuleBadUpgrade Rule = "bad-upgrade"
	// RuleTooLarge (413, or 403 for a websocket message): more than egress
	// reads or scans.
	RuleTooLarge Rule = "body-too-large"
)

// DLPRule returns the rule of a DLP finding: "dlp:" and the DLP rule id (a
// gitleaks rule id such as "github-pat", or a held secret's), as in
// "dlp:github-pat". DLP rule ids are their own namespace (a route's
// dlp_allow lists them); the prefix keeps them apart from the ids above.
func DLPRule(id string) Rule { return Rule("dlp:" + id) }

// allows reports whether r lets the request go ahead: RuleAllow, or
// RulePassthrough for a tunnel egress does not read.
func (r Rule) allows() bool { return r == RuleAllow || r == RulePassthrough }
