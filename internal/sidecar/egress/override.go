package egress

import (
	"bytes"
	"net/http"
	"strings"
)

// Frameworks and gateways let a request name another method than its own:
// Google APIs, Rails, Laravel, Express and many gateways honour these
// headers, and a "_method" parameter in the query or the body (form, JSON
// or multipart). A method allowlist must apply to the method they name.
var overrideHeaders = []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"}

// overrideParam is the parameter name frameworks read, compared ignoring case.
const overrideParam = "_method"

// methodOverrides returns the methods r's headers and query name, upper-cased.
func methodOverrides(h http.Header, rawQuery string) []string {
	var out []string
	for _, name := range overrideHeaders {
		for _, v := range h.Values(name) {
			for _, m := range strings.Split(v, ",") {
				if m = strings.TrimSpace(m); m != "" {
					out = append(out, strings.ToUpper(m))
				}
			}
		}
	}
	for _, pair := range strings.FieldsFunc(rawQuery, func(r rune) bool { return r == '&' || r == ';' }) {
		k, v, _ := strings.Cut(pair, "=")
		if strings.EqualFold(lenientUnescape(k), overrideParam) {
			out = append(out, strings.ToUpper(strings.TrimSpace(lenientUnescape(v))))
		}
	}
	return out
}

// bodyOverrides returns the methods a body names after a "_method" key,
// in any syntax that puts the value after the name: form ("_method=PUT"),
// JSON ("_method": "PUT") or multipart (name="_method" ... PUT), raw or
// %-escaped. Only words that are HTTP method names count: prose that
// mentions _method does not name a method.
func bodyOverrides(data []byte) []string {
	var out []string
	find := func(b []byte) {
		for i := 0; ; {
			j := indexFold(b[i:], overrideParam)
			if j < 0 {
				return
			}
			k := i + j + len(overrideParam)
			for k < len(b) && k-(i+j) < 64 && strings.IndexByte("\"' \t\r\n=:;", b[k]) >= 0 {
				k++
			}
			e := k
			for e < len(b) && e-k < 16 && ('a' <= b[e]|0x20 && b[e]|0x20 <= 'z') {
				e++
			}
			if m := strings.ToUpper(string(b[k:e])); knownMethod(m) {
				out = append(out, m)
			}
			i = k
		}
	}
	find(data)
	if bytes.IndexByte(data, '%') >= 0 || bytes.IndexByte(data, '+') >= 0 {
		find([]byte(lenientUnescape(string(data))))
	}
	return out
}

// knownMethod: the methods of HTTP and WebDAV.
func knownMethod(m string) bool {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT",
		"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK", "SEARCH", "PURGE":
		return true
	}
	return false
}

// overrideRefusal refuses a request whose named methods route does not
// allow; nil if all are allowed.
func overrideRefusal(d Decision, host string, methods []string) *refusal {
	for _, m := range methods {
		if !egressAllowsMethod(m) || !d.Route.AllowsMethod(m) {
			what := "a method override"
			if egressAllowsMethod(m) {
				what = "a method override to " + m
			}
			return &refusal{http.StatusMethodNotAllowed, RuleMethodNotAllowed,
				"egress: " + what + " is not allowed on " + host + "; allowed methods: " + strings.Join(routeMethods(d.Route), ", ")}
		}
	}
	return nil
}

// indexFold returns the index of sub (lower-case ASCII) in b ignoring
// ASCII case, or -1.
func indexFold(b []byte, sub string) int {
	for i := 0; i+len(sub) <= len(b); i++ {
		if b[i]|0x20 != sub[0]|0x20 && b[i] != sub[0] {
			continue
		}
		if bytes.EqualFold(b[i:i+len(sub)], []byte(sub)) {
			return i
		}
	}
	return -1
}

// overrideCheck runs bodyOverrides over a body that arrives in chunks,
// each with the end of the one before, so a "_method" split between two
// is still seen.
type overrideCheck struct {
	refuse func(methods []string) *refusal
	prev   []byte
}

const overrideOverlap = 96 // "_method", its separators and a method name

func (o *overrideCheck) feed(chunk []byte) *refusal {
	if o == nil {
		return nil
	}
	buf := append(o.prev, chunk...)
	if ref := o.refuse(bodyOverrides(buf)); ref != nil {
		return ref
	}
	o.prev = append(o.prev[:0], buf[max(0, len(buf)-overrideOverlap):]...)
	return nil
}
