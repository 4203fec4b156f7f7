package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// target is one way of reaching the upstream.
type target struct {
	name   string
	proxy  *proxyProc // nil: direct
	tunnel bool       // proxy only tunnels: the client's TLS reaches the upstream
	roots  *x509.CertPool
	up     *upstream
}

// transport returns a fresh client transport for t. HTTP/1.1 only
// (ForceAttemptHTTP2 false, and a custom TLS config and dialer disable
// Go's automatic h2): every scenario measures HTTP/1.1 from the client.
func (t *target) transport(keepAlive bool, conns int) *http.Transport {
	tr := &http.Transport{
		TLSClientConfig:       &tls.Config{RootCAs: t.roots, ServerName: benchHost},
		ForceAttemptHTTP2:     false,
		DisableKeepAlives:     !keepAlive,
		MaxIdleConns:          conns * 2,
		MaxIdleConnsPerHost:   conns * 2,
		IdleConnTimeout:       30 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 10 * time.Second,
		DisableCompression:    true,
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	if t.proxy == nil {
		// Resolve benchHost to 127.0.0.1 in the client, as egress's
		// --resolve does; never touch anything but loopback.
		port := t.up.port
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
		}
	} else {
		tr.Proxy = http.ProxyURL(&url.URL{Scheme: "http", Host: t.proxy.addr})
		proxyAddr := t.proxy.addr
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			return d.DialContext(ctx, network, proxyAddr)
		}
	}
	return tr
}

func (t *target) url(path string) string {
	return "https://" + net.JoinHostPort(benchHost, t.up.port) + path
}

// newRequest builds a request as the agent would send it: with its own
// Authorization (and, proxied, Proxy-Authorization) the proxy must strip.
func (t *target) newRequest(ctx context.Context, method, path string, body []byte) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, t.url(path), r)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer agent-supplied-placeholder")
	req.Header.Set("User-Agent", "egress-bench/1")
	if t.proxy == nil || t.tunnel {
		req.Header.Set("X-Bench-Direct", "1") // no proxy injects a credential
	} else {
		req.Header.Set("Proxy-Authorization", "Basic YWdlbnQ6cGFzcw==")
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// result is what one run measured.
type result struct {
	requests int64
	failures int64
	firstErr string
	elapsed  time.Duration
	bytes    int64           // payload bytes moved (download or upload)
	lat      []time.Duration // per request (SSE: time to first event)
	cpuTicks int64           // proxy CPU over the measured window; -1 direct
	upConns  int64           // upstream TCP connections opened during the run, warm-up included
}

func (r *result) reqPerSec() float64 { return float64(r.requests) / r.elapsed.Seconds() }
func (r *result) mibPerSec() float64 { return float64(r.bytes) / (1 << 20) / r.elapsed.Seconds() }

// cpuMsPerReq is proxy CPU milliseconds per request, or -1 when there is
// no proxy.
func (r *result) cpuMsPerReq() float64 {
	if r.cpuTicks < 0 || r.requests == 0 {
		return -1
	}
	return float64(r.cpuTicks) * 1000 / userHZ / float64(r.requests)
}

func (r *result) quantile(q float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	s := slices.Clone(r.lat)
	slices.Sort(s)
	i := int(q * float64(len(s)-1))
	return s[i]
}

// recorder collects outcomes from concurrent workers.
type recorder struct {
	mu       sync.Mutex
	lat      []time.Duration
	bytes    int64
	requests int64
	failures atomic.Int64
	firstErr atomic.Value
}

func (rec *recorder) ok(d time.Duration, n int64) {
	rec.mu.Lock()
	rec.lat = append(rec.lat, d)
	rec.bytes += n
	rec.requests++
	rec.mu.Unlock()
}

func (rec *recorder) fail(err error) {
	rec.failures.Add(1)
	rec.firstErr.CompareAndSwap(nil, err.Error())
}

// op performs one request and returns payload bytes, or an error.
type op func(ctx context.Context, client *http.Client) (int64, error)

// runLoad runs op from conc workers: warm for warmup, then measure for
// dur. Every request has its own deadline, and the run as a whole is
// bounded by dur plus that deadline.
func runLoad(ctx context.Context, t *target, keepAlive bool, conc int, warmup, dur time.Duration, do op) result {
	tr := t.transport(keepAlive, conc)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 15 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	rec := &recorder{}
	var measuring atomic.Bool
	start := time.Now()
	warmEnd := start.Add(warmup)
	end := warmEnd.Add(dur)
	var (
		mu      sync.Mutex
		tick0   int64 = -1
		conns0        = t.up.conns.Load()
		started       = make(chan struct{})
	)
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for ctx.Err() == nil {
				now := time.Now()
				if now.After(end) {
					return
				}
				m := now.After(warmEnd)
				if m && !measuring.Load() {
					mu.Lock()
					if !measuring.Load() {
						tick0 = t.ticks()
						measuring.Store(true)
						close(started)
					}
					mu.Unlock()
				}
				t0 := time.Now()
				n, err := do(ctx, client)
				d := time.Since(t0)
				if !m {
					if err != nil {
						rec.fail(fmt.Errorf("warm-up: %w", err))
					}
					continue
				}
				if err != nil {
					rec.fail(err)
					continue
				}
				rec.ok(d, n)
			}
		})
	}
	wg.Wait()
	res := result{cpuTicks: -1}
	select {
	case <-started:
		measEnd := time.Now()
		res.elapsed = measEnd.Sub(warmEnd)
		if tick0 >= 0 {
			res.cpuTicks = t.ticks() - tick0
		}
	default:
		res.elapsed = time.Since(start)
	}
	res.upConns = t.up.conns.Load() - conns0
	res.requests, res.bytes, res.lat = rec.requests, rec.bytes, rec.lat
	res.failures = rec.failures.Load()
	if v, ok := rec.firstErr.Load().(string); ok {
		res.firstErr = v
	}
	return res
}

