package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http/httpproxy"
)

// maxBody is how much of a response body 'probe http' prints.
const maxBody = 64 << 10

const httpHelp = `usage: probe http [-X METHOD] [-d DATA | --data-file FILE] [-H 'Key: Value']...
                  [-i] [--ca FILE] [--timeout 10s] URL

Sends one request and prints "HTTP <status code>" on a line, then, with -i,
the response headers ("Name: value", sorted, then an empty line), then the
response body (at most 64 KiB; a longer body is cut and standard error says
so). Redirects are not followed: a 3xx is the result.

The request goes through the proxy the environment names, exactly as Go's
http.ProxyFromEnvironment would choose it: HTTPS_PROXY for https URLs,
HTTP_PROXY for http URLs, NO_PROXY for exceptions (lower-case forms too).
Loopback destinations are never proxied. In a bottle HTTPS_PROXY points at
egress, so this is the path the agent's own tools take.

TLS trusts the system roots plus the certificates in --ca (default: the file
named by $BOT_BOTTLE_CA_CERT, if set) — the bottle CA egress signs with.

-d DATA (or --data-file FILE, "-" for standard input) sends a body and makes
the default method POST. Headers are given as -H 'Name: value'; -H 'Host: h'
sets the Host header.

A proxy that refuses a CONNECT (egress does for an undeclared host) is
reported like a response: "HTTP <status>" and the proxy's body, exit 3.

exit codes:
  0  a 2xx response
  1  no response: DNS, connection, proxy, TLS or timeout error (on stderr)
  2  usage error
  3  a response whose status is not 2xx, the proxy's refusal of a CONNECT
     included (the body is still printed)

examples:
  probe http https://api.example.test/v1/models
  probe http -X POST -H 'Content-Type: application/json' -d '{"a":1}' https://api.example.test/v1/x
  probe http --ca /tmp/ca.pem --timeout 3s https://127.0.0.1:8443/
`

type httpOpts struct {
	method   string
	data     string
	dataSet  bool
	dataFile string
	headers  multiFlag
	include  bool
	ca       string
	timeout  time.Duration
	url      string
}

func runHTTP(ctx context.Context, e *env, args []string) int {
	var o httpOpts
	fs := newFlags(e, "http", httpHelp)
	fs.StringVar(&o.method, "X", "", "request method (default GET, or POST with a body)")
	fs.Func("d", "request body", func(v string) error { o.data, o.dataSet = v, true; return nil })
	fs.StringVar(&o.dataFile, "data-file", "", `read the request body from FILE ("-" for standard input)`)
	fs.Var(&o.headers, "H", "request header 'Name: value' (repeatable)")
	fs.BoolVar(&o.include, "i", false, "print the response headers before the body")
	fs.StringVar(&o.ca, "ca", e.getenv(EnvCACert), "PEM file of extra CA certificates to trust (env "+EnvCACert+")")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "time limit for the whole request, body included")
	pos, code, ok := parseArgs(e, fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return usageError(e, fs, "want exactly one URL, got %d arguments", len(pos))
	}
	o.url = pos[0]
	req, client, err := o.build(ctx, e)
	if err != nil {
		return usageError(e, fs, "%v", err)
	}
	resp, err := client.Do(req)
	var refused *connectRefused
	if errors.As(err, &refused) {
		// The proxy answered the CONNECT itself: that answer is the result.
		fmt.Fprintf(e.stdout, "HTTP %d\n", refused.status)
		printBody(e, refused.body)
		fmt.Fprintf(e.stderr, "probe http: the proxy refused CONNECT %s: %s\n", req.URL.Host, http.StatusText(refused.status))
		return ExitStatus
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "probe http: %v\n", err)
		return ExitFail
	}
	defer resp.Body.Close()
	fmt.Fprintf(e.stdout, "HTTP %d\n", resp.StatusCode)
	if o.include {
		for _, name := range slices.Sorted(maps.Keys(resp.Header)) {
			for _, v := range resp.Header[name] {
				fmt.Fprintf(e.stdout, "%s: %s\n", name, v)
			}
		}
		fmt.Fprintln(e.stdout)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	truncated := len(body) > maxBody
	if truncated {
		body = body[:maxBody]
	}
	printBody(e, body)
	if truncated {
		fmt.Fprintf(e.stderr, "probe http: body cut at %d bytes\n", maxBody)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "probe http: reading body: %v\n", err)
		return ExitFail
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return ExitStatus
	}
	return ExitOK
}

// printBody writes body to stdout, ending it with a newline.
func printBody(e *env, body []byte) {
	e.stdout.Write(body)
	if len(body) > 0 && body[len(body)-1] != '\n' {
		fmt.Fprintln(e.stdout)
	}
}

