package provision

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// selfTestTimeout bounds each self-test client, in seconds.
const selfTestTimeout = "20"

// tlsClient is one way to make a TLS handshake from inside the agent that
// verifies against the system trust store with no extra flag. Each goes
// through egress the way the agent's own tools do (HTTPS_PROXY in the
// agent's environment), and succeeds on any HTTP answer: only a
// connection, proxy or certificate error fails.
type tlsClient struct {
	// tool is the program, one of toolNames.
	tool string
	// note says, in the "looked for" list of a failure, what the client
	// must be.
	note string
	// usable reports whether the program found at path can verify; nil
	// means it can. It may run a command to find out.
	usable func(ctx context.Context, t Target, a Agent, path string) bool
	// argv is the command for host (an https URL authority).
	argv func(path, host string) []string
	// ok reports whether a failed command still proved a verified
	// handshake (an HTTP error status); nil means only exit 0 does.
	ok func(e *ExecError) bool
}

// tlsClients are the self-test's clients, in order of preference.
var tlsClients = []tlsClient{
	{
		tool: "curl",
		// -q first: no ~/.curlrc, which could turn verification off.
		argv: func(p, host string) []string {
			return []string{p, "-q", "-sS", "-o", "/dev/null", "--max-time", selfTestTimeout, "https://" + host + "/"}
		},
	},
	{
		tool: "wget",
		note: "GNU Wget (busybox wget does not verify certificates)",
		// Busybox's wget prints "note: TLS certificate validation not
		// implemented" and connects anyway: only GNU Wget will do.
		usable: func(ctx context.Context, t Target, a Agent, p string) bool {
			out, err := t.Exec(ctx, a.User(), nil, p, "--version")
			return err == nil && strings.HasPrefix(string(out), "GNU Wget")
		},
		argv: func(p, host string) []string {
			return []string{p, "-q", "-O", "/dev/null", "--tries=1", "--timeout=" + selfTestTimeout, "https://" + host + "/"}
		},
		// Exit 8: the server answered with an error status, after the
		// handshake. A refused CONNECT is exit 5, like a bad certificate.
		ok: func(e *ExecError) bool { return e.ExitCode() == 8 },
	},
	{
		tool: "python3",
		argv: func(p, host string) []string {
			return []string{p, "-c", pythonSelfTest, "https://" + host + "/"}
		},
	},
	{
		tool: "node",
		note: "node (trusting NODE_EXTRA_CA_CERTS)",
		argv: func(p, host string) []string {
			return []string{p, "-e", nodeSelfTest, host}
		},
	},
	{
		tool: "openssl",
		argv: func(p, host string) []string {
			return []string{shell, "-c", opensslSelfTest, "openssl-self-test", p, host}
		},
	},
	{
		tool: "probe",
		note: "probe (bot-bottle's test agent image only)",
		// --ca= drops the extra CA probe would otherwise take from
		// BOT_BOTTLE_CA_CERT: only the system trust store counts.
		argv: func(p, host string) []string {
			return []string{p, "http", "--ca=", "--timeout", selfTestTimeout + "s", "https://" + host + "/"}
		},
		// Exit 3: a non-2xx answer, or the proxy's refusal of the
		// CONNECT, which probe reports like an answer; only the first
		// followed a handshake.
		ok: func(e *ExecError) bool {
			return e.ExitCode() == 3 && !strings.Contains(string(e.Stderr), "refused CONNECT")
		},
	},
}

// pythonSelfTest fetches argv[1] with urllib's default context, which
// verifies against OpenSSL's default paths (SSL_CERT_FILE included). An
// HTTPError is an answer, so the handshake verified; a refused CONNECT is
// a URLError.
const pythonSelfTest = `import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=` + selfTestTimeout + `).close()
except urllib.error.HTTPError:
    pass
except Exception as e:
    print(e, file=sys.stderr)
    sys.exit(1)
`

