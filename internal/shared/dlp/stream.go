package dlp

import (
	"context"
)

// StreamOverlap is how many bytes of the previous chunk a Stream scans
// again with the next one, so a secret straddling a chunk boundary is still
// seen whole. It covers the largest window (a private key).
const StreamOverlap = privateKeyAfter + windowBefore + 1024

// Stream scans data that arrives in chunks (a request body being
// forwarded). Each chunk is scanned together with the tail of the one
// before, so the caller may forward a chunk as soon as Write returns no
// finding and no error.
type Stream struct {
	s      *Scanner
	exempt []string
	tail   []byte
	offset int // stream offset of tail[0]
}

// NewStream starts a stream scan with the given exempt rules.
func (s *Scanner) NewStream(exempt []string) *Stream {
	return &Stream{s: s, exempt: exempt}
}

// Write scans the next chunk. Offsets in findings are from the start of
// the stream.
func (st *Stream) Write(ctx context.Context, chunk []byte) (*Finding, error) {
	buf := append(st.tail, chunk...)
	f, err := st.s.Scan(ctx, buf, st.exempt)
	if f != nil {
		f.Offset += st.offset
	}
	if f != nil || err != nil {
		return f, err
	}
	if len(buf) > StreamOverlap {
		drop := len(buf) - StreamOverlap
		st.offset += drop
		buf = append(buf[:0:0], buf[drop:]...)
	}
	st.tail = buf
	return nil, nil
}
