package manifest

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bot-bottle/bot-bottle/internal/shared/wildcard"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// egressBlock is a bottle's egress mapping.
type egressBlock struct {
	routes     []Route
	ssrfAllow  []string
	upstreamCA string
}

func (r *reader) egress(n *yaml.Node, field string) egressBlock {
	entries, _ := r.mapping(n, field)
	var b egressBlock
	for _, e := range r.knownKeys(entries, "egress", egressKeys, nil) {
		switch e.key {
		case "routes":
			b.routes = r.routes(e.value, e.field)
		case "ssrf_allow":
			b.ssrfAllow, _ = r.strList(e.value, e.field, checkSSRFEntry)
		case "upstream_ca":
			if s, ok := r.nonEmptyStr(e.value, e.field); ok {
				b.upstreamCA = r.localPath(s)
			}
		}
	}
	return b
}

func (r *reader) routes(n *yaml.Node, field string) []Route {
	if !r.plain(n, field) || isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		r.add(n, field, "must be a list of routes, not "+contract.DescribeYAML(n), "write each route as a \"- host: ...\" item")
		return nil
	}
	var out []Route
	firstByHost := map[string]int{}
	// firstBySecret maps a token_ref, lower-cased as render names its
	// secret file (token_<ref in lower case>), to the first route using it.
	type refUse struct {
		i         int
		ref, host string
	}
	firstBySecret := map[string]refUse{}
	for i, item := range n.Content {
		f := fmt.Sprintf("%s[%d]", field, i)
		route, ok := r.route(item, f)
		if !ok {
			continue
		}
		key := strings.ToLower(route.Host)
		if first, dup := firstByHost[key]; dup {
			r.add(item, f+".host", fmt.Sprintf("duplicate host %q (also %s[%d])", route.Host, field, first),
				"each host may have one route; merge their path_allowlist and methods")
			continue
		}
		if route.Auth != nil && route.Auth.TokenRef != "" {
			secret := strings.ToLower(route.Auth.TokenRef)
			if first, dup := firstBySecret[secret]; dup && first.ref != route.Auth.TokenRef {
				r.add(childNode(item, "auth", "token_ref"), f+".auth.token_ref",
					fmt.Sprintf("token_ref %s of the route to %s and token_ref %s of the route to %s (%s[%d]) differ only in case, "+
						"so both would be stored as the one secret token_%s and one route would be sent the other's token",
						route.Auth.TokenRef, route.Host, first.ref, first.host, field, first.i, secret),
					"use one variable for both routes, or rename one so the names differ in more than case")
				continue
			} else if !dup {
				firstBySecret[secret] = refUse{i, route.Auth.TokenRef, route.Host}
			}
		}
		firstByHost[key] = i
		out = append(out, route)
	}
	return out
}

// childNode returns the value node at keys under the mapping n, or n
// itself when a key is missing: the nearest node to report at.
func childNode(n *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		next := (*yaml.Node)(nil)
		for i := 0; n.Kind == yaml.MappingNode && i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				next = n.Content[i+1]
			}
		}
		if next == nil {
			return n
		}
		n = next
	}
	return n
}

func (r *reader) route(n *yaml.Node, field string) (Route, bool) {
	var route Route
	before := len(*r.problems)
	entries, ok := r.mapping(n, field)
	if !ok {
		return route, false
	}
	var pipelock *entry
	nodes := map[string]*yaml.Node{}
	for _, e := range r.knownKeys(entries, "a route", routeKeys, nil) {
		nodes[e.key] = e.value
		switch e.key {
		case "host":
			s, good := r.nonEmptyStr(e.value, e.field)
			if !good {
				continue
			}
			if err := contract.ValidHost(s); err != nil {
				r.add(e.value, e.field, err.Error(), "")
				continue
			}
			if err := wildcard.Check(s); err != nil {
				r.add(e.value, e.field, err.Error(), "")
				continue
			}
			route.Host = s
		case "path_allowlist":
			route.PathAllowlist, _ = r.strList(e.value, e.field, contract.ValidPathPrefix)
		case "methods":
			route.Methods, _ = r.strList(e.value, e.field, contract.ValidMethod)
		case "ports":
			route.Ports = r.ports(e.value, e.field)
		case "auth":
			route.Auth = r.auth(e.value, e.field)
		case "tls_passthrough":
			route.TLSPassthrough, _ = r.boolean(e.value, e.field)
		case "ssrf_allow":
			route.SSRFAllow, _ = r.strList(e.value, e.field, checkSSRFEntry)
		case "dlp_allow":
			route.DLPAllow, _ = r.strList(e.value, e.field, contract.ValidRuleID)
		case "dlp_strict":
			route.DLPStrict, _ = r.boolean(e.value, e.field)
		case "pipelock":
			pipelock = &e
		case "role":
			r.add(e.keyN, e.field, "the \"role\" key is reserved and not accepted", "remove it")
		}
	}
	if pipelock != nil {
		r.pipelockAlias(&route, pipelock, nodes)
	}
	if _, ok := nodes["host"]; !ok {
		r.add(n, field, "missing required key host", "add host: the name the agent connects to, e.g. api.example.com")
	}
	if route.TLSPassthrough {
		for _, k := range []string{"auth", "path_allowlist", "methods", "dlp_allow", "dlp_strict"} {
			if nodes[k] != nil {
				r.add(nodes[k], joinField(field, k), "cannot be combined with tls_passthrough: egress does not read a passthrough tunnel, so it would never apply",
					"remove "+k+", or remove tls_passthrough so egress inspects this host")
			}
		}
	}
	return route, len(*r.problems) == before
}

