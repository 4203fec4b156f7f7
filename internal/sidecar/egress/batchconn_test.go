package egress

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"sync/atomic"
	"testing"
)

// countingConn counts the Write calls that reach the socket.
type countingConn struct {
	net.Conn
	writes atomic.Int32
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

func TestRecordBatcherSendsALargeWriteInOneSyscall(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, dir, "ca")
	m, err := loadMinter(ca.CertPath, ca.KeyPath)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := m.leaf("api.example.test")
	if err != nil {
		t.Fatal(err)
	}
	serverSide, clientSide := net.Pipe()
	counted := &countingConn{Conn: serverSide}
	tc, batch := newAgentTLS(counted, &tls.Config{Certificates: []tls.Certificate{*leaf}})
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	client := tls.Client(clientSide, &tls.Config{RootCAs: roots, ServerName: "api.example.test"})

	payload := bytes.Repeat([]byte("0123456789abcdef"), 8<<10) // 128 KiB: 8 TLS records
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(client)
		got <- b
	}()
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}

	before := counted.writes.Load()
	if _, err := tc.Write(payload); err != nil { // not batching: a syscall per record
		t.Fatal(err)
	}
	unbatched := counted.writes.Load() - before

	before = counted.writes.Load()
	batch.start()
	if _, err := tc.Write(payload); err != nil {
		t.Fatal(err)
	}
	if n := counted.writes.Load() - before; n != 0 {
		t.Fatalf("%d writes reached the socket while batching", n)
	}
	if err := batch.flush(); err != nil {
		t.Fatal(err)
	}
	batched := counted.writes.Load() - before
	tc.Close()
	if b := <-got; !bytes.Equal(b, append(payload, payload...)) {
		t.Fatalf("the agent read %d bytes, not the two payloads", len(b))
	}
	if unbatched < 8 || batched != 1 {
		t.Errorf("128 KiB took %d socket writes unbatched and %d batched; want ≥ 8 and 1", unbatched, batched)
	}
}
