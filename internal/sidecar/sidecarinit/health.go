package sidecarinit

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// healthTimeout bounds the whole health request.
const healthTimeout = 3 * time.Second

// health GETs rawURL directly (never through a proxy: the proxy variables
// of a sidecar, if any, are for its upstream traffic) and returns 0 on
// HTTP 200, 1 otherwise, after one line saying why: on stdout when
// healthy, on stderr when not.
func health(ctx context.Context, rawURL string, stdout, stderr io.Writer) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "sidecar-init: unhealthy: "+format+"\n", args...)
		return 1
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fail("--health %q: want an http:// or https:// URL", rawURL)
	}
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return fail("GET %s: %v", rawURL, err)
	}
	client := &http.Client{
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		// A redirect is not health.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		return fail("GET %s: %v", rawURL, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fail("GET %s: HTTP %d, want 200", rawURL, resp.StatusCode)
	}
	fmt.Fprintf(stdout, "sidecar-init: healthy: GET %s: HTTP 200\n", rawURL)
	return 0
}
