package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/host/demo"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// listener is one sidecar port and the networks its service is on.
type listener struct {
	service, port string
	networks      []string
}

// sidecarListeners are every port a sidecar listens on.
var sidecarListeners = []listener{
	{"egress", "8888", []string{"internal", "egress"}},
	{"egress", "9901", []string{"internal", "egress"}},
	{"git-gate", "9420", []string{"internal", "egress"}},
	{"git-gate", "9901", []string{"internal", "egress"}},
	{"supervise", "9100", []string{"internal"}},
}

// sidecarAddrs are b's sidecar listeners' addresses on network.
func sidecarAddrs(t *testing.T, b *demo.Bottle, network string) []string {
	t.Helper()
	var out []string
	for _, l := range sidecarListeners {
		for _, n := range l.networks {
			if n == network {
				out = append(out, ip(t, b, l.service, n)+":"+l.port)
			}
		}
	}
	return out
}

// replyFromHost connects to addr from the host, sends an HTTP request and
// returns whatever came back. A listener that refuses its peer returns
// nothing: the dial fails, or the connection is reset or closed at once.
// err says how it ended; a timeout after connecting means the listener
// took the connection and sat on it, which is not a refusal either.
func replyFromHost(addr string) (reply []byte, connected bool, err error) {
	c, err := net.DialTimeout("tcp4", addr, 3*time.Second)
	if err != nil {
		return nil, false, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: "+addr+"\r\nConnection: close\r\n\r\n")
	reply, err = io.ReadAll(c)
	return reply, true, err
}

// proxiedFromHost asks egress at proxy, as a client on the host would,
// for the demo API's whoami, trusting the bottle CA; it returns the body.
func proxiedFromHost(t *testing.T, b *demo.Bottle, proxy string) (string, error) {
	t.Helper()
	caPEM, err := os.ReadFile(contract.BottleDir(b.Dir).Path(contract.BottleCACertFile))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("the bottle CA does not parse")
	}
	client := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			Proxy:           http.ProxyURL(&url.URL{Scheme: "http", Host: proxy}),
			TLSClientConfig: &tls.Config{RootCAs: roots},
		},
	}
	resp, err := client.Get("https://" + demo.APIHost + "/v1/whoami")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.Status + " " + string(body), nil
}

// TestHostCannotUseTheSidecars is the attack of a process on the host:
// every sidecar listener, on the sidecar's address on either network,
// resets the connection without a byte (on the internal network the host
// comes from the bridge gateway, inside the subnet), and egress injects
// no token for a request the host sends through it.
func TestHostCannotUseTheSidecars(t *testing.T) {
	a, _ := bottles(t)
	for _, network := range []string{"internal", "egress"} {
		for _, addr := range sidecarAddrs(t, a, network) {
			reply, connected, err := replyFromHost(addr)
			var ne net.Error
			switch {
			case len(reply) > 0:
				t.Errorf("%s (%s network) answered the host: %.120q", addr, network, reply)
			case connected && errors.As(err, &ne) && ne.Timeout():
				t.Errorf("%s (%s network) took the host's connection and kept it open", addr, network)
			default:
				t.Logf("%s (%s network): connected %v, %v", addr, network, connected, err)
			}
		}
	}
	for _, network := range []string{"internal", "egress"} {
		proxy := ip(t, a, "egress", network) + ":8888"
		if body, err := proxiedFromHost(t, a, proxy); err == nil {
			t.Errorf("egress at %s proxied the host's request: %.200s", proxy, body)
		} else {
			t.Logf("through %s: %v", proxy, err)
		}
	}
}

// outsiderScript tries every target from a plain container: an HTTP
// request to each (one "ADDR code=N" line; probe exits 1 when nothing
// came back), then the demo API through egress at proxy.
func outsiderScript(targets []string, proxy string) string {
	var s strings.Builder
	for _, t := range targets {
		s.WriteString(`out=$(probe http --timeout 3s http://` + t + `/healthz 2>&1); echo "` + t + ` code=$? $out" | head -c 300; echo` + "\n")
	}
	s.WriteString(`out=$(HTTPS_PROXY=http://` + proxy + ` probe http --timeout 5s --ca /bottle-ca.crt https://` + demo.APIHost + `/v1/whoami 2>&1); echo "proxy code=$? $out" | head -c 300; echo` + "\n")
	return s.String()
}

// checkOutsider fails t for every line of outsiderScript's output in which
// something answered.
func checkOutsider(t *testing.T, from, out string, targets int) {
	t.Helper()
	lines := 0
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if !strings.Contains(line, " code=") {
			continue
		}
		lines++
		if !strings.Contains(line, " code=1 ") || strings.Contains(line, "token accepted") {
			t.Errorf("from %s, something answered: %s", from, line)
		} else {
			t.Logf("from %s: %s", from, line)
		}
	}
	if lines != targets+1 {
		t.Errorf("from %s: %d results for %d targets and the proxy:\n%s", from, lines, targets, out)
	}
}

// TestContainersBesideTheBottleCannotUseTheSidecars is the attack of a
// container someone attaches to one of the bottle's networks: on the
// egress network (beside egress and git-gate, as the demo's upstreams
// are) and on the internal network itself (the agent's subnet, but not
// the agent), every sidecar listener resets it without a byte, and egress
// injects no token for it.
func TestContainersBesideTheBottleCannotUseTheSidecars(t *testing.T) {
	a, _ := bottles(t)
	ca := contract.BottleDir(a.Dir).Path(contract.BottleCACertFile)
	for _, network := range []string{"egress", "internal"} {
		targets := sidecarAddrs(t, a, network)
		proxy := ip(t, a, "egress", network) + ":8888"
		out := dockerOut(t, nil, "run", "--rm", "--network", a.Project+"_"+network,
			"-v", ca+":/bottle-ca.crt:ro", demo.Image("agent-test", tag), "sh", "-c", outsiderScript(targets, proxy))
		checkOutsider(t, "a container on the "+network+" network", out, len(targets))
	}
}

// TestAgentStillUsesItsSidecars: the agent, whose connections come from
// agent-net's address, still gets answers from egress's proxy, git-gate
// and supervise, and supervise (allowed on egress's admin port) still
// lists the routes for it; egress's admin port itself refuses the agent.
func TestAgentStillUsesItsSidecars(t *testing.T) {
	a, _ := bottles(t)
	for _, tc := range []struct {
		name, script, want string
	}{
		{"egress proxy", `probe http --timeout 10s -H "Authorization: Bearer $` + demo.TokenEnv + `" https://` + demo.APIHost + `/v1/whoami`, "token accepted"},
		{"git-gate", `git ls-remote http://git-gate:9420/` + demo.RepoName + `.git`, "refs/heads/main"},
		{"supervise", `probe http --timeout 10s http://supervise:9100/healthz`, "HTTP 200"},
		{"supervise reads egress's routes", mcpScript("list-egress-routes", `{}`), demo.APIHost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := agent(t, a, tc.script)
			if r.Code != 0 || !strings.Contains(r.Stdout, tc.want) {
				t.Errorf("exit %d, want %q in:\n%s%s", r.Code, tc.want, r.Stdout, r.Stderr)
			}
		})
	}
	r := agent(t, a, "HTTP_PROXY= http_proxy= probe http --timeout 5s http://egress:9901/routes")
	if r.Code != 1 || strings.Contains(r.Stdout, "HTTP ") {
		t.Errorf("egress's admin port answered the agent (exit %d):\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
}