// connectRefused is a proxy's non-200 answer to CONNECT, with its body
// (Go's transport would otherwise report only the status text, and egress
// explains a refusal in the body).
type connectRefused struct {
	status int
	body   []byte
}

func (c *connectRefused) Error() string {
	return fmt.Sprintf("proxy answered CONNECT with %d", c.status)
}

// readConnectRefusal is the transport's OnProxyConnectResponse: it turns a
// refused CONNECT into a *connectRefused carrying the proxy's explanation.
func readConnectRefusal(_ context.Context, _ *url.URL, _ *http.Request, resp *http.Response) error {
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	return &connectRefused{status: resp.StatusCode, body: body}
}

// build validates the options and returns the request and the client that
// sends it. Its errors are usage errors.
func (o *httpOpts) build(ctx context.Context, e *env) (*http.Request, *http.Client, error) {
	u, err := url.Parse(o.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, nil, fmt.Errorf("URL %q: want an http:// or https:// URL with a host", o.url)
	}
	if o.timeout <= 0 {
		return nil, nil, errors.New("--timeout must be positive")
	}
	if o.dataSet && o.dataFile != "" {
		return nil, nil, errors.New("give -d or --data-file, not both")
	}
	var body io.Reader
	switch {
	case o.dataSet:
		body = strings.NewReader(o.data)
	case o.dataFile == "-":
		b, err := io.ReadAll(e.stdin)
		if err != nil {
			return nil, nil, fmt.Errorf("read body from standard input: %w", err)
		}
		body = bytes.NewReader(b)
	case o.dataFile != "":
		b, err := os.ReadFile(o.dataFile)
		if err != nil {
			return nil, nil, fmt.Errorf("--data-file: %w", err)
		}
		body = bytes.NewReader(b)
	}
	method := o.method
	if method == "" {
		method = http.MethodGet
		if body != nil {
			method = http.MethodPost
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, o.url, body)
	if err != nil {
		return nil, nil, fmt.Errorf("request: %w", err)
	}
	for _, h := range o.headers {
		name, value, err := parseHeader(h)
		if err != nil {
			return nil, nil, err
		}
		if strings.EqualFold(name, "Host") {
			req.Host = value
			continue
		}
		req.Header.Add(name, value)
	}
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	if o.ca != "" {
		pem, err := os.ReadFile(o.ca)
		if err != nil {
			return nil, nil, fmt.Errorf("--ca: %w", err)
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, nil, fmt.Errorf("--ca %s: no PEM certificate in it", o.ca)
		}
	}
	proxy := proxyFromEnv(e).ProxyFunc()
	tr := &http.Transport{
		Proxy:               func(r *http.Request) (*url.URL, error) { return proxy(r.URL) },
		TLSClientConfig:     &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:   true,
		TLSHandshakeTimeout: o.timeout,
		// A refused CONNECT is reported with the proxy's body.
		OnProxyConnectResponse: readConnectRefusal,
	}
	client := &http.Client{
		Transport: tr,
		Timeout:   o.timeout,
		// The probe reports what the first hop answered.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return req, client, nil
}

// proxyFromEnv is httpproxy.FromEnvironment over the probe's environment
// rather than the process's, so tests can set it.
func proxyFromEnv(e *env) *httpproxy.Config {
	first := func(keys ...string) string {
		for _, k := range keys {
			if v := e.getenv(k); v != "" {
				return v
			}
		}
		return ""
	}
	return &httpproxy.Config{
		HTTPProxy:  first("HTTP_PROXY", "http_proxy"),
		HTTPSProxy: first("HTTPS_PROXY", "https_proxy"),
		NoProxy:    first("NO_PROXY", "no_proxy"),
		CGI:        e.getenv("REQUEST_METHOD") != "",
	}
}

// parseHeader splits a -H argument "Name: value". The name must be a valid
// header field name; the value may be empty and is trimmed of surrounding
// spaces, and must not hold a line break.
func parseHeader(s string) (name, value string, err error) {
	name, value, ok := strings.Cut(s, ":")
	if !ok {
		return "", "", fmt.Errorf("header %q: want 'Name: value'", s)
	}
	name = strings.TrimSpace(name)
	if !httpguts.ValidHeaderFieldName(name) {
		return "", "", fmt.Errorf("header %q: %q is not a valid header name", s, name)
	}
	value = strings.TrimSpace(value)
	if strings.ContainsAny(value, "\r\n\x00") {
		return "", "", fmt.Errorf("header %q: the value holds a line break or NUL", name)
	}
	return textproto.CanonicalMIMEHeaderKey(name), value, nil
}
