package egress

import (
	"fmt"
	"io"
	"net/http"
	"testing"
)

// BenchmarkProxyKeepAliveGET measures one small HTTPS GET through egress
// on a kept-alive tunnel: the hot path of an agent's API calls.
func BenchmarkProxyKeepAliveGET(b *testing.B) {
	e := newEnv(b, baseRoutes, nil)
	body := make([]byte, 200)
	up := e.startUpstream(true, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(body) }, "api.example.test")
	c := e.client(false)
	url := fmt.Sprintf("https://api.example.test:%s/v1/x", up.port)
	b.ReportAllocs()
	for b.Loop() {
		resp, err := c.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
