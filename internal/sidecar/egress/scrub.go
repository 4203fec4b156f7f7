package egress

import (
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/bot-bottle/bot-bottle/internal/shared/dlp"
)

// scrubMask is what replaces a held secret found in a response: the same
// length as the secret, so a response keeps its Content-Length.
func scrubMask(n int) []byte {
	const label = "[removed-by-egress]"
	if n <= len(label) {
		return []byte(label[:n])
	}
	return []byte(label + strings.Repeat("*", n-len(label)))
}

// scrubResponse removes held secret values, in their common encodings
// (dlp.Redactor), from a response's headers, trailers and body: an
// upstream that echoes the request (headers included) must not hand the
// agent the credential egress injected.
func scrubResponse(resp *http.Response, red *dlp.Redactor) {
	if red == nil {
		return
	}
	scrubHeader(resp.Header, red)
	scrubHeader(resp.Trailer, red)
	// A 101's body is the upgraded stream, not content to rewrite.
	if resp.Body != nil && resp.Body != http.NoBody && resp.StatusCode != http.StatusSwitchingProtocols {
		resp.Body = &scrubReader{src: resp.Body, red: red, resp: resp}
	}
}

// scrubHeader masks held secrets in every name and value of h, in place.
func scrubHeader(h http.Header, red *dlp.Redactor) {
	for name, vals := range h {
		for i, v := range vals {
			vals[i] = scrubString(v, red)
		}
		if clean := scrubString(name, red); clean != name {
			delete(h, name)
			h[clean] = vals
		}
	}
}

func scrubString(v string, red *dlp.Redactor) string {
	if len(v) < 8 {
		return v
	}
	var b []byte
	red.Each([]byte(v), func(start, end int) {
		if b == nil {
			b = []byte(v)
		}
		copy(b[start:end], scrubMask(end-start))
	})
	if b == nil {
		return v
	}
	return string(b)
}

// scrubReader replaces secrets in a stream. It withholds only a tail that
// could be the start of a secret, so events of a stream (SSE) that hold no
// secret pass through at once. It reads straight into the caller's buffer
// and masks in place (a mask has its secret's length): one copy per byte.
// When the stream ends it scrubs the response's trailers, which the
// transport fills in just before it reports the end (or on Close).
type scrubReader struct {
	src  io.ReadCloser
	red  *dlp.Redactor
	resp *http.Response // its Trailer is scrubbed at the end; nil: none
	held []byte         // read, not yet returned: a tail that may begin a secret
	err  error          // from src, returned once held is drained
}

func (s *scrubReader) Read(p []byte) (int, error) {
	for {
		if s.err != nil {
			// The stream ended: nothing more can complete a secret.
			if len(s.held) > 0 {
				n := copy(p, s.held)
				s.held = s.held[:copy(s.held, s.held[n:])]
				return n, nil
			}
			s.scrubTrailer()
			return 0, s.err
		}
		if len(p) <= len(s.held) {
			// Too small to add to what is held: hand out held bytes only
			// if no secret can start among them, else wait for more.
			return s.readSmall(p)
		}
		h := copy(p, s.held)
		n, err := s.src.Read(p[h:])
		s.err = err
		data := p[:h+n]
		s.red.Each(data, func(start, end int) { copy(data[start:end], scrubMask(end-start)) })
		keep := 0
		if s.err == nil {
			keep = s.red.PartialTail(data)
		}
		s.held = append(s.held[:0], data[len(data)-keep:]...)
		if out := len(data) - keep; out > 0 {
			return out, nil
		}
	}
}

// readSmall serves a read buffer no larger than what is held, through an
// internal buffer (rare: ReverseProxy reads 128 KiB at a time).
func (s *scrubReader) readSmall(p []byte) (int, error) {
	buf := make([]byte, len(s.held)+4096)
	n, err := s.Read(buf)
	// buf's bytes are scrubbed; return what fits, hold the rest in front.
	k := copy(p, buf[:n])
	s.held = append(buf[k:n:n], s.held...)
	return k, err
}

func (s *scrubReader) scrubTrailer() {
	if s.resp != nil {
		scrubHeader(s.resp.Trailer, s.red)
	}
}

func (s *scrubReader) Close() error {
	err := s.src.Close()
	s.scrubTrailer()
	return err
}

// chunkPool holds ReverseProxy's copy buffers. Each read of a response of
// unknown length is flushed to the agent at once (streams, SSE), and each
// flush costs a chunk header, small TLS records and syscalls: 128 KiB
// reads cut a 10 MiB download's proxy CPU by a third against 32 KiB
// (make bench-egress).
var chunkPool = sync.Pool{New: func() any { b := make([]byte, 128<<10); return &b }}
