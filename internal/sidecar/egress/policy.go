package egress

import (
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// Request is the facts of one request egress decides on: either a request
// inside a CONNECT tunnel (ConnectHost and ConnectPort set, TLS true once
// egress has terminated the agent's TLS) or a plain-HTTP proxy request
// (ConnectHost empty, TLS false). Nothing in it is copied into a Decision's
// Reason except host names and a standard method name.
type Request struct {
	// ConnectHost is the host of the CONNECT target that opened the tunnel,
	// bare, as net.SplitHostPort returns it (no port, no brackets). "" means
	// the request did not come through a tunnel: it is a plain-HTTP proxy
	// request, routed by HostHeader.
	ConnectHost string
	// ConnectPort is the port of the CONNECT target, in decimal. It is
	// required inside a tunnel (a CONNECT target always has one: "" is
	// refused) and ignored when ConnectHost is "".
	ConnectPort string
	// HostHeader is the authority the request names, "host" or "host:port"
	// with IPv6 literals in brackets: the Host header (HTTP/1.1) or
	// :authority (HTTP/2), or for a plain-HTTP proxy request the host of its
	// absolute URL, which takes precedence over the Host header (RFC 9112
	// §3.2.2) and is what the caller will dial. "" means none, which is
	// refused.
	HostHeader string
	// Method is the request method as sent (methods are case-sensitive).
	// "" is refused, as is any method outside the seven egress allows.
	Method string
	// EscapedPath is the path as sent on the wire, percent-encoded and
	// without the query: req.URL.EscapedPath(). "" means "/" (an absolute
	// URL with no path).
	EscapedPath string
	// RawQuery is the query as sent, without the '?'. It is read only to
	// recognise git pushes and never appears in a Decision. "" means none.
	RawQuery string
	// TLS reports whether the request reached egress over TLS (inside a
	// MITM'd tunnel). False means plain HTTP, over which egress never
	// injects a credential.
	TLS bool
}

// Decision is Decide's (or ConnectDecision's) verdict on one request.
type Decision struct {
	// Allow reports whether the request may be forwarded. False means it
	// must be answered with Status and DenyBody.
	Allow bool
	// Route is the route the request was matched to; nil means none (only
	// for RuleNoRoute and, in a plain-HTTP request, RuleBadHost). It points
	// into the RoutesFile passed to Decide.
	Route *contract.Route
	// Port is the port the request targets, in canonical decimal: the
	// CONNECT target's inside a tunnel, else the port HostHeader names or
	// 80. It is what the policy checked and what egress dials. It is set
	// when the request is allowed or refused for its port
	// (RulePortNotAllowed), and "" otherwise.
	Port string
	// Path is the normalised path the policy compared (NormalizePath); ""
	// means the decision was made before the path was looked at, or the
	// path was refused.
	Path string
	// Status is the HTTP status to answer a refused request with; 0 when
	// Allow is true.
	Status int
	// Rule is the rule that decided, for the audit log and DenyBody: one
	// of the policy's Rule constants. It is never empty.
	Rule Rule
	// Reason says why, in one line, for the client and the audit log. It
	// holds host names, the route's own path prefixes and methods, and
	// descriptions of problems, never the path, the query or any header
	// value other than the host.
	Reason string
}

// egressMethods are the methods egress forwards at all, the same set a
// route's methods may list (contract.ValidMethod). A route with no methods
// list allows these. TRACE is never among them: it would echo the injected
// credential back to the agent; nor is CONNECT inside a tunnel, nor
// WebDAV's methods (git's old push over DAV uses them).
var egressMethods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions,
}

func egressAllowsMethod(m string) bool {
	for _, a := range egressMethods {
		if m == a {
			return true
		}
	}
	return false
}

