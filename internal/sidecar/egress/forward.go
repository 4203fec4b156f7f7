package egress

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/shared/dlp"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// refusal is a request egress answers itself instead of forwarding.
type refusal struct {
	status int
	rule   Rule
	reason string // client-facing; never a secret, query or header value
}

func (r *refusal) Error() string { return r.reason }

// forwardInfo travels in the outgoing request's context from serveForward
// to the ReverseProxy hooks.
type forwardInfo struct {
	scheme, authority string // where to send it: the CONNECT target or the absolute URL's host
	auth              string // Authorization value to inject; "" none
	st                *state
	rec               *auditRecord
	status            int
}

const forwardKey ctxKey = 100

// serveForward handles one request: inside a MITM'd tunnel (t != nil) or
// a plain-HTTP proxy request (t == nil).
func (p *Proxy) serveForward(w http.ResponseWriter, r *http.Request, t *target) {
	start := time.Now()
	st := p.state.Load()
	facts := Request{Method: r.Method, EscapedPath: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery}
	var host, scheme string
	if t != nil {
		facts.ConnectHost, facts.ConnectPort, facts.HostHeader, facts.TLS = t.host, t.port, r.Host, true
		host, scheme = t.host, "https"
	} else {
		facts.HostHeader = r.URL.Host
		host, scheme = r.URL.Hostname(), "http"
		if r.URL.User != nil {
			// The transport would turn user info into an Authorization
			// header egress never saw.
			p.refuse(w, auditRecord{method: r.Method, host: host, start: start},
				&refusal{http.StatusBadRequest, RuleBadHost, "egress: URLs with user:password@ are refused; credentials are injected by egress, never sent by the agent"})
			return
		}
		if r.URL.Scheme != "http" {
			p.refuse(w, auditRecord{method: r.Method, host: host, start: start},
				&refusal{http.StatusBadRequest, RuleBadHost, "plain proxy requests must be http://; use CONNECT (HTTPS_PROXY) for https"})
			return
		}
	}
	d := Decide(st.routes, facts)
	rec := &auditRecord{method: r.Method, host: host, path: d.Path, start: start}
	if !d.Allow {
		w.Header().Set("Allow", d.AllowHeader())
		p.refuse(w, *rec, &refusal{d.Status, d.Rule, strings.TrimSuffix(DenyBody(d, host), "\n")})
		return
	}
	route := d.Route
	// A method override names the method the upstream will act on.
	if ref := overrideRefusal(d, host, methodOverrides(r.Header, r.URL.RawQuery)); ref != nil {
		w.Header().Set("Allow", d.AllowHeader())
		p.refuse(w, *rec, ref)
		return
	}
	oc := &overrideCheck{refuse: func(ms []string) *refusal { return overrideRefusal(d, host, ms) }}

	// The agent never sends a credential anywhere: whatever it put in
	// these headers is dropped, and the route's own is injected below.
	r.Header.Del("Authorization")
	r.Header.Del("Proxy-Authorization")
	// Trailers arrive after the body, too late for the scan: drop them.
	r.Trailer = nil
	r.Header.Del("Trailer")
	// d.Port is the port the policy allowed: dial that one.
	info := &forwardInfo{scheme: scheme, authority: net.JoinHostPort(host, d.Port), st: st, rec: rec}
	if route.Auth != nil {
		sec, ok := st.secrets[route.Auth.Secret]
		if !ok { // loadState guarantees it; fail closed regardless
			p.refuse(w, *rec, &refusal{http.StatusInternalServerError, RuleUpstream, "egress: credential for this route is missing"})
			return
		}
		info.auth = string(route.Auth.Scheme) + " " + string(sec.value)
		// Let the transport negotiate (and undo) compression itself, so an
		// upstream echoing the credential cannot hide it from the scrubber
		// inside a compressed body.
		r.Header.Del("Accept-Encoding")
		// Ranges would let the agent have a reflected credential sent in
		// pieces, none of which the scrubber recognises.
		r.Header.Del("Range")
		r.Header.Del("If-Range")
	}
	if ref := p.scanHead(r, route, st); ref != nil {
		p.refuse(w, *rec, ref)
		return
	}
	if wantsUpgrade(r) {
		if !isWebSocket(r) {
			p.refuse(w, *rec, &refusal{http.StatusBadRequest, RuleBadUpgrade,
				"egress: only websocket upgrades (a GET handshake without a body) are proxied; other protocol upgrades are refused"})
			return
		}
		p.websocket(w, r, route, info)
		return
	}
	var db *deadlineBody
	if r.Body != nil && r.Body != http.NoBody {
		db = &deadlineBody{ReadCloser: r.Body, rc: http.NewResponseController(w), timeout: p.cfg.BodyReadTimeout}
		r.Body = db
	}
	body, ref := p.prepareBody(r, route, st, oc)
	if ref != nil {
		p.refuse(w, *rec, ref)
		return
	}
	if _, streaming := body.(*scanReader); db != nil && !streaming {
		db.done() // read whole: the deadline must not outlive it
	}
	if body != nil {
		defer body.Close()
		r.Body = body
	}
	cw := &countingWriter{ResponseWriter: w}
	if info.auth != "" {
		cw.redact = st.redact // 1xx headers (103 Early Hints) go out through it
	}
	if t != nil {
		cw.batch = t.batch
	}
	ctx := context.WithValue(context.WithValue(r.Context(), forwardKey, info), allowKey, st.routes.SSRFPrefixes(route))
	p.rp.ServeHTTP(cw, r.WithContext(ctx))
	if info.status == 0 {
		info.status = cw.status
	}
	rule, reason := RuleAllow, ""
	if info.status >= 400 && cw.refusal != nil {
		rule, reason = cw.refusal.rule, cw.refusal.reason
	}
	var in int64
	if cr, ok := r.Body.(interface{ BytesRead() int64 }); ok {
		in = cr.BytesRead()
	}
	p.audit.Write(rec.done(info.status, rule, reason, in, cw.n))
}

