package probe

import (
	"net"
	"testing"
)

func TestTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	runCases(t, "tcp", []runCase{
		{name: "open port", args: []string{ln.Addr().String()}, code: ExitOK, stdout: "connected\n"},
		{name: "proxy settings are ignored", environ: []string{"HTTPS_PROXY=http://" + closedPort(t), "ALL_PROXY=http://" + closedPort(t)},
			args: []string{ln.Addr().String()}, code: ExitOK, stdout: "connected\n"},
		{name: "timeout after the address", args: []string{ln.Addr().String(), "--timeout", "1s"}, code: ExitOK, stdout: "connected\n"},
		{name: "closed port", args: []string{closedPort(t)}, code: ExitFail, stderr: "connection refused"},
		{name: "no address", args: nil, code: ExitUsage, stderr: "want exactly one HOST:PORT"},
		{name: "no port", args: []string{"127.0.0.1"}, code: ExitUsage, stderr: "want HOST:PORT"},
		{name: "zero timeout", args: []string{"--timeout", "0s", "127.0.0.1:1"}, code: ExitUsage, stderr: "positive"},
	})
}

func TestDNS(t *testing.T) {
	runCases(t, "dns", []runCase{
		{name: "hosts file name", args: []string{"localhost"}, code: ExitOK, stdout: "127.0.0.1"},
		{name: "address literal", args: []string{"192.0.2.7"}, code: ExitOK, stdout: "192.0.2.7\n"},
		{name: "timeout after the name", args: []string{"localhost", "--timeout", "1s"}, code: ExitOK, stdout: "127.0.0.1"},
		// .invalid never resolves (RFC 6761); offline it fails or times out.
		{name: "unresolvable name", args: []string{"--timeout", "500ms", "no-such-host.invalid"}, code: ExitFail, stderr: "no-such-host.invalid"},
		{name: "no name", args: nil, code: ExitUsage, stderr: "want exactly one NAME"},
		{name: "two names", args: []string{"a", "b"}, code: ExitUsage, stderr: "want exactly one NAME"},
	})
}