// ConnectDecision decides a CONNECT to host:port before any tunnel opens,
// so that a refused target never gets a TLS handshake or an upstream dial.
// host is bare, as net.SplitHostPort returns it: one trailing dot is
// dropped ("api.x.test." is the same absolute name as "api.x.test"), the
// host is normalised (contract.NormalizeHost) and looked up
// (contract.RoutesFile.Lookup); an IP literal needs a route like any other
// host. The verdict is, in this order:
//
//   - RuleNoRoute (403, no route) if the host is undeclared or not a valid
//     host;
//   - RuleBadHost (400) if port is not a canonical decimal port 1-65535;
//   - RulePortNotAllowed (403) if the route does not allow port over TLS
//     (contract.Route.AllowsPort: 443 unless it lists its ports);
//   - RuleAllow otherwise.
//
// The caller tunnels unread if Route.TLSPassthrough, and MITMs otherwise.
func ConnectDecision(rf *contract.RoutesFile, host, port string) Decision {
	var route *contract.Route
	h, ok := normalizeTarget(host)
	if ok {
		route, _ = lookup(rf, h)
	}
	if route == nil {
		return refuse(nil, "", http.StatusForbidden, RuleNoRoute,
			displayHost(host)+" is not an allowed destination for this bottle")
	}
	p, ok := canonicalPort(port)
	if !ok {
		return refuse(route, "", http.StatusBadRequest, RuleBadHost, "the CONNECT target has no valid port")
	}
	if d, ok := checkPort(route, h, p, true); !ok {
		return d
	}
	return Decision{Allow: true, Route: route, Port: p, Rule: RuleAllow}
}

// checkPort refuses with RulePortNotAllowed, and false, if route does not
// allow port (canonical) over TLS or plain HTTP.
func checkPort(route *contract.Route, host, port string, tls bool) (Decision, bool) {
	n, _ := strconv.Atoi(port)
	if route.AllowsPort(n, tls) {
		return Decision{}, true
	}
	what := joinHostPort(host, port)
	if !tls {
		what = "plain HTTP to " + what
	}
	d := refuse(route, "", http.StatusForbidden, RulePortNotAllowed,
		what+" is not allowed for this bottle; the route allows "+routePorts(route))
	d.Port = port
	return d, false
}

// routePorts says which ports route allows, for messages.
func routePorts(route *contract.Route) string {
	if len(route.Ports) == 0 {
		return fmt.Sprintf("only HTTPS, on port %d", contract.HTTPSPort)
	}
	ps := make([]string, len(route.Ports))
	for i, p := range route.Ports {
		ps[i] = strconv.Itoa(p)
	}
	if len(ps) == 1 {
		return "only port " + ps[0]
	}
	return "only ports " + strings.Join(ps, ", ")
}

// lookup finds the route of a host normalizeTarget has accepted.
func lookup(rf *contract.RoutesFile, host string) (*contract.Route, Rule) {
	if rf == nil {
		return nil, RuleNoRoute
	}
	route, ok := rf.Lookup(host)
	if !ok {
		return nil, RuleNoRoute
	}
	return route, RuleAllow
}

// normalizeTarget returns host without one trailing dot and normalised, if
// it is a valid route host that is not a wildcard.
func normalizeTarget(host string) (string, bool) {
	host = strings.TrimSuffix(host, ".")
	if contract.ValidHost(host) != nil || strings.HasPrefix(host, "*") {
		return "", false
	}
	return contract.NormalizeHost(host), true
}