// refuse answers a request egress will not forward and audits it.
func (p *Proxy) refuse(w http.ResponseWriter, rec auditRecord, ref *refusal) {
	body := ref.reason
	if !strings.HasPrefix(body, "egress") {
		body = "egress: " + body
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(ref.status)
	fmt.Fprintln(w, body)
	p.audit.Write(rec.done(ref.status, ref.rule, ref.reason, 0, int64(len(body)+1)))
}

// scanHead runs DLP over the request line and headers (after the
// credential headers were removed).
func (p *Proxy) scanHead(r *http.Request, route *contract.Route, st *state) *refusal {
	var b strings.Builder
	b.WriteString(r.Method + " " + r.URL.RequestURI() + "\n")
	// Percent-encoding must not hide a token from the rules: the scanner
	// also reads the line as the upstream will decode it, escape by escape,
	// so one invalid escape does not stop the rest being decoded.
	for name, vals := range r.Header {
		for _, v := range vals {
			b.WriteString(name + ": " + v + "\n")
		}
	}
	return p.scan(st, []byte(b.String()), route, "request headers or URL")
}

// smallScan is the size under which a scan runs without a budget timer:
// even adversarial input scans in well under a millisecond.
const smallScan = 64 << 10

// scan runs DLP with the per-request budget and maps the outcome.
func (p *Proxy) scan(st *state, data []byte, route *contract.Route, where string) *refusal {
	ctx := context.Background()
	if len(data) > smallScan {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.cfg.ScanBudget)
		defer cancel()
	}
	f, err := st.scanner.Scan(ctx, data, route.DLPAllow)
	return scanRefusal(f, err, where)
}

func scanRefusal(f *dlp.Finding, err error, where string) *refusal {
	switch {
	case err != nil:
		return &refusal{http.StatusForbidden, RuleDLPBudget, "egress: blocked: the " + where + " could not be scanned for secrets in time"}
	case f != nil:
		return &refusal{http.StatusForbidden, DLPRule(f.RuleID), fmt.Sprintf(
			"egress: blocked: what looks like a secret (rule %s) is in the %s. If this is a false positive, ask the operator with the dlp-block tool (supervise)", f.RuleID, where)}
	}
	return nil
}

// reverseProxy forwards to the pinned upstream with the injected
// credential, streams the response (flushing at once, for SSE) and scrubs
// held secrets from it.
func (p *Proxy) newReverseProxy() *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Transport: p.tr,
		// FlushInterval 0: ReverseProxy already flushes at once for
		// text/event-stream and for responses of unknown length (SSE,
		// streams); buffered writes keep other responses in few TLS records.
		BufferPool: bufferPool{},
		Rewrite: func(pr *httputil.ProxyRequest) {
			info := pr.In.Context().Value(forwardKey).(*forwardInfo)
			pr.Out.URL.Scheme = info.scheme
			pr.Out.URL.Host = info.authority
			pr.Out.URL.User = nil
			pr.Out.Trailer = nil
			// Upgrades never reach here (serveForward refuses all but
			// websockets, which it proxies itself): never ask for one.
			pr.Out.Header.Del("Upgrade")
			pr.Out.Header.Del("Connection")
			// The query goes on byte for byte as the agent sent it, as it
			// was scanned: ReverseProxy would drop the pairs it cannot
			// parse and re-encode the rest, decoding what the scan saw
			// encoded.
			pr.Out.URL.RawQuery = pr.In.URL.RawQuery
			pr.Out.Host = pr.In.Host
			if info.scheme == "http" {
				pr.Out.Host = pr.In.URL.Host
			}
			if info.auth != "" {
				pr.Out.Header.Set("Authorization", info.auth)
			}
		},
		ModifyResponse: func(resp *http.Response) error {
			info := resp.Request.Context().Value(forwardKey).(*forwardInfo)
			info.status = resp.StatusCode
			if resp.StatusCode == http.StatusSwitchingProtocols {
				return &refusal{http.StatusBadGateway, RuleUpstream, "egress: the upstream switched protocols unasked"}
			}
			// Only a route egress injected a credential on can echo one.
			if info.auth != "" {
				if ref := unscrubbable(resp); ref != nil {
					return ref
				}
				scrubResponse(resp, info.st.redact)
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			info := r.Context().Value(forwardKey).(*forwardInfo)
			ref := errorRefusal(err)
			info.status = ref.status
			if cw, ok := w.(*countingWriter); ok {
				cw.refusal = ref
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(ref.status)
			fmt.Fprintln(w, ref.reason)
		},
	}
}

