package egress

import (
	"bufio"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// wsEchoServer upgrades and echoes every data frame back, recording what
// it received.
type wsEchoServer struct {
	mu   sync.Mutex
	got  []string
	exts string
}

func (s *wsEchoServer) handler(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.exts = r.Header.Get("Sec-WebSocket-Extensions")
	s.mu.Unlock()
	sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	c, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer c.Close()
	_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "+
		base64.StdEncoding.EncodeToString(sum[:])+"\r\n\r\n")
	var msg []byte
	var msgOp byte
	for {
		_, op, fin, payload, err := readWSFrame(brw.Reader, 1<<20)
		if err != nil || op == 0x8 {
			return
		}
		if op != 0 {
			msgOp = op
		}
		msg = append(msg, payload...)
		s.mu.Lock()
		s.got = append(s.got, string(payload))
		s.mu.Unlock()
		if fin {
			_, _ = c.Write(wsFrame(msgOp, msg, false))
			msg = nil
		}
	}
}

func (s *wsEchoServer) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

// wsDial opens a websocket to https://host:port/ws through egress,
// offering permessage-deflate.
func (e *env) wsDial(t *testing.T, host, port string) (net.Conn, *bufio.Reader) {
	t.Helper()
	return e.wsDialPath(t, host, port, "/ws", "Sec-WebSocket-Extensions: permessage-deflate\r\n")
}

// wsDialPath opens a websocket to https://host:port/path through egress,
// with extra (whole header lines) in the handshake.
func (e *env) wsDialPath(t *testing.T, host, port, path, extra string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c := dialRaw(t, e.addr)
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	_, _ = io.WriteString(c, "CONNECT "+host+":"+port+" HTTP/1.1\r\nHost: "+host+":"+port+"\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(e.ca.Cert)
	tc := tls.Client(c, &tls.Config{ServerName: host, RootCAs: pool, NextProtos: []string{"http/1.1"}})
	key := base64.StdEncoding.EncodeToString([]byte("0123456789abcdef"))
	_, _ = io.WriteString(tc, "GET "+path+" HTTP/1.1\r\nHost: "+host+":"+port+"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "+key+"\r\n"+extra+"\r\n")
	tbr := bufio.NewReader(tc)
	resp, err = http.ReadResponse(tbr, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		msg := ""
		if resp != nil {
			b, _ := io.ReadAll(resp.Body)
			msg = string(b)
		}
		t.Fatalf("upgrade: %v %q %v", resp, msg, err)
	}
	return tc, tbr
}

func TestWebsocketMessagesAreScanned(t *testing.T) {
	e := newEnv(t, baseRoutes, nil)
	ws := &wsEchoServer{}
	up := e.startUpstream(false, ws.handler, "other.example.test")
	c, br := e.wsDial(t, "other.example.test", up.port)
	defer c.Close()

	// A clean message, sent in two fragments, is echoed.
	_, _ = c.Write(fragment(0x1, []byte("hello "), false))
	_, _ = c.Write(fragment(0x0, []byte("world"), true))
	_, op, _, payload, err := readWSFrame(br, 1<<20)
	if err != nil || op != 0x1 || string(payload) != "hello world" {
		t.Fatalf("echo = %d %q %v", op, payload, err)
	}
	// A message with a secret split over fragments closes the socket.
	_, _ = c.Write(fragment(0x1, []byte(`{"token":"`+ghToken[:12]), false))
	_, _ = c.Write(fragment(0x0, []byte(ghToken[12:]+`"}`), true))
	_, op, _, payload, err = readWSFrame(br, 1<<20)
	if err != nil || op != 0x8 || binary.BigEndian.Uint16(payload) != 1008 || !strings.Contains(string(payload), "rule github-pat") {
		t.Fatalf("after a secret: op %d payload %q err %v; want a 1008 close naming the rule", op, payload, err)
	}
	time.Sleep(50 * time.Millisecond)
	for _, m := range ws.received() {
		if strings.Contains(m, "ghp_") {
			t.Fatal("the secret reached the upstream")
		}
	}
	if ws.exts != "" {
		t.Errorf("compression extension %q reached the upstream; frames would be unscannable", ws.exts)
	}
}

// fragment builds one masked client frame.
func fragment(op byte, payload []byte, fin bool) []byte {
	f := wsFrame(op, payload, true)
	if !fin {
		f[0] &^= 0x80
	}
	return f
}
