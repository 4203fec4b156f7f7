package egress

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
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

// scrubResponse removes held secret values from a response's headers and
// body: an upstream that echoes the request (headers included) must not
// hand the agent the credential egress injected.
func scrubResponse(resp *http.Response, secrets [][]byte) {
	if len(secrets) == 0 {
		return
	}
	for name, vals := range resp.Header {
		for i, v := range vals {
			for _, s := range secrets {
				if strings.Contains(v, string(s)) {
					v = strings.ReplaceAll(v, string(s), string(scrubMask(len(s))))
				}
			}
			resp.Header[name][i] = v
		}
	}
	// A 101's body is the upgraded stream, not content to rewrite.
	if resp.Body != nil && resp.Body != http.NoBody && resp.StatusCode != http.StatusSwitchingProtocols {
		resp.Body = &scrubReader{src: resp.Body, secrets: secrets}
	}
}

// scrubReader replaces secrets in a stream. It withholds only a tail that
// could be the start of a secret, so events of a stream (SSE) that hold no
// secret pass through at once.
type scrubReader struct {
	src     io.ReadCloser
	secrets [][]byte
	buf     []byte // read, not yet returned
	out     []byte // ready to return
	err     error
	chunk   *[]byte // read buffer from chunkPool
}

var chunkPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (s *scrubReader) Read(p []byte) (int, error) {
	for len(s.out) == 0 {
		if s.err != nil {
			if len(s.buf) > 0 { // the stream ended: nothing more can complete a secret
				s.out, s.buf = s.buf, nil
				break
			}
			return 0, s.err
		}
		if s.chunk == nil {
			s.chunk = chunkPool.Get().(*[]byte)
		}
		n, err := s.src.Read(*s.chunk)
		s.buf = append(s.buf, (*s.chunk)[:n]...)
		s.err = err
		for _, sec := range s.secrets {
			if bytes.Contains(s.buf, sec) {
				s.buf = bytes.ReplaceAll(s.buf, sec, scrubMask(len(sec)))
			}
		}
		keep := s.partialTail()
		s.out = append(s.out[:0], s.buf[:len(s.buf)-keep]...)
		s.buf = append(s.buf[:0], s.buf[len(s.buf)-keep:]...)
	}
	n := copy(p, s.out)
	s.out = s.out[n:]
	return n, nil
}

// partialTail returns the length of the longest suffix of buf that is a
// proper prefix of a secret.
func (s *scrubReader) partialTail() int {
	best := 0
	for _, sec := range s.secrets {
		for k := min(len(sec)-1, len(s.buf)); k > best; k-- {
			if bytes.HasSuffix(s.buf, sec[:k]) {
				best = k
				break
			}
		}
	}
	return best
}

func (s *scrubReader) Close() error {
	if s.chunk != nil {
		chunkPool.Put(s.chunk)
		s.chunk = nil
	}
	return s.src.Close()
}
