package main

import (
	"crypto/rand"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/scaffold/testpki"
)

const (
	smallSize = 200
	bigSize   = 10 << 20
	// sseHold is how long /sse keeps the stream open after its first
	// event: a proxy that buffers the response shows at least this much
	// time to first event.
	sseHold = 30 * time.Millisecond
)

// upstream is the HTTPS origin every target ends at: Go net/http on
// 127.0.0.1 offering h2 and HTTP/1.1 with a certificate for benchHost
// from the upstream CA.
type upstream struct {
	srv   *http.Server
	ln    net.Listener
	port  string
	token string // the credential proxies must inject

	small, big []byte
	conns      atomic.Int64 // TCP connections accepted
	rejected   atomic.Int64 // requests refused for wrong credentials
	lastReject atomic.Value // string: why the last one was refused
}

func startUpstream(upCA *testpki.CA, token string) (*upstream, error) {
	cert, err := upCA.Issue(benchHost)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	u := &upstream{ln: ln, token: token, small: make([]byte, smallSize), big: make([]byte, bigSize)}
	_, u.port, _ = net.SplitHostPort(ln.Addr().String())
	for i := range u.small {
		u.small[i] = 'a' + byte(i%26)
	}
	_, _ = rand.Read(u.big)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /small", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(u.small)
	})
	mux.HandleFunc("GET /big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(u.big)
	})
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, "read body: "+err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "ok ")
		_, _ = io.WriteString(w, itoa(n))
	})
	mux.HandleFunc("GET /sse", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = io.WriteString(w, "event: hello\ndata: first\n\n")
		http.NewResponseController(w).Flush()
		select {
		case <-time.After(sseHold):
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "event: bye\ndata: last\n\n")
	})
	u.srv = &http.Server{
		Handler:           u.checkAuth(mux),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}},
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				u.conns.Add(1)
			}
		},
		ErrorLog: discardLogger(),
	}
	go func() { _ = u.srv.ServeTLS(ln, "", "") }()
	return u, nil
}

// checkAuth refuses (401) a request that did not come the way its target
// should: direct requests say so with X-Bench-Direct; proxied ones must
// carry exactly the injected credential and no Proxy-Authorization (the
// client sends its own of both, which the proxy must strip).
func (u *upstream) checkAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		why := ""
		switch {
		case r.Header.Get("X-Bench-Direct") == "1":
		case len(r.Header.Values("Authorization")) != 1 || r.Header.Get("Authorization") != "Bearer "+u.token:
			why = "Authorization is not the injected credential (got " + itoa(int64(len(r.Header.Values("Authorization")))) + " header(s), prefix " + prefix(r.Header.Get("Authorization"), 12) + ")"
		case r.Header.Get("Proxy-Authorization") != "":
			why = "Proxy-Authorization reached the upstream"
		case !strings.EqualFold(hostOnly(r.Host), benchHost):
			why = "Host is " + r.Host
		}
		if why != "" {
			u.rejected.Add(1)
			u.lastReject.Store(why)
			http.Error(w, why, http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (u *upstream) close() { _ = u.srv.Close() }

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

func prefix(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