// nodeSelfTest makes a verified TLS handshake with the host (the last
// argument) through the CONNECT proxy HTTPS_PROXY names, or directly when
// there is none. Node's https module ignores HTTPS_PROXY, hence the
// CONNECT by hand.
const nodeSelfTest = `const http = require('http'), tls = require('tls');
const host = process.argv[process.argv.length - 1];
const fail = (m) => { console.error(String(m && m.message || m)); process.exit(1); };
setTimeout(() => fail('timed out'), ` + selfTestTimeout + `000).unref();
const name = host.replace(/^\[|\]$/g, '');
const handshake = (socket) => {
  const opts = socket ? { socket, servername: name } : { host: name, port: 443, servername: name };
  const s = tls.connect(opts, () => { s.end(); process.exit(0); });
  s.on('error', fail);
};
const p = process.env.HTTPS_PROXY || process.env.https_proxy;
if (!p) {
  handshake(null);
} else {
  const u = new URL(p);
  http.request({ host: u.hostname, port: u.port || 80, method: 'CONNECT', path: host + ':443' })
    .on('connect', (res, socket) => {
      if (res.statusCode !== 200) fail('the proxy refused CONNECT: ' + res.statusCode);
      handshake(socket);
    })
    .on('error', fail)
    .end();
}
`

// opensslSelfTest runs s_client ($1) against host $2 through HTTPS_PROXY
// (s_client -proxy wants HOST:PORT), failing on any verification error.
const opensslSelfTest = `set -eu
p=${HTTPS_PROXY:-${https_proxy:-}}
p=${p#*://}
p=${p%%/*}
p=${p##*@}
name=$2
case $name in \[*\]) name=${name#\[}; name=${name%\]} ;; esac
set -- "$1" s_client -brief -connect "$2:443" -servername "$name" -verify_return_error -verify_hostname "$name"
if [ -n "$p" ]; then set -- "$@" -proxy "$p"; fi
exec "$@" </dev/null
`

// selfTest makes a TLS handshake from inside the agent, as the agent,
// through egress to host, with the first client in tlsClients the image
// has that can verify certificates.
func selfTest(ctx context.Context, t Target, a Agent, host string) (string, error) {
	authority, err := httpsAuthority(host)
	if err != nil {
		return "", err
	}
	var looked []string
	for _, c := range tlsClients {
		looked = append(looked, cmp.Or(c.note, c.tool))
		p, ok := a.Tools[c.tool]
		if !ok || c.usable != nil && !c.usable(ctx, t, a, p) {
			continue
		}
		_, err := t.Exec(ctx, a.User(), nil, c.argv(p, authority)...)
		var ee *ExecError
		if err != nil && !(errors.As(err, &ee) && c.ok != nil && c.ok(ee)) {
			return "", fmt.Errorf("TLS to %s through egress failed with %s: %w", host, c.tool, err)
		}
		return fmt.Sprintf("self-test passed: TLS to %s through egress verified against the system trust store (%s)", host, c.tool), nil
	}
	return "", fmt.Errorf("no tool in the image can make a verified TLS handshake to %s: looked for %s", host, strings.Join(looked, ", "))
}

// httpsAuthority is host as the authority of an https URL: IPv6 in
// brackets. host must be a declared egress host, not a wildcard.
func httpsAuthority(host string) (string, error) {
	if err := contract.ValidHost(host); err != nil {
		return "", fmt.Errorf("self-test host: %v", err)
	}
	if strings.Contains(host, "*") {
		return "", fmt.Errorf("self-test host %q is a wildcard; name one host", host)
	}
	if a, err := netip.ParseAddr(host); err == nil && a.Is6() {
		return "[" + a.String() + "]", nil
	}
	return host, nil
}

// ChooseSelfTestHost picks the host the self-test connects to from a
// bottle's egress routes: the first that egress intercepts (not
// tls_passthrough, whose certificate is the upstream's), names one host
// (no wildcard) and allows HTTPS on port 443. When none does, host is ""
// and why says so, for Run to print.
func ChooseSelfTestHost(routes []contract.Route) (host, why string) {
	if len(routes) == 0 {
		return "", "the bottle declares no egress host"
	}
	for _, r := range routes {
		if !r.TLSPassthrough && !strings.Contains(r.Host, "*") && r.AllowsPort(contract.HTTPSPort, true) {
			return r.Host, ""
		}
	}
	return "", "no declared egress host is intercepted by egress on port 443 without a wildcard (tls_passthrough, wildcard or other-port routes only)"
}