// Decide decides one request against the routes file. The checks run in
// this order, each only about the route the request targets, so that a
// refusal never tells the agent anything about other routes (in particular,
// a Host header naming another host is refused the same way whether or not
// that host is declared):
//
//  1. the route: inside a tunnel, that of ConnectHost; for plain HTTP, that
//     of HostHeader's host (RuleNoRoute, 403; RuleBadHost, 400, if
//     HostHeader is missing or malformed);
//  2. inside a tunnel, HostHeader's host and port must equal the CONNECT
//     target's (a missing port means 443 over TLS, 80 otherwise; hosts are
//     compared normalised, one trailing dot dropped): RuleBadHost (400) if
//     it is missing or malformed or ConnectPort is not a port, else
//     RuleHostMismatch, answered 421 Misdirected Request, which tells a
//     client to open a new connection for that authority;
//  3. a route with auth over plain HTTP: RuleAuthNeedsTLS (403);
//  4. the port (ConnectPort in a tunnel; for plain HTTP, HostHeader's port
//     or 80), which the route must allow over TLS or plain HTTP
//     (contract.Route.AllowsPort): RulePortNotAllowed (403). A tunnel's
//     port was checked when it opened (ConnectDecision); checking it again
//     applies a reload to tunnels already open;
//  5. NormalizePath: RuleBadPath (400);
//  6. git receive-pack, whatever the route allows: RuleGitReceivePack
//     (403), pointing at the git gate;
//  7. the path allowlist: RulePathNotAllowed (403);
//  8. the method: RuleMethodNotAllowed, answered 405 with an Allow header
//     (Decision.AllowHeader), since the path exists for other methods.
//
// A nil rf allows nothing.
func Decide(rf *contract.RoutesFile, r Request) Decision {
	defaultPort := "80"
	if r.TLS {
		defaultPort = "443"
	}
	var route *contract.Route
	var host, port string // the target, normalised and canonical
	if r.ConnectHost != "" {
		var ok bool
		if host, ok = normalizeTarget(r.ConnectHost); ok {
			route, _ = lookup(rf, host)
		}
		if route == nil {
			return refuse(nil, "", http.StatusForbidden, RuleNoRoute,
				displayHost(r.ConnectHost)+" is not an allowed destination for this bottle")
		}
		if port, ok = canonicalPort(r.ConnectPort); !ok {
			return refuse(route, "", http.StatusBadRequest, RuleBadHost,
				"the CONNECT target has no valid port")
		}
		hh, hp, ok := splitAuthority(r.HostHeader)
		if !ok {
			return refuse(route, "", http.StatusBadRequest, RuleBadHost,
				"the Host header is missing or malformed")
		}
		if hp == "" {
			hp = defaultPort
		}
		if hh != host || hp != port {
			return refuse(route, "", http.StatusMisdirectedRequest, RuleHostMismatch,
				"the Host header does not name the CONNECT target "+joinHostPort(host, port))
		}
	} else {
		hh, hp, ok := splitAuthority(r.HostHeader)
		if !ok {
			return refuse(nil, "", http.StatusBadRequest, RuleBadHost,
				"the Host header is missing or malformed")
		}
		host, port = hh, hp
		if port == "" {
			port = defaultPort
		}
		if route, _ = lookup(rf, host); route == nil {
			return refuse(nil, "", http.StatusForbidden, RuleNoRoute,
				host+" is not an allowed destination for this bottle")
		}
	}
	if route.Auth != nil && !r.TLS {
		return refuse(route, "", http.StatusForbidden, RuleAuthNeedsTLS,
			host+" is reachable only over HTTPS: egress injects its credential only over TLS")
	}
	if d, ok := checkPort(route, host, port, r.TLS); !ok {
		return d
	}
	path, err := NormalizePath(r.EscapedPath)
	if err != nil {
		return refuse(route, "", http.StatusBadRequest, RuleBadPath, err.Error())
	}
	if isGitReceivePack(path, r.RawQuery) {
		return refuse(route, path, http.StatusForbidden, RuleGitReceivePack,
			"git push over HTTP(S) is refused: push through the git gate")
	}
	if !PathAllowed(route, path) {
		return refuse(route, path, http.StatusForbidden, RulePathNotAllowed,
			"this path is not allowed on "+host+"; allowed path prefixes: "+strings.Join(route.PathAllowlist, ", "))
	}
	if !egressAllowsMethod(r.Method) || !route.AllowsMethod(r.Method) {
		what := "this method"
		if egressAllowsMethod(r.Method) {
			what = r.Method
		}
		return refuse(route, path, http.StatusMethodNotAllowed, RuleMethodNotAllowed,
			what+" is not allowed on "+host+"; allowed methods: "+strings.Join(routeMethods(route), ", "))
	}
	return Decision{Allow: true, Route: route, Path: path, Port: port, Rule: RuleAllow}
}

func refuse(route *contract.Route, path string, status int, rule Rule, reason string) Decision {
	return Decision{Route: route, Path: path, Status: status, Rule: rule, Reason: reason}
}

// AllowHeader returns the value of the Allow header for d's route: its
// methods list, or every method egress forwards if it has none, as in
// "GET, HEAD". It is "" when d has no route. A 405 must carry it (RFC 9110
// §15.5.6).
func (d Decision) AllowHeader() string {
	if d.Route == nil {
		return ""
	}
	return strings.Join(routeMethods(d.Route), ", ")
}

// routeMethods returns the methods route allows, in egress's order.
func routeMethods(route *contract.Route) []string {
	out := make([]string, 0, len(egressMethods))
	for _, m := range egressMethods {
		if route.AllowsMethod(m) {
			out = append(out, m)
		}
	}
	return out
}