// ports decodes a route's ports: a list of decimal port numbers, each
// listed once. A null node is an empty list (the default, 443).
func (r *reader) ports(n *yaml.Node, field string) []int {
	if !r.plain(n, field) || isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		r.add(n, field, "must be a list of port numbers, not "+contract.DescribeYAML(n), "write it as [443, 8443]")
		return nil
	}
	out := make([]int, 0, len(n.Content))
	first := map[int]int{}
	for i, item := range n.Content {
		f := fmt.Sprintf("%s[%d]", field, i)
		if !r.plain(item, f) {
			continue
		}
		p, err := strconv.Atoi(item.Value)
		switch {
		case item.Kind != yaml.ScalarNode || item.Tag != "!!int" || !isDecimal(item.Value):
			hint := "write a TCP port number from 1 to 65535, such as 8443"
			if item.Kind == yaml.ScalarNode && item.Tag == "!!str" && err == nil {
				hint = fmt.Sprintf("write it without quotes: %s", item.Value)
			}
			r.add(item, f, "must be a port number, not "+contract.DescribeYAML(item), hint)
		case contract.ValidPort(p) != nil:
			r.add(item, f, contract.ValidPort(p).Error(), "")
		default:
			if j, dup := first[p]; dup {
				r.add(item, f, fmt.Sprintf("port %d is listed twice (also %s[%d])", p, field, j), "list each port once")
				continue
			}
			first[p] = i
			out = append(out, p)
		}
	}
	return out
}

// isDecimal reports whether s is a number in plain decimal: YAML also
// reads 0x1BB, 0o673, +443 and 0443 (as octal) as numbers, which no one
// means as a port.
func isDecimal(s string) bool {
	if s == "" || s[0] == '0' && len(s) > 1 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (r *reader) auth(n *yaml.Node, field string) *RouteAuth {
	entries, ok := r.mapping(n, field)
	if !ok {
		return nil
	}
	if len(entries) == 0 {
		r.add(n, field, "is empty", "omit auth for an unauthenticated route; otherwise set both scheme and token_ref")
		return nil
	}
	a := &RouteAuth{}
	for _, e := range r.knownKeys(entries, "auth", authKeys, nil) {
		s, good := r.nonEmptyStr(e.value, e.field)
		if !good {
			continue
		}
		switch e.key {
		case "scheme":
			sc := contract.AuthScheme(s)
			if sc != contract.AuthBearer && sc != contract.AuthToken {
				hint := "use Bearer or token"
				if strings.EqualFold(s, "bearer") {
					hint = "write it as \"Bearer\""
				}
				r.add(e.value, e.field, fmt.Sprintf("unsupported scheme %q", s), hint)
				continue
			}
			a.Scheme = sc
		case "token_ref":
			if !envNameRE.MatchString(s) {
				r.add(e.value, e.field, fmt.Sprintf("%q is not an environment variable name", s),
					"token_ref names the host variable that holds the token (e.g. GITHUB_TOKEN), never the token itself")
				continue
			}
			a.TokenRef = s
		}
	}
	for _, k := range authKeys {
		if !slicesHasKey(entries, k) {
			r.add(n, field, "missing required key "+k, "an auth block needs both scheme (Bearer or token) and token_ref (a host variable name)")
		}
	}
	return a
}

// pipelockAlias reads the original's per-route pipelock block, a deprecated
// spelling of tls_passthrough and ssrf_allow.
func (r *reader) pipelockAlias(route *Route, block *entry, nodes map[string]*yaml.Node) {
	entries, ok := r.mapping(block.value, block.field)
	if !ok {
		return
	}
	for _, e := range r.knownKeys(entries, "pipelock", pipelockKeys, nil) {
		newKey := map[string]string{"tls_passthrough": "tls_passthrough", "ssrf_ip_allowlist": "ssrf_allow"}[e.key]
		if nodes[newKey] != nil {
			r.add(e.keyN, e.field, "is set twice: here and as "+newKey+" on the route", "keep only the route's "+newKey)
			continue
		}
		switch e.key {
		case "tls_passthrough":
			route.TLSPassthrough, _ = r.boolean(e.value, e.field)
			nodes["tls_passthrough"] = e.value
		case "ssrf_ip_allowlist":
			route.SSRFAllow, _ = r.strList(e.value, e.field, checkSSRFEntry)
		}
	}
	*r.warnings = append(*r.warnings, Problem{File: r.file, Line: block.keyN.Line + r.lineBase, Field: block.field,
		Msg: "the pipelock block is deprecated", Hint: "move its keys onto the route: tls_passthrough, and ssrf_allow for ssrf_ip_allowlist"})
}

func slicesHasKey(entries []entry, key string) bool {
	for _, e := range entries {
		if e.key == key {
			return true
		}
	}
	return false
}

// checkSSRFEntry accepts an IP or a canonical CIDR prefix.
func checkSSRFEntry(s string) error {
	_, err := contract.ParseSSRFEntry(s)
	return err
}
