package egress

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"net/http"
	"strconv"
	"testing"
)

// TestLargeResponsesArriveWhole downloads 3 MiB bodies through egress with
// curl over HTTP/1.1 (where egress batches each large write into one
// syscall) and h2, with and without a Content-Length, from an upstream
// that echoes the injected credential across egress's 128 KiB copy
// boundaries: every byte must arrive, in order, with only the credential
// masked.
func TestLargeResponsesArriveWhole(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	body := make([]byte, 3<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range body {
		body[i] = byte('a' + rng.IntN(26)) // lower-case: never the token by chance
	}
	for _, at := range []int{0, 128<<10 - 7, 256 << 10, 2<<20 + 5, len(body) - len(testToken)} {
		copy(body[at:], testToken) // an upstream echoing the credential
	}
	want := bytes.ReplaceAll(body, []byte(testToken), scrubMask(len(testToken)))
	if bytes.Equal(want, body) {
		t.Fatal("the test body holds no token to scrub")
	}
	up := e.startUpstream(true, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/known" {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			_, _ = w.Write(body)
			return
		}
		// Unknown length, in odd pieces, flushed: a stream.
		rc := http.NewResponseController(w)
		for rest := body; len(rest) > 0; {
			n := min(len(rest), 7777)
			_, _ = w.Write(rest[:n])
			_ = rc.Flush()
			rest = rest[n:]
		}
	}, "api.example.test")
	sum := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	for _, proto := range []string{"--http1.1", "--http2"} {
		for _, path := range []string{"/v1/known", "/v1/stream"} {
			out, stderr, code := e.curl(proto, "https://api.example.test:"+up.port+path)
			if code != 0 {
				t.Fatalf("curl %s %s: exit %d: %s", proto, path, code, stderr)
			}
			if got := []byte(out); !bytes.Equal(got, want) {
				i := 0
				for i < min(len(got), len(want)) && got[i] == want[i] {
					i++
				}
				t.Errorf("curl %s %s: got %d bytes (sha256 %.12s), want %d (%.12s); first difference at byte %d",
					proto, path, len(got), sum(got), len(want), sum(want), i)
			}
		}
	}
}
