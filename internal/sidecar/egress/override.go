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
		for i := 0; i < len(b); {
			j := bytes.IndexByte(b[i:], '_')
			if j < 0 {
				return
			}
			at := i + j
			i = at + 1
			if len(b)-at < len(overrideParam) || !bytes.EqualFold(b[at:at+len(overrideParam)], []byte(overrideParam)) {
				continue
			}
			k := at + len(overrideParam)
			for k < len(b) && k-at < 64 && strings.IndexByte("\"' \t\r\n=:;", b[k]) >= 0 {
				k++
			}
			e := k
			for e < len(b) && e-k < 16 && ('a' <= b[e]|0x20 && b[e]|0x20 <= 'z') {
				e++
			}
			if m := strings.ToUpper(string(b[k:e])); knownMethod(m) {
				out = append(out, m)
			}
		}
	}
	find(data)
	// An escaped "_method" has an escape among its first 7 bytes' worth
	// of text: decode only around each '%', so ordinary bodies cost one
	// vectorised search.
	const around = 3*len(overrideParam) + 3 // before a '%': the rest of an escaped name
	const tail = around + 64 + 16           // after: the name, separators and a method
	for i := 0; i < len(data); {
		j := bytes.IndexByte(data[i:], '%')
		if j < 0 {
			break
		}
		p := i + j
		from, to := max(0, p-around), min(len(data), p+tail)
		for { // one region while escapes follow within reach
			n := bytes.IndexByte(data[p+1:to], '%')
			if n < 0 {
				break
			}
			p += 1 + n
			to = min(len(data), p+tail)
		}
		find([]byte(lenientUnescape(string(data[from:to]))))
		i = to
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

// overrideCheck runs bodyOverrides over a body that arrives in chunks,
// and over the joins between them, so a "_method" split between two is
// still seen.
type overrideCheck struct {
	refuse func(methods []string) *refusal
	prev   []byte // the end of the last chunk
}

const overrideOverlap = 96 // "_method", its separators and a method name

func (o *overrideCheck) feed(chunk []byte) *refusal {
	if o == nil {
		return nil
	}
	if ref := o.refuse(bodyOverrides(chunk)); ref != nil {
		return ref
	}
	if len(o.prev) > 0 { // what straddles the boundary
		join := append(o.prev, chunk[:min(len(chunk), overrideOverlap)]...)
		if ref := o.refuse(bodyOverrides(join)); ref != nil {
			return ref
		}
		o.prev = join
	}
	tail := chunk[max(0, len(chunk)-overrideOverlap):]
	if len(chunk) < overrideOverlap {
		tail = o.prev[max(0, len(o.prev)-overrideOverlap):]
		if len(o.prev) == 0 {
			tail = chunk
		}
	}
	o.prev = append([]byte(nil), tail...)
	return nil
}