// ticks is the proxy's CPU so far, or -1 for the direct target.
func (t *target) ticks() int64 {
	if t.proxy == nil {
		return -1
	}
	n, err := t.proxy.cpuTicks()
	if err != nil {
		return -1
	}
	return n
}

// get fetches path and checks status and length.
func (t *target) get(path string, want int) op {
	return func(ctx context.Context, client *http.Client) (int64, error) {
		req, err := t.newRequest(ctx, http.MethodGet, path, nil)
		if err != nil {
			return 0, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		if err != nil {
			return n, fmt.Errorf("GET %s: reading body after %d bytes: %w", path, n, err)
		}
		if resp.StatusCode != http.StatusOK || n != int64(want) {
			return n, statusErr("GET "+path, resp, n, want)
		}
		return n, nil
	}
}

// post uploads body to /upload.
func (t *target) post(body []byte) op {
	return func(ctx context.Context, client *http.Client) (int64, error) {
		req, err := t.newRequest(ctx, http.MethodPost, "/upload", body)
		if err != nil {
			return 0, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if resp.StatusCode != http.StatusOK || string(got) != "ok "+itoa(int64(len(body))) {
			return 0, fmt.Errorf("POST /upload: %s: %q", resp.Status, prefix(string(got), 200))
		}
		return int64(len(body)), nil
	}
}

func statusErr(what string, resp *http.Response, n int64, want int) error {
	return fmt.Errorf("%s: %s, %d bytes (want 200, %d bytes)", what, resp.Status, n, want)
}

// sseFirstEvent measures, samples times on one keep-alive connection, the
// time from sending GET /sse to reading its first complete event; it then
// reads the stream to its end so the connection is reused.
func sseFirstEvent(ctx context.Context, t *target, samples int) result {
	tr := t.transport(true, 1)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 15 * time.Second}
	res := result{cpuTicks: -1}
	// Open the connection (CONNECT, TLS) before measuring.
	if _, err := t.get("/small", smallSize)(ctx, client); err != nil {
		res.failures++
		res.firstErr = "warm-up: " + err.Error()
		return res
	}
	start := time.Now()
	tick0 := t.ticks()
	for range samples {
		if ctx.Err() != nil {
			break
		}
		d, err := t.sseOnce(ctx, client)
		if err != nil {
			res.failures++
			if res.firstErr == "" {
				res.firstErr = err.Error()
			}
			continue
		}
		res.requests++
		res.lat = append(res.lat, d)
	}
	res.elapsed = time.Since(start)
	if tick0 >= 0 {
		res.cpuTicks = t.ticks() - tick0
	}
	return res
}

func (t *target) sseOnce(ctx context.Context, client *http.Client) (time.Duration, error) {
	req, err := t.newRequest(ctx, http.MethodGet, "/sse", nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "text/event-stream")
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		return 0, fmt.Errorf("GET /sse: %s, Content-Type %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	br := bufio.NewReader(resp.Body)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return 0, fmt.Errorf("GET /sse: no complete first event: %w", err)
		}
		if line == "\n" || line == "\r\n" {
			break
		}
	}
	d := time.Since(t0)
	rest, err := io.ReadAll(br)
	if err != nil {
		return d, fmt.Errorf("GET /sse: reading after the first event: %w", err)
	}
	if !bytes.Contains(rest, []byte("data: last")) {
		return d, errors.New("GET /sse: stream ended without its last event")
	}
	return d, nil
}

// uploadBody is 1 MiB of realistic JSON request body (an LLM API call)
// holding no secret, so DLP scans it and lets it through.
func uploadBody() []byte {
	var b bytes.Buffer
	b.WriteString(`{"model":"claude-sonnet","max_tokens":4096,"messages":[`)
	for i := 0; b.Len() < 1<<20-400; i++ {
		fmt.Fprintf(&b, `{"role":"user","content":"Please refactor function handler%d in pkg/server/routes.go so it returns errors instead of panicking; keep the tests green and explain the change. id=%08x"},`, i, uint32(i)*2654435761)
	}
	b.WriteString(`{"role":"user","content":"done"}]}`)
	out := b.Bytes()
	for len(out) < 1<<20 {
		out = append(out, ' ')
	}
	return out[:1<<20]
}
