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
// secret pass through at once. It reads straight into the caller's buffer
// and masks in place (a mask has its secret's length): one copy per byte.
type scrubReader struct {
	src     io.ReadCloser
	secrets [][]byte
	held    []byte // read, not yet returned: a tail that may begin a secret
	err     error  // from src, returned once held is drained
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
		for _, sec := range s.secrets {
			maskAll(data, sec)
		}
		keep := partialTail(data, s.secrets)
		if s.err != nil {
			keep = 0
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

// maskAll overwrites every occurrence of sec in data with its mask.
func maskAll(data, sec []byte) {
	for i := 0; ; {
		j := bytes.Index(data[i:], sec)
		if j < 0 {
			return
		}
		copy(data[i+j:], scrubMask(len(sec)))
		i += j + len(sec)
	}
}

// partialTail returns the length of the longest suffix of buf that is a
// proper prefix of a secret.
func partialTail(buf []byte, secrets [][]byte) int {
	best := 0
	for _, sec := range secrets {
		for k := min(len(sec)-1, len(buf)); k > best; k-- {
			if bytes.HasSuffix(buf, sec[:k]) {
				best = k
				break
			}
		}
	}
	return best
}

func (s *scrubReader) Close() error { return s.src.Close() }

// chunkPool holds ReverseProxy's copy buffers. Each read of a response of
// unknown length is flushed to the agent at once (streams, SSE), and each
// flush costs a chunk header, small TLS records and syscalls: 128 KiB
// reads cut a 10 MiB download's proxy CPU by a third against 32 KiB
// (make bench-egress).
var chunkPool = sync.Pool{New: func() any { b := make([]byte, 128<<10); return &b }}
