package egress

import (
	"encoding/json"
	"net/http"
	"sync/atomic"
)

// adminHandler serves /healthz, /stats (lost audit lines) and /routes. /routes lists hosts, path
// prefixes, methods and flags — never a secret or a secret's name.
func (p *Proxy) adminHandler(draining *atomic.Bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if draining.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /stats", p.audit.StatsHandler())
	mux.HandleFunc("GET /routes", func(w http.ResponseWriter, _ *http.Request) {
		type route struct {
			Host           string   `json:"host"`
			PathAllowlist  []string `json:"path_allowlist"`
			Methods        []string `json:"methods"`
			TLSPassthrough bool     `json:"tls_passthrough"`
			Auth           string   `json:"auth,omitempty"` // the scheme only
		}
		st := p.state.Load()
		out := struct {
			Routes []route `json:"routes"`
		}{Routes: []route{}}
		for _, r := range st.routes.Routes {
			v := route{Host: r.Host, PathAllowlist: nonNil(r.PathAllowlist), Methods: nonNil(r.Methods), TLSPassthrough: r.TLSPassthrough}
			if r.Auth != nil {
				v.Auth = string(r.Auth.Scheme)
			}
			out.Routes = append(out.Routes, v)
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
	return mux
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
