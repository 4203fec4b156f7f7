package probe

import (
	"context"
	"fmt"
	"net"
	"time"
)

const tcpHelp = `usage: probe tcp HOST:PORT [--timeout 3s]

Opens a TCP connection straight to HOST:PORT, ignoring every proxy setting,
and closes it. Prints "connected", or the error on standard error. In a
bottle this is how a test shows that nothing but the sidecars is reachable:
the host's gateway and the internet must fail (netguard makes the gateway
fail with "permission denied" and other addresses with "network is
unreachable").

exit codes:
  0  connected
  1  the connection failed (refused, unreachable, prohibited, timed out)
  2  usage error

examples:
  probe tcp egress:8888
  probe tcp 172.18.0.1:22 --timeout 1s
`

func runTCP(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "tcp", tcpHelp)
	timeout := fs.Duration("timeout", 3*time.Second, "connect time limit")
	pos, code, ok := parseArgs(e, fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return usageError(e, fs, "want exactly one HOST:PORT, got %d arguments", len(pos))
	}
	if _, _, err := net.SplitHostPort(pos[0]); err != nil {
		return usageError(e, fs, "%q: want HOST:PORT (%v)", pos[0], err)
	}
	if *timeout <= 0 {
		return usageError(e, fs, "--timeout must be positive")
	}
	d := net.Dialer{Timeout: *timeout}
	conn, err := d.DialContext(ctx, "tcp", pos[0])
	if err != nil {
		fmt.Fprintf(e.stderr, "probe tcp: %v\n", err)
		return ExitFail
	}
	conn.Close()
	fmt.Fprintln(e.stdout, "connected")
	return ExitOK
}

const dnsHelp = `usage: probe dns NAME [--timeout 3s]

Resolves NAME with Go's own resolver (it reads /etc/hosts and
/etc/resolv.conf; no C library), and prints one address per line. In a
bottle the sidecars' names resolve and external names must not (no DNS
exfiltration).

exit codes:
  0  at least one address
  1  the lookup failed (no such host, no DNS server, timed out)
  2  usage error

examples:
  probe dns egress
  probe dns example.com --timeout 1s
`

func runDNS(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "dns", dnsHelp)
	timeout := fs.Duration("timeout", 3*time.Second, "lookup time limit")
	pos, code, ok := parseArgs(e, fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 || pos[0] == "" {
		return usageError(e, fs, "want exactly one NAME, got %d arguments", len(pos))
	}
	if *timeout <= 0 {
		return usageError(e, fs, "--timeout must be positive")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	r := &net.Resolver{PreferGo: true}
	addrs, err := r.LookupHost(ctx, pos[0])
	if err != nil {
		fmt.Fprintf(e.stderr, "probe dns: %v\n", err)
		return ExitFail
	}
	for _, a := range addrs {
		fmt.Fprintln(e.stdout, a)
	}
	return ExitOK
}
