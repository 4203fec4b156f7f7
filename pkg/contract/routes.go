package contract

import (
	"fmt"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"
)

// RoutesFile is the routes file: what the agent may reach through egress.
// The CLI writes it (RoutesFile.Marshal) and egress reads it (ParseRoutes).
// Token values never appear in it; routes name secrets instead.
type RoutesFile struct {
	// Version is the contract version; it must be Version. Zero means the
	// file did not say, which is an error.
	Version int `yaml:"version" json:"version"`
	// DLP configures secret scanning for every route; the zero value scans
	// and blocks.
	DLP DLPConfig `yaml:"dlp" json:"dlp"`
	// Routes are the reachable hosts, each at most once. Nil or empty means
	// nothing is reachable.
	Routes []Route `yaml:"routes" json:"routes"`
	// SSRFAllow holds CIDRs (or single IPs) every route may reach despite
	// the SSRF rules, for a bottle whose upstreams live on a private
	// network; nil means none. A route's own ssrf_allow adds to it.
	SSRFAllow []string `yaml:"ssrf_allow,omitempty" json:"ssrf_allow,omitempty"`
}

// SSRFPrefixes returns the prefixes route may reach despite the SSRF
// rules: the file's and the route's own. Only meaningful after Validate.
func (f *RoutesFile) SSRFPrefixes(route *Route) []netip.Prefix {
	out := (Route{SSRFAllow: f.SSRFAllow}).SSRFPrefixes()
	if route != nil {
		out = append(out, route.SSRFPrefixes()...)
	}
	return out
}

// DLPConfig is the file-wide data-loss-prevention setting. It governs the
// secret-scanning rules only: a request carrying a credential egress holds
// (and injects) is refused whatever it says.
type DLPConfig struct {
	// Enabled turns the rules on or off; nil means on (fail closed).
	Enabled *bool `yaml:"enabled,omitempty" json:"enabled,omitempty"`
	// Action is what a finding does; "" means DLPBlock.
	Action DLPAction `yaml:"action,omitempty" json:"action,omitempty"`
}

// IsEnabled reports whether DLP scanning is on: true unless Enabled is set
// to false.
func (d DLPConfig) IsEnabled() bool {
	return d.Enabled == nil || *d.Enabled
}

// EffectiveAction returns Action, with "" read as DLPBlock.
func (d DLPConfig) EffectiveAction() DLPAction {
	if d.Action == "" {
		return DLPBlock
	}
	return d.Action
}

// DLPAction is what egress does with a request in which DLP found a secret.
type DLPAction string

// The DLP actions.
const (
	// DLPBlock refuses the request (the default).
	DLPBlock DLPAction = "block"
	// DLPLog forwards the request and records the finding (its rule id) in
	// egress's log.
	DLPLog DLPAction = "log"
)

// String returns the action as written in the routes file.
func (a DLPAction) String() string { return string(a) }

// Valid reports whether a is DLPBlock or DLPLog.
func (a DLPAction) Valid() bool { return a == DLPBlock || a == DLPLog }

// ParseDLPAction returns s as a DLPAction, or an error naming the allowed
// values.
func ParseDLPAction(s string) (DLPAction, error) {
	if a := DLPAction(s); a.Valid() {
		return a, nil
	}
	return "", fmt.Errorf("%q is not a DLP action; use %q or %q", s, DLPBlock, DLPLog)
}

// Route is one host the agent may reach, and on what terms.
type Route struct {
	// Host is the host name, IP literal or "*.suffix" wildcard the route
	// applies to (see ValidHost), compared case-insensitively. It is
	// required.
	Host string `yaml:"host" json:"host"`
	// PathAllowlist holds the URL path prefixes the agent may request,
	// matched on the normalised, decoded path. Nil or empty means every
	// path.
	PathAllowlist []string `yaml:"path_allowlist,omitempty" json:"path_allowlist,omitempty"`
	// Methods holds the HTTP methods the agent may use. Nil or empty means
	// every method egress itself allows.
	Methods []string `yaml:"methods,omitempty" json:"methods,omitempty"`
	// Auth is the credential egress injects on this route; nil means none
	// (and whatever the agent sends is stripped all the same).
	Auth *Auth `yaml:"auth,omitempty" json:"auth,omitempty"`
	// TLSPassthrough tunnels TLS to the host unread: no MITM, so no path,
	// method, credential or DLP handling. False means egress terminates TLS
	// and applies the rest of the route.
	TLSPassthrough bool `yaml:"tls_passthrough,omitempty" json:"tls_passthrough,omitempty"`
	// SSRFAllow holds CIDRs (or single IPs) the host may resolve to even
	// though they are private, loopback or otherwise refused. Nil or empty
	// means none.
	SSRFAllow []string `yaml:"ssrf_allow,omitempty" json:"ssrf_allow,omitempty"`
	// DLPAllow holds DLP rule ids that do not fire on this route. Nil or
	// empty means every rule applies.
	DLPAllow []string `yaml:"dlp_allow,omitempty" json:"dlp_allow,omitempty"`
	// DLPStrict spools whole request bodies and scans them before
	// forwarding anything. False means bodies are scanned as they stream.
	DLPStrict bool `yaml:"dlp_strict,omitempty" json:"dlp_strict,omitempty"`
	// Ports holds the TCP ports (1-65535) egress connects to the host on,
	// each at most once. Nil or empty means HTTPSPort over HTTPS only, and
	// no plain HTTP at all. A listed port is open to HTTPS (a CONNECT
	// tunnel, MITM'd or tls_passthrough) and to plain http:// requests;
	// egress still refuses plain HTTP on a route with auth. The list
	// replaces the default: to keep 443, list it.
	Ports []int `yaml:"ports,omitempty" json:"ports,omitempty"`
}

