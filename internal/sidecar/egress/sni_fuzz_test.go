package egress

import (
	"bytes"
	"crypto/tls"
	"net"
	"testing"
)

// realHello returns the first flight of a real Go TLS client for sni.
func realHello(t testing.TB, sni string) []byte {
	t.Helper()
	a, b := net.Pipe()
	go func() {
		_ = tls.Client(a, &tls.Config{ServerName: sni, InsecureSkipVerify: true}).Handshake()
	}()
	var buf bytes.Buffer
	hello, first, err := readClientHello(b)
	a.Close()
	b.Close()
	if err != nil || hello == nil || hello.serverName != sni {
		t.Fatalf("readClientHello = %+v, %v", hello, err)
	}
	buf.Write(first)
	return buf.Bytes()
}

func TestPinnedSNI(t *testing.T) {
	for _, tc := range []struct {
		hello *clientHello
		host  string
		want  bool
	}{
		{&clientHello{serverName: "pass.example.test"}, "pass.example.test", true},
		{&clientHello{serverName: "PASS.example.test."}, "pass.example.test", true},
		{&clientHello{serverName: "evil.example.test"}, "pass.example.test", false},
		{&clientHello{serverName: ""}, "pass.example.test", false},
		{&clientHello{serverName: "pass.example.test", ech: true}, "pass.example.test", false},
		{nil, "pass.example.test", false},
	} {
		if got := pinnedSNI(tc.hello, tc.host); got != tc.want {
			t.Errorf("pinnedSNI(%+v, %q) = %v, want %v", tc.hello, tc.host, got, tc.want)
		}
	}
}

// FuzzReadClientHello: any bytes, a real hello mutated or not, are read
// without panic, never past the limit, and what was read is returned for
// replay as it came.
func FuzzReadClientHello(f *testing.F) {
	f.Add(realHello(f, "pass.example.test"))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte{0x16, 0x03, 0x01, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		hello, first, err := readClientHello(bytes.NewReader(data))
		if len(first) > maxClientHello || !bytes.HasPrefix(data, first) {
			t.Fatalf("read %d bytes, not a prefix of the input", len(first))
		}
		if err == nil && hello == nil {
			t.Fatal("no error and no hello")
		}
	})
}