// unscrubbable refuses a response on a credentialed route that the
// scrubber cannot read whole: a content encoding the transport did not
// undo (egress asked for none but its own gzip) or a partial content.
func unscrubbable(resp *http.Response) *refusal {
	for _, v := range resp.Header.Values("Content-Encoding") {
		for _, enc := range strings.Split(v, ",") {
			if e := strings.TrimSpace(enc); e != "" && !strings.EqualFold(e, "identity") {
				return &refusal{http.StatusBadGateway, RuleEncoding, "egress: the upstream answered in a content encoding egress did not ask for and cannot scrub"}
			}
		}
	}
	if resp.StatusCode == http.StatusPartialContent {
		return &refusal{http.StatusBadGateway, RuleUpstream, "egress: the upstream answered with a partial content egress did not ask for"}
	}
	return nil
}

// errorRefusal maps a forwarding error to what the agent is told. The
// text is egress's own: never a URL, never upstream data (an error from a
// malformed response quotes the bytes the upstream sent, which may echo
// the credential).
func errorRefusal(err error) *refusal {
	var ref *refusal
	var ssrf *SSRFError
	switch {
	case errors.As(err, &ref):
		return ref
	case errors.As(err, &ssrf):
		return &refusal{http.StatusForbidden, RuleSSRF, "egress: " + ssrf.Error()}
	case errors.Is(err, ErrSelf):
		return &refusal{http.StatusForbidden, RuleSSRF, "egress: " + ErrSelf.Error()}
	case errors.Is(err, ErrUpstream):
		return &refusal{http.StatusBadGateway, RuleUpstream, "egress: " + err.Error()}
	case errors.Is(err, context.Canceled):
		return &refusal{499, RuleUpstream, "egress: the request was cancelled"}
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return &refusal{http.StatusGatewayTimeout, RuleUpstream, "egress: upstream request failed: timed out"}
	}
	var cert *tls.CertificateVerificationError
	if errors.As(err, &cert) {
		return &refusal{http.StatusBadGateway, RuleUpstream, "egress: upstream request failed: its TLS certificate is not trusted"}
	}
	return &refusal{http.StatusBadGateway, RuleUpstream, "egress: upstream request failed: the connection broke or the response was malformed"}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// countingWriter records the status and bytes written to the agent, and
// sends each large write to an HTTP/1.1 agent in one batch of TLS records.
type countingWriter struct {
	http.ResponseWriter
	status  int
	n       int64
	refusal *refusal
	batch   *recordBatcher // nil: write through
	redact  *dlp.Redactor  // scrubs 1xx headers; nil: none
}

func (c *countingWriter) WriteHeader(code int) {
	if code < 200 && c.redact != nil {
		// ReverseProxy copies an interim response's headers (103 Early
		// Hints) into ours and writes them out at once.
		scrubHeader(c.Header(), c.redact)
	}
	if c.status == 0 {
		c.status = code
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(b []byte) (n int, err error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	if c.batch != nil && len(b) >= batchMin {
		c.batch.start()
		defer func() { // whatever happens, batching ends here
			if ferr := c.batch.flush(); err == nil {
				err = ferr
			}
		}()
		// Flushing sends what net/http buffered with the batch; a large
		// write went past its buffer anyway.
		defer c.Flush()
	}
	n, err = c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

func (c *countingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// bufferPool lends ReverseProxy its copy buffers.
type bufferPool struct{}

func (bufferPool) Get() []byte  { return *(chunkPool.Get().(*[]byte)) }
func (bufferPool) Put(b []byte) { chunkPool.Put(&b) }
