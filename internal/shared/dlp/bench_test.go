package dlp

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
)

// realisticBodies are request bodies of the kinds agents send: JSON API
// calls, source code, prose. None holds a secret.
func realisticBodies() map[string][]byte {
	var js bytes.Buffer
	js.WriteString(`{"model":"claude-sonnet","messages":[`)
	for i := 0; js.Len() < 1<<20; i++ {
		fmt.Fprintf(&js, `{"role":"user","content":"Please refactor function handler%d in pkg/server/routes.go so it returns errors instead of panicking; keep the tests green and explain the change. id=%08x"},`, i, i*2654435761)
	}
	js.WriteString(`{"role":"user","content":"done"}]}`)
	var code bytes.Buffer
	for i := 0; code.Len() < 1<<20; i++ {
		fmt.Fprintf(&code, "func (s *Server) handle%d(w http.ResponseWriter, r *http.Request) {\n\tkey := r.URL.Query().Get(\"key\")\n\tif key == \"\" {\n\t\thttp.Error(w, \"missing key\", http.StatusBadRequest)\n\t\treturn\n\t}\n\ts.cache.Set(key, time.Now())\n}\n\n", i)
	}
	var prose bytes.Buffer
	for prose.Len() < 1<<20 {
		prose.WriteString("The token bucket refills at a steady rate, and each request takes one token; when the bucket is empty, the request waits. Asia and Europe regions share the secret-free config, which the private repository documents. ")
	}
	return map[string][]byte{"json": js.Bytes(), "code": code.Bytes(), "prose": prose.Bytes()}
}

// adversarial is input dense with rule keywords but holding no secret.
func adversarial(n int) []byte {
	unit := "ghp_ xoxb- akia glpat- sk-ant- npm_ aiza -----begin hooks.slack.com sk_live_ github_pat_ T3BlbkFJ "
	return []byte(strings.Repeat(unit, n/len(unit)+1)[:n])
}

// adversarialTokens is keyword-dense input shaped like tokens (each keyword
// followed by a token-length run) that still matches no rule.
func adversarialTokens(n int) []byte {
	unit := "ghp_abcdefghijklmnopqrstuv xoxb-12345678901234 ASIAabcdefghijklmnop glpat-abcdefghij0123 AIzaabcdefghijklmnopq npm_abcdefghijklmnop sk_live_a hooks.slack.com/x "
	return []byte(strings.Repeat(unit, n/len(unit)+1)[:n])
}

func BenchmarkScan(b *testing.B) {
	s := newScanner(b, map[string][]byte{"api_token": []byte("held-token-value-0123456789")})
	inputs := realisticBodies()
	inputs["adversarial"] = adversarial(1 << 20)
	inputs["adversarial-tokens"] = adversarialTokens(1 << 20)
	// Every byte of a form body is near an escape: the decoded view is the
	// whole body.
	inputs["form-escaped"] = []byte(url.QueryEscape(string(inputs["prose"][:600<<10])))
	for _, name := range []string{"json", "code", "prose", "adversarial", "adversarial-tokens", "form-escaped"} {
		data := inputs[name]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if f, err := s.Scan(context.Background(), data, nil); f != nil || err != nil {
					b.Fatalf("unexpected %+v %v", f, err)
				}
			}
		})
	}
}

func BenchmarkNew(b *testing.B) {
	for b.Loop() {
		if _, err := New(Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