// splitAuthority splits a Host header value into its normalised host and
// canonical port ("" if absent). It refuses empty values, userinfo, an
// empty port ("host:"), unbracketed IPv6, zones and anything
// contract.ValidHost refuses once one trailing dot is dropped.
func splitAuthority(s string) (host, port string, ok bool) {
	if s == "" {
		return "", "", false
	}
	h, p := s, ""
	hasPort := false
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 {
			return "", "", false
		}
		h = s[1:end]
		switch rest := s[end+1:]; {
		case rest == "":
		case rest[0] == ':':
			p, hasPort = rest[1:], true
		default:
			return "", "", false
		}
		// Only IPv6 is bracketed; a zone is refused by ValidHost below.
		if a, err := netip.ParseAddr(h); err != nil || !a.Is6() {
			return "", "", false
		}
	} else if i := strings.IndexByte(s, ':'); i >= 0 {
		h, p, hasPort = s[:i], s[i+1:], true
	}
	if hasPort {
		if p, ok = canonicalPort(p); !ok {
			return "", "", false
		}
	}
	// An unbracketed IPv6 literal fails as a port ("db8::1" is not one).
	if h, ok = normalizeTarget(h); !ok {
		return "", "", false
	}
	return h, p, true
}

// canonicalPort returns a decimal port 1-65535 without leading zeros, as
// written, or false.
func canonicalPort(p string) (string, bool) {
	if p == "" || len(p) > 5 || p[0] == '0' {
		return "", false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return "", false
		}
		n = n*10 + int(p[i]-'0')
	}
	return p, n <= 65535
}

// joinHostPort writes host:port, bracketing IPv6.
func joinHostPort(host, port string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

// displayHost returns host for a message: normalised if it is a valid host,
// otherwise quoted (so no control character reaches a response) and cut
// short.
func displayHost(host string) string {
	if h, ok := normalizeTarget(host); ok {
		return h
	}
	if len(host) > contract.MaxHostLen {
		host = host[:contract.MaxHostLen]
	}
	return fmt.Sprintf("%q", host)
}

// isGitReceivePack reports whether a request is (part of) a git push over
// smart HTTP: a path whose last segment is git-receive-pack, or an
// .../info/refs advertisement asking for the receive-pack service. Both are
// matched case-insensitively and with any ";params" dropped, because some
// git servers run on servlet containers that strip them or match paths
// case-insensitively. The query is matched loosely, on purpose: any mention
// of receive-pack, after decoding as often as it is encoded, in an
// info/refs query refuses it. That covers service=git-receive-pack as Go's
// url.ParseQuery reads it, as git http-backend reads it (which also splits
// on ';'), and every case or encoding variant; info/refs has no other use
// for the word.
func isGitReceivePack(path, rawQuery string) bool {
	rest, last := cutLastSegment(strings.TrimSuffix(path, "/"))
	if strings.EqualFold(last, "git-receive-pack") {
		return true
	}
	if !strings.EqualFold(last, "refs") {
		return false
	}
	if _, prev := cutLastSegment(rest); !strings.EqualFold(prev, "info") {
		return false
	}
	return mentionsReceivePack(rawQuery)
}

// cutLastSegment splits path at its last '/' into what precedes it and the
// last segment without its ";params".
func cutLastSegment(path string) (rest, last string) {
	i := strings.LastIndexByte(path, '/')
	rest, last = path[:max(i, 0)], path[i+1:]
	last, _, _ = strings.Cut(last, ";")
	return rest, last
}

// mentionsReceivePack reports whether a query, percent-decoded leniently
// up to a few times, contains "receive-pack" in any case.
func mentionsReceivePack(q string) bool {
	for range 4 {
		if strings.Contains(strings.ToLower(q), "receive-pack") {
			return true
		}
		d := lenientUnescape(q)
		if d == q {
			return false
		}
		q = d
	}
	return strings.Contains(strings.ToLower(q), "receive-pack")
}

// lenientUnescape decodes each valid %XX and '+' in s and keeps everything
// else as it is, as the most forgiving server would.
func lenientUnescape(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '+':
			b = append(b, ' ')
		case '%':
			if i+2 < len(s) {
				hi, ok1 := unhex(s[i+1])
				lo, ok2 := unhex(s[i+2])
				if ok1 && ok2 {
					b = append(b, hi<<4|lo)
					i += 2
					continue
				}
			}
			b = append(b, c)
		default:
			b = append(b, c)
		}
	}
	return string(b)
}
