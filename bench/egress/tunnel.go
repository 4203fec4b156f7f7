package main

import (
	"bufio"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"
)

// serveTunnel runs the reference proxy: a Go CONNECT tunnel that only
// copies bytes (spliced in the kernel), with no TLS, HTTP or policy of its
// own. It is the ceiling any proxy can reach on this machine: the cost of
// one more process and one more loopback hop. It tunnels only to
// benchHost (at 127.0.0.1:upPort) and refuses other hosts with 403, as the
// real proxies do. It runs until the process is killed: it returns only
// an error.
func serveTunnel(addr, upPort string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go tunnelConn(c, upPort)
	}
}

func tunnelConn(c net.Conn, upPort string) {
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	_ = c.SetReadDeadline(time.Time{})
	if req.Method != http.MethodConnect || req.URL.Host != net.JoinHostPort(benchHost, upPort) {
		_, _ = io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		return
	}
	up, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", upPort), 5*time.Second)
	if err != nil {
		_, _ = io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
		return
	}
	defer up.Close()
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	if n := br.Buffered(); n > 0 { // sent before our answer: pass it on
		b, _ := br.Peek(n)
		if _, err := up.Write(b); err != nil {
			return
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, _ = io.Copy(up, c)
		_ = up.(*net.TCPConn).CloseWrite()
	}()
	_, _ = io.Copy(c, up)
	_ = c.(*net.TCPConn).CloseWrite()
	wg.Wait()
}

// tunnelMain is main for the child started with -serve-tunnel.
func tunnelMain(addr, upPort string) {
	log.SetPrefix("bench-egress tunnel: ")
	log.Fatal(serveTunnel(addr, upPort)) // it returns only on failure
}