// HTTPSPort is the one port a route without a ports list allows, and only
// over HTTPS.
const HTTPSPort = 443

// AllowsPort reports whether the route lets egress connect to port for the
// agent, over TLS (tls true: a CONNECT tunnel) or plain HTTP (tls false).
// A port in Ports is allowed either way. A route with no Ports allows
// HTTPSPort over TLS and nothing over plain HTTP: plain HTTP, readable and
// alterable on the network, goes only where the operator declared a port.
func (r Route) AllowsPort(port int, tls bool) bool {
	if len(r.Ports) == 0 {
		return tls && port == HTTPSPort
	}
	for _, p := range r.Ports {
		if p == port {
			return true
		}
	}
	return false
}

// AllowsMethod reports whether the route lets the agent use method m. An
// empty Methods list allows every method; otherwise m must be listed
// exactly (methods are case-sensitive).
func (r Route) AllowsMethod(m string) bool {
	if len(r.Methods) == 0 {
		return true
	}
	for _, allowed := range r.Methods {
		if m == allowed {
			return true
		}
	}
	return false
}

// SSRFPrefixes returns SSRFAllow parsed, single IPs as /32 or /128
// prefixes. It is meaningful only for a validated route: entries that do not
// parse are skipped.
func (r Route) SSRFPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range r.SSRFAllow {
		if p, err := ParseSSRFEntry(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// Auth is a credential egress injects into requests on a route. It names
// the secret holding the token; the token itself is never in the file.
type Auth struct {
	// Scheme selects the Authorization header form; it is required.
	Scheme AuthScheme `yaml:"scheme" json:"scheme"`
	// Secret is the name of the file under SecretsDir holding the token (see
	// ValidSecretName); it is required.
	Secret string `yaml:"secret" json:"secret"`
}

// AuthScheme is the scheme word of an injected Authorization header.
type AuthScheme string

// The supported schemes. They are case-sensitive, as written in the header.
const (
	// AuthBearer sends "Authorization: Bearer <token>".
	AuthBearer AuthScheme = "Bearer"
	// AuthToken sends "Authorization: token <token>" (GitHub's classic
	// form).
	AuthToken AuthScheme = "token"
)

// String returns the scheme as written in the header.
func (s AuthScheme) String() string { return string(s) }

// Valid reports whether s is AuthBearer or AuthToken.
func (s AuthScheme) Valid() bool { return s == AuthBearer || s == AuthToken }

// ParseAuthScheme returns s as an AuthScheme, or an error naming the
// allowed values.
func ParseAuthScheme(s string) (AuthScheme, error) {
	if a := AuthScheme(s); a.Valid() {
		return a, nil
	}
	return "", fmt.Errorf("%q is not a supported scheme; use %q or %q (case-sensitive)", s, AuthBearer, AuthToken)
}

// ParseRoutes decodes and validates a routes file. It checks the version
// before anything else, so a file from a newer release fails with an error
// matching ErrUnsupportedVersion; unknown keys are errors naming the key and
// its line; the result has passed Validate.
func ParseRoutes(data []byte) (*RoutesFile, error) {
	var f RoutesFile
	if err := parseYAML(data, "routes file", &f); err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

// Marshal validates f and encodes it as YAML, so the CLI never writes a
// file egress would refuse.
func (f *RoutesFile) Marshal() ([]byte, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return marshalYAML(f)
}

// Lookup returns the route for host: an exact, case-insensitive match if
// there is one, otherwise the most specific wildcard ("*.b.example.com"
// beats "*.example.com"). A wildcard matches hosts below its suffix at any
// depth but never the suffix itself. host must be a bare host as ValidHost
// accepts it (no port, no trailing dot); anything else, including a
// wildcard, matches nothing. The result points into f.Routes.
func (f *RoutesFile) Lookup(host string) (*Route, bool) {
	if ValidHost(host) != nil || strings.HasPrefix(host, "*") {
		return nil, false
	}
	host = NormalizeHost(host)
	var best *Route
	bestLen := 0
	for i := range f.Routes {
		r := &f.Routes[i]
		h := NormalizeHost(r.Host)
		if h == host {
			return r, true
		}
		suffix, ok := strings.CutPrefix(h, "*")
		if !ok || !strings.HasPrefix(suffix, ".") {
			continue
		}
		if len(host) > len(suffix) && strings.HasSuffix(host, suffix) && len(suffix) > bestLen {
			best, bestLen = r, len(suffix)
		}
	}
	return best, best != nil
}

// Validate reports every problem with f as a *ValidationError of
// *FieldErrors, or nil if there are none.
func (f *RoutesFile) Validate() error {
	var ps problems
	if err := checkVersion("routes file", f.Version); err != nil {
		ps.add("version", err)
	}
	if f.DLP.Action != "" {
		if _, err := ParseDLPAction(string(f.DLP.Action)); err != nil {
			ps.add("dlp.action", err)
		}
	}
	for i, e := range f.SSRFAllow {
		if _, err := ParseSSRFEntry(e); err != nil {
			ps.add(index("ssrf_allow", i), err)
		}
	}
	seen := make(map[string]int, len(f.Routes))
	for i, r := range f.Routes {
		path := index("routes", i)
		r.validate(&ps, path)
		h := NormalizeHost(r.Host)
		if j, dup := seen[h]; dup && r.Host != "" {
			ps.addf(join(path, "host"), "%q is already routed by routes[%d]; merge the two entries", r.Host, j)
		} else {
			seen[h] = i
		}
	}
	return ps.err()
}

// validate checks one route, reporting problems under path.
func (r Route) validate(ps *problems, path string) {
	if err := ValidHost(r.Host); err != nil {
		ps.add(join(path, "host"), err)
	}
	for i, p := range r.PathAllowlist {
		if err := ValidPathPrefix(p); err != nil {
			ps.add(index(join(path, "path_allowlist"), i), err)
		}
	}
	validMethods(ps, join(path, "methods"), r.Methods)
	if r.Auth != nil {
		if _, err := ParseAuthScheme(string(r.Auth.Scheme)); err != nil {
			ps.add(join(path, "auth.scheme"), err)
		}
		if err := ValidSecretName(r.Auth.Secret); err != nil {
			ps.add(join(path, "auth.secret"), err)
		}
	}
	if r.TLSPassthrough {
		conflict := func(key, what string) {
			ps.addf(join(path, key), "cannot be combined with tls_passthrough: egress does not read a passthrough tunnel, so %s would silently not apply; remove %s or set tls_passthrough: false", what, key)
		}
		if r.Auth != nil {
			conflict("auth", "the credential")
		}
		if len(r.PathAllowlist) > 0 {
			conflict("path_allowlist", "the path allowlist")
		}
		if len(r.Methods) > 0 {
			conflict("methods", "the method list")
		}
		if len(r.DLPAllow) > 0 {
			conflict("dlp_allow", "DLP exceptions")
		}
		if r.DLPStrict {
			conflict("dlp_strict", "strict DLP")
		}
	}
	for i, s := range r.SSRFAllow {
		if _, err := ParseSSRFEntry(s); err != nil {
			ps.add(index(join(path, "ssrf_allow"), i), err)
		}
	}
	ports := make(map[int]int, len(r.Ports))
	for i, p := range r.Ports {
		field := index(join(path, "ports"), i)
		if err := ValidPort(p); err != nil {
			ps.add(field, err)
		} else if j, dup := ports[p]; dup {
			ps.addf(field, "%d duplicates %s", p, index(join(path, "ports"), j))
		} else {
			ports[p] = i
		}
	}
	seen := make(map[string]int, len(r.DLPAllow))
	for i, id := range r.DLPAllow {
		field := index(join(path, "dlp_allow"), i)
		if err := ValidRuleID(id); err != nil {
			ps.add(field, err)
		} else if j, dup := seen[id]; dup {
			ps.addf(field, "%q duplicates dlp_allow[%d]", id, j)
		} else {
			seen[id] = i
		}
	}
}

// ValidPort checks one entry of a route's ports: a TCP port, 1 to 65535.
func ValidPort(p int) error {
	if p < 1 || p > 65535 {
		return fmt.Errorf("%d is not a TCP port; use a number from 1 to 65535 (443 is HTTPS's)", p)
	}
	return nil
}

// ParseSSRFEntry parses an ssrf_allow entry: a canonical CIDR or one IP.
func ParseSSRFEntry(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR: %v", s, err)
		}
		if m := p.Masked(); m != p {
			return netip.Prefix{}, fmt.Errorf("%q has host bits set; write the network, %q", s, m.String())
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is neither an IP address nor a CIDR such as \"10.1.2.0/24\"", s)
	}
	if a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q has an IPv6 zone; write the address without %%%s", s, a.Zone())
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// maxPathLen bounds one path prefix, in the routes file and in proposals.
const maxPathLen = 1024

// ValidPathPrefix checks one path_allowlist entry (or a proposal's path
// prefix). Prefixes are compared with the normalised, decoded request path,
// so anything that normalisation would change or that encodes something
// could never match, or would match more than it says; refuse it.
func ValidPathPrefix(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("path prefix is empty; write one starting with '/', as in \"/v1/\"")
	case len(s) > maxPathLen:
		return fmt.Errorf("path prefix is %d characters; the limit is %d", len(s), maxPathLen)
	case strings.Contains(s, "://"):
		return fmt.Errorf("%q is a URL; write only its path, starting with '/'", s)
	case s[0] != '/':
		return fmt.Errorf("%q must start with '/'", s)
	}
	for i, r := range s {
		switch {
		case r == utf8.RuneError:
			return fmt.Errorf("path prefix %q is not valid UTF-8", s)
		case unicode.IsSpace(r) || unicode.IsControl(r):
			return fmt.Errorf("path prefix %q contains %s", s, describeByte(s, i))
		case r == '?' || r == '#':
			return fmt.Errorf("path prefix %q contains %q; prefixes match the path only, never a query or fragment", s, r)
		case r == '%':
			return fmt.Errorf("path prefix %q contains '%%'; write the decoded path (requests are matched after decoding)", s)
		}
	}
	switch {
	case strings.Contains(s, ".."):
		return fmt.Errorf("path prefix %q contains \"..\"; write the path it resolves to", s)
	case strings.Contains(s, "//"):
		return fmt.Errorf("path prefix %q contains \"//\"; requests are matched after collapsing slashes, so write a single '/'", s)
	case strings.HasSuffix(s, "/.") || strings.Contains(s, "/./"):
		return fmt.Errorf("path prefix %q contains a \".\" segment; write the path without it", s)
	}
	return nil
}

// allowedMethods are the HTTP methods a route may list, in the order
// messages show them.
var allowedMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// validMethods checks a methods list, reporting problems under field.
func validMethods(ps *problems, field string, methods []string) {
	seen := make(map[string]int, len(methods))
	for i, m := range methods {
		f := index(field, i)
		if err := ValidMethod(m); err != nil {
			ps.add(f, err)
		} else if j, dup := seen[m]; dup {
			ps.addf(f, "%q duplicates %s", m, index(field, j))
		} else {
			seen[m] = i
		}
	}
}

// ValidMethod reports whether m may appear in a route's methods: one of
// GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, upper-case.
func ValidMethod(m string) error {
	up := strings.ToUpper(m)
	switch {
	case m == "":
		return fmt.Errorf("method is empty")
	case up == "CONNECT":
		return fmt.Errorf("CONNECT cannot be allowed: egress handles CONNECT itself, and routes govern the requests inside the tunnel")
	case up == "TRACE":
		return fmt.Errorf("TRACE cannot be allowed: it echoes the request, including the credential egress injects, back to the agent")
	}
	for _, a := range allowedMethods {
		if m == a {
			return nil
		}
		if up == a {
			return fmt.Errorf("%q must be upper-case; write %q", m, a)
		}
	}
	return fmt.Errorf("%q is not an allowed method; use %s", m, strings.Join(allowedMethods, ", "))
}

// maxRuleIDLen bounds a DLP rule id.
const maxRuleIDLen = 128

// ValidRuleID checks a DLP rule id: a lower-case letter or digit, then
// lower-case letters, digits, '.', '_' and '-'.
func ValidRuleID(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("rule id is empty")
	case len(s) > maxRuleIDLen:
		return fmt.Errorf("rule id is %d characters; the limit is %d", len(s), maxRuleIDLen)
	case s != strings.ToLower(s):
		return fmt.Errorf("rule id %q has upper-case letters; rule ids are lower-case, as in %q", s, "github-pat")
	case !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= '0' && s[0] <= '9'):
		return fmt.Errorf("rule id %q must start with a lower-case letter or digit", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("rule id %q contains %s; use lower-case letters, digits, '.', '_' and '-'", s, describeByte(s, i))
		}
	}
	return nil
}
