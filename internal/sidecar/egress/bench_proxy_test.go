package egress

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/internal/shared/dlp"
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

// BenchmarkScrubReader measures the response scrubber on a credentialed
// route's download: every byte is searched for every form of the secret.
func BenchmarkScrubReader(b *testing.B) {
	data := make([]byte, 10<<20)
	for i := range data {
		data[i] = byte(i*2654435761>>13 + i>>3) // noise, like a compressed or binary download
	}
	red := dlp.NewRedactor([][]byte{[]byte(testToken)})
	buf := make([]byte, 128<<10)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r := &scrubReader{src: io.NopCloser(bytes.NewReader(data)), red: red}
		for {
			if _, err := r.Read(buf); err != nil {
				break
			}
		}
	}
}

// BenchmarkBodyOverrides measures the method-override check on a 1 MiB
// JSON body (no override) and a 1 MiB form body (escapes everywhere).
func BenchmarkBodyOverrides(b *testing.B) {
	var js bytes.Buffer
	for i := 0; js.Len() < 1<<20; i++ {
		fmt.Fprintf(&js, `{"role":"user","content":"refactor handler_%d in pkg/server_routes.go"},`, i)
	}
	form := []byte(strings.Repeat("q=a%20b%2Fc&", (1<<20)/12))
	for name, data := range map[string][]byte{"json": js.Bytes(), "form": form} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if m := bodyOverrides(data); len(m) != 0 {
					b.Fatal(m)
				}
			}
		})
	}
}
