package egress

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// maxClientHello bounds what egress reads of a passthrough tunnel before
// it has a whole ClientHello (a TLS record is at most 16 KiB plus its
// header; a hello may span a few, with post-quantum key shares).
const maxClientHello = 64 << 10

// extECH is the encrypted_client_hello extension: its inner hello names a
// server the outer SNI does not, so it cannot be pinned.
const extECH = 0xfe0d

var errHelloRead = errors.New("client hello read")

// clientHello is what a passthrough tunnel's first bytes said.
type clientHello struct {
	serverName string // the SNI, as sent; "" if none
	ech        bool   // the hello carries encrypted_client_hello
}

// readClientHello reads the agent's TLS ClientHello from r (at most
// maxClientHello bytes) with crypto/tls's own parser, without answering
// it. It returns the hello and every byte it read, for the caller to
// replay upstream; an error means the bytes are not a TLS ClientHello.
func readClientHello(r io.Reader) (*clientHello, []byte, error) {
	rc := &helloConn{r: io.LimitReader(r, maxClientHello)}
	var hello *clientHello
	srv := tls.Server(rc, &tls.Config{
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			hello = &clientHello{serverName: h.ServerName, ech: slices.Contains(h.Extensions, extECH)}
			return nil, errHelloRead // stop here: egress answers nothing
		},
	})
	err := srv.Handshake()
	if hello == nil {
		if err == nil {
			err = errors.New("no client hello")
		}
		return nil, rc.buf.Bytes(), err
	}
	return hello, rc.buf.Bytes(), nil
}

// pinnedSNI reports whether a passthrough tunnel to host may carry hello:
// its SNI must name host (the CONNECT target, normalised), and it must not
// hide another name in an encrypted ClientHello. A missing SNI is refused:
// the tunnel could then be for any name the upstream serves.
func pinnedSNI(hello *clientHello, host string) bool {
	if hello == nil || hello.ech || hello.serverName == "" {
		return false
	}
	sni := strings.TrimSuffix(hello.serverName, ".")
	if contract.ValidHost(sni) != nil {
		return false
	}
	return contract.NormalizeHost(sni) == contract.NormalizeHost(strings.TrimSuffix(host, "."))
}

// helloConn is a read-only net.Conn over r that records what it reads;
// writes (the alert crypto/tls sends when the peek stops it) go nowhere.
type helloConn struct {
	r   io.Reader
	buf bytes.Buffer
}

func (c *helloConn) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.buf.Write(b[:n])
	return n, err
}

func (c *helloConn) Write(b []byte) (int, error)      { return len(b), nil }
func (c *helloConn) Close() error                     { return nil }
func (c *helloConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *helloConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *helloConn) SetDeadline(time.Time) error      { return nil }
func (c *helloConn) SetReadDeadline(time.Time) error  { return nil }
func (c *helloConn) SetWriteDeadline(time.Time) error { return nil }
