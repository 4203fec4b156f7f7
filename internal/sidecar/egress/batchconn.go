package egress

import (
	"crypto/tls"
	"net"
	"sync"
)

// batchMin is the smallest write worth batching: below one full TLS
// record (16 KiB) a write is a single record, and a single syscall anyway.
const batchMin = 16 << 10

// recordBatcher sits between the agent's tls.Conn and its TCP connection.
// While batching it collects the TLS records that writing one large piece
// of a response produces (net/http's buffer, the rest of the piece in
// 16 KiB records, the chunk trailer on flush) and sends them in one
// syscall instead of one each: on this kind of machine the syscalls, not
// the bytes, are most of what a download costs egress.
type recordBatcher struct {
	net.Conn
	mu       sync.Mutex
	batching bool
	buf      *[]byte // from batchPool while batching
}

var batchPool = sync.Pool{New: func() any { b := make([]byte, 0, 160<<10); return &b }}

func (b *recordBatcher) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.batching {
		*b.buf = append(*b.buf, p...)
		return len(p), nil
	}
	return b.Conn.Write(p)
}

func (b *recordBatcher) start() {
	b.mu.Lock()
	b.batching = true
	b.buf = batchPool.Get().(*[]byte)
	b.mu.Unlock()
}

// flush sends what was batched and stops batching.
func (b *recordBatcher) flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.batching = false
	var err error
	if len(*b.buf) > 0 {
		_, err = b.Conn.Write(*b.buf)
	}
	if cap(*b.buf) <= 1<<20 { // a huge one-off is left to the GC
		*b.buf = (*b.buf)[:0]
		batchPool.Put(b.buf)
	}
	b.buf = nil
	return err
}

// newAgentTLS wraps the agent's side of a tunnel in TLS with cfg and
// returns the TLS connection and the batcher beneath it.
func newAgentTLS(client net.Conn, cfg *tls.Config) (*tls.Conn, *recordBatcher) {
	raw := &recordBatcher{Conn: client}
	return tls.Server(raw, cfg), raw
}
