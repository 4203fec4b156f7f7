package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/host/demo"
	"github.com/bot-bottle/bot-bottle/internal/host/render"
	"github.com/bot-bottle/bot-bottle/internal/shared/queue"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// The two bottles every test shares. A runs beside the demo's pretend
// internet (an HTTPS API that wants a token, an SSH git upstream); B is the
// rendered project alone, started with a bare "docker compose up" in its
// directory, as an operator would. Their names are unique to this run, so
// two runs (two clones, CI beside a developer) never touch each other's.
var (
	runID = strconv.FormatInt(time.Now().UnixNano()%(36*36*36*36*36), 36)
	slugA = "e2e-a-" + runID
	slugB = "e2e-b-" + runID
)

const tag = render.DefaultImageTag

var shared struct {
	once sync.Once
	work string
	a, b *demo.Bottle
	err  error
	down atomic.Bool
}

func TestMain(m *testing.M) {
	code := m.Run()
	if err := teardown(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: teardown: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// bottles starts A and B once (building the images first) and returns
// them; without a Docker engine the test is skipped.
func bottles(t *testing.T) (a, b *demo.Bottle) {
	t.Helper()
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		t.Skipf("no Docker engine reachable (docker info: %v: %s); the end-to-end tests need one", err, bytes.TrimSpace(out))
	}
	if err := exec.Command("docker", "compose", "version").Run(); err != nil {
		t.Fatalf("docker compose v2 is missing (%v); run `make compose-plugin`", err)
	}
	shared.once.Do(func() { shared.err = setup() })
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	if shared.down.Load() {
		t.Fatal("the bottles were already taken down")
	}
	return shared.a, shared.b
}

func setup() error {
	start := time.Now()
	build := exec.Command("bash", append([]string{"../../../images/build.sh", "--tag", tag}, demo.ImageNames...)...)
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("images/build.sh: %v\n%s", err, out)
	}
	fmt.Fprintf(os.Stderr, "e2e: images ready in %v\n", time.Since(start).Round(time.Millisecond))
	work, err := os.MkdirTemp("", "bot-bottle-e2e-")
	if err != nil {
		return err
	}
	shared.work = work
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	var errA, errB error
	up := func(slug string, plain bool, dst **demo.Bottle, errp *error) {
		defer wg.Done()
		dir := filepath.Join(work, slug)
		if err := os.Mkdir(dir, 0o700); err != nil {
			*errp = err
			return
		}
		*dst, *errp = demo.Up(ctx, demo.Config{Slug: slug, WorkDir: dir, ImageTag: tag, Plain: plain})
	}
	wg.Add(2)
	go up(slugA, false, &shared.a, &errA)
	go up(slugB, true, &shared.b, &errB)
	wg.Wait()
	fmt.Fprintf(os.Stderr, "e2e: bottles up in %v\n", time.Since(start).Round(time.Millisecond))
	return errors.Join(errA, errB)
}

// teardown takes the bottles down unless a test already did, and always
// removes the work directory (it holds the demo's keys and tokens).
func teardown() error {
	var errs []error
	if !shared.down.Swap(true) {
		for _, b := range []*demo.Bottle{shared.a, shared.b} {
			if b != nil {
				errs = append(errs, b.Down(context.Background()))
			}
		}
	}
	if shared.work != "" {
		errs = append(errs, os.RemoveAll(shared.work))
		shared.work = ""
	}
	return errors.Join(errs...)
}

// ---- helpers ----------------------------------------------------------------

// agent runs a shell script in b's agent container as its user.
func agent(t *testing.T, b *demo.Bottle, script string) demo.Result {
	t.Helper()
	r, err := b.Agent(context.Background(), script)
	if err != nil {
		t.Fatalf("exec in %s's agent: %v", b.Slug, err)
	}
	return r
}

// dockerOut runs the docker CLI and returns its standard output.
func dockerOut(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	cmd := exec.Command("docker", args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("docker %s: %v", strings.Join(args, " "), err)
		}
		t.Logf("docker %s: exit %d\n%s%s", strings.Join(args, " "), ee.ExitCode(), out.String(), errb.String())
	}
	return out.String()
}

func containerID(t *testing.T, b *demo.Bottle, service string) string {
	t.Helper()
	id, err := b.ContainerID(context.Background(), service)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// ip is service's address on one of b's networks ("internal", "egress").
func ip(t *testing.T, b *demo.Bottle, service, network string) string {
	t.Helper()
	addr, err := b.IP(context.Background(), service, network)
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// gateway is the gateway address of b's network.
func gateway(t *testing.T, b *demo.Bottle, network string) string {
	t.Helper()
	name := b.Project + "_" + network
	gw := strings.Fields(dockerOut(t, nil, "network", "inspect", "-f", "{{range .IPAM.Config}}{{.Gateway}} {{end}}", name))
	if len(gw) == 0 {
		t.Fatalf("network %s has no gateway", name)
	}
	return gw[0]
}

// hostListener listens on every host address and counts the connections
// it accepts, reading and discarding what they send.
func hostListener(t *testing.T) (port string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted = new(atomic.Int64)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			go func() {
				defer c.Close()
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	return strconv.Itoa(ln.Addr().(*net.TCPAddr).Port), accepted
}

// tcpFrom tries a direct TCP connection from b's agent (no proxy) and
// reports whether it connected, with what the probe said.
func tcpFrom(t *testing.T, b *demo.Bottle, addr string) (bool, string) {
	t.Helper()
	r := agent(t, b, "probe tcp "+addr+" --timeout 2s")
	return r.Code == 0, strings.TrimSpace(r.Stdout + r.Stderr)
}

// secretNeedles are the lines of b's secrets that would give one away: a
// token's value, each base64 line of a key. The agent must hold none.
func secretNeedles(b *demo.Bottle) map[string]string {
	// A private key's PEM also carries its public key, and the bottle CA's
	// certificate carries the same public key: a base64 line the two share
	// (as the serial's and slug's lengths happen to align them) is public.
	public := map[string]bool{}
	if crt, err := os.ReadFile(contract.BottleDir(b.Dir).Path(contract.BottleCACertFile)); err == nil {
		for _, line := range strings.Split(string(crt), "\n") {
			public[strings.TrimSpace(line)] = true
		}
	}
	needles := map[string]string{}
	for name, data := range b.Secrets {
		if strings.HasPrefix(name, "known_hosts") {
			continue // a public host key, kept beside the secrets
		}
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if len(line) >= 16 && !strings.HasPrefix(line, "-----") && !public[line] {
				needles[line] = name
			}
		}
	}
	return needles
}

// ---- the tests --------------------------------------------------------------

// TestDemoStepsBehave runs the narrated demo inside bottle A: the token
// is only a placeholder in the agent and is injected by egress, an
// undeclared host and a request with a secret are refused, a clean push
// lands upstream through the gate and one with a secret does not, and a
// direct connection goes nowhere.
func TestDemoStepsBehave(t *testing.T) {
	a, _ := bottles(t)
	var out bytes.Buffer
	err := demo.Narrate(context.Background(), a, &out)
	t.Logf("transcript:\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
}

// TestAgentReachesOnlyItsSidecars: from the agent, the sidecars answer on
// their ports; the demo upstreams, which sit on the egress network, do not,
// by name or by address.
func TestAgentReachesOnlyItsSidecars(t *testing.T) {
	a, _ := bottles(t)
	for _, addr := range []string{"egress:8888", "git-gate:9420", "supervise:9100"} {
		if ok, said := tcpFrom(t, a, addr); !ok {
			t.Errorf("the agent cannot reach its sidecar %s: %s", addr, said)
		}
	}
	for _, target := range []struct{ service, port string }{{"api", "443"}, {"git-upstream", "2222"}} {
		addr := ip(t, a, target.service, "egress") + ":" + target.port
		if ok, said := tcpFrom(t, a, addr); ok {
			t.Errorf("the agent connected straight to the upstream %s at %s", target.service, addr)
		} else {
			t.Logf("%s (%s): %s", target.service, addr, said)
		}
	}
	// The same upstream through egress is refused unless declared: the
	// API's address is not a declared host.
	api := ip(t, a, "api", "egress")
	r := agent(t, a, "probe http --timeout 5s https://"+api+"/v1/whoami")
	if r.Code == 0 || !strings.Contains(r.Stdout, "HTTP 403") {
		t.Errorf("egress let the agent reach the API by address (exit %d):\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
}

// TestAgentCannotReachTheHost: a listener on every host address is
// reachable from an ordinary container on the bottle's egress network (the
// control), and from the agent on none of the gateways or host addresses.
func TestAgentCannotReachTheHost(t *testing.T) {
	a, _ := bottles(t)
	port, accepted := hostListener(t)
	egressGW := gateway(t, a, "egress")
	control := dockerOut(t, nil, "run", "--rm", "--network", a.Project+"_egress", demo.Image("agent-test", tag),
		"probe", "tcp", egressGW+":"+port, "--timeout", "3s")
	if !strings.Contains(control, "connected") || accepted.Load() == 0 {
		t.Fatalf("control: a container on the egress network could not reach the host listener at %s:%s (%q); the test proves nothing", egressGW, port, control)
	}
	before := accepted.Load()
	// The bottle's gateways, and every address of the host's own: docker0,
	// the other bridges' gateways, the machine's interfaces.
	targets := []string{gateway(t, a, "internal"), egressGW}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, ad := range addrs {
		if n, ok := ad.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			targets = append(targets, n.IP.String())
		}
	}
	for _, host := range targets {
		if ok, said := tcpFrom(t, a, host+":"+port); ok {
			t.Errorf("the agent reached the host at %s:%s", host, port)
		} else {
			t.Logf("host %s: %s", host, said)
		}
	}
	if n := accepted.Load() - before; n != 0 {
		t.Errorf("the host listener accepted %d connections from the agent", n)
	}
}

// TestNoExternalDNS: the sidecars' names resolve in the agent; external
// names, and the upstreams' names on the egress network, do not.
func TestNoExternalDNS(t *testing.T) {
	a, _ := bottles(t)
	if r := agent(t, a, "probe dns egress"); r.Code != 0 {
		t.Fatalf("control: the agent cannot resolve egress: %s%s", r.Stdout, r.Stderr)
	}
	for _, name := range []string{"example.com", "bot-bottle-exfil.example.org", demo.APIHost, demo.GitHost} {
		r := agent(t, a, "probe dns --timeout 3s "+name)
		if r.Code == 0 {
			t.Errorf("the agent resolved %s: %s", name, r.Stdout)
		} else {
			t.Logf("%s: %s", name, strings.TrimSpace(r.Stderr))
		}
	}
}

// TestNoDNSLeavesTheBottle captures every packet on every interface of the
// host's network namespace (the bridges, the veths, the uplink) while the
// agent looks up a name no one else uses: no packet may carry it, so no
// query left the agent's namespace, to the host's resolver or anywhere.
// The control sends a marker from an ordinary container on the bottle's
// egress network, which the capture must see.
func TestNoDNSLeavesTheBottle(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("capturing packets needs root")
	}
	a, _ := bottles(t)
	leak, control := "leak-"+runID, "control-"+runID
	port, _ := hostListener(t)
	stop := sniff(t, leak, control)
	dockerOut(t, nil, "run", "--rm", "--network", a.Project+"_egress", demo.Image("agent-test", tag),
		"sh", "-c", "echo "+control+" | nc -w 2 "+gateway(t, a, "egress")+" "+port)
	r := agent(t, a, "probe dns --timeout 3s "+leak+".example.com; probe dns --timeout 3s "+leak+".egress")
	t.Logf("agent: %s", strings.TrimSpace(r.Stdout+r.Stderr))
	time.Sleep(time.Second) // let the capture drain
	seen := stop()
	if !seen[control] {
		t.Fatal("control: the capture did not see the marker a container sent over the bottle's egress bridge; the test proves nothing")
	}
	if seen[leak] {
		t.Errorf("a packet carrying the agent's lookup of %s.example.com was seen outside the agent's namespace", leak)
	}
}

// sniff captures packets on every interface of this network namespace
// (AF_PACKET, ETH_P_ALL) until the returned stop is called, and reports
// which markers any packet carried.
func sniff(t *testing.T, markers ...string) (stop func() map[string]bool) {
	t.Helper()
	const ethPAll = 0x0003
	proto := int(ethPAll>>8 | (ethPAll&0xff)<<8) // htons
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_RAW, proto)
	if err != nil {
		t.Fatalf("packet socket: %v", err)
	}
	tv := syscall.Timeval{Usec: 200_000}
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		syscall.Close(fd)
		t.Fatalf("packet socket timeout: %v", err)
	}
	var (
		mu      sync.Mutex
		seen    = map[string]bool{}
		done    atomic.Bool
		stopped = make(chan struct{})
	)
	go func() {
		defer close(stopped)
		buf := make([]byte, 1<<16)
		for !done.Load() {
			n, _, err := syscall.Recvfrom(fd, buf, 0)
			if err != nil || n <= 0 {
				continue // the timeout, to look at done
			}
			for _, m := range markers {
				if bytes.Contains(buf[:n], []byte(m)) {
					mu.Lock()
					seen[m] = true
					mu.Unlock()
				}
			}
		}
	}()
	return func() map[string]bool {
		done.Store(true)
		<-stopped
		syscall.Close(fd)
		mu.Lock()
		defer mu.Unlock()
		return seen
	}
}

// TestNoSecretsInTheAgent searches the agent's files, environment and
// every process's environ and command line, as the agent and as root in
// its container, for the bottle's secrets (token, CA key, SSH key) and for
// any PEM private key. A canary value planted in the agent must be found:
// the search works where it runs.
func TestNoSecretsInTheAgent(t *testing.T) {
	a, _ := bottles(t)
	id := containerID(t, a, "agent")
	canary := "canary-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	dockerOut(t, nil, "exec", id, "sh", "-c", "echo "+canary+" > /tmp/canary.txt")
	var values bytes.Buffer
	values.WriteString(canary + "\n")
	for v := range secretNeedles(a) {
		values.WriteString(v + "\n")
	}
	if values.Len() < 100 {
		t.Fatalf("too few secret values to search for: %d bytes", values.Len())
	}
	for _, user := range []string{"1000:1000", "0:0"} {
		out := dockerOut(t, values.Bytes(), "exec", "-i", "-u", user, id, "probe", "secrets", "--values-file", "-", "--pem")
		t.Logf("as %s:\n%s", user, out)
		if !strings.Contains(out, "/tmp/canary.txt") {
			t.Errorf("as %s the canary was not found: the search is broken", user)
		}
		if !strings.Contains(out, ": 1 findings") {
			t.Errorf("as %s the search found more than the canary", user)
		}
	}
}

// TestNoSecretsInInspectOrProject: docker inspect of every container of
// both bottles, the compose file, what docker compose makes of it, and the
// agent's env file hold no secret value; the secrets directory (the
// control) does.
func TestNoSecretsInInspectOrProject(t *testing.T) {
	a, b := bottles(t)
	for _, bt := range []*demo.Bottle{a, b} {
		needles := secretNeedles(bt)
		if len(needles) < 3 {
			t.Fatalf("%s: only %d secret lines to look for", bt.Slug, len(needles))
		}
		texts := map[string]string{}
		ids := strings.Fields(dockerOut(t, nil, "ps", "-aq", "--filter", "label=com.docker.compose.project="+bt.Project))
		if len(ids) < 4 {
			t.Fatalf("%s: only %d containers", bt.Slug, len(ids))
		}
		for _, id := range ids {
			texts["docker inspect "+id] = dockerOut(t, nil, "inspect", id)
		}
		for _, f := range []string{contract.BottleComposeFile, contract.BottleAgentEnvFile, contract.BottleReadmeFile} { // agent.env may not exist
			data, err := os.ReadFile(filepath.Join(bt.Dir, f))
			if err != nil && !errors.Is(err, os.ErrNotExist) {
				t.Fatal(err)
			}
			texts[f] = string(data)
		}
		cfg, err := bt.ComposeOutput(context.Background(), "config")
		if err != nil {
			t.Fatalf("docker compose config: %v\n%s", err, cfg)
		}
		texts["docker compose config"] = cfg
		for where, text := range texts {
			for needle, secret := range needles {
				if strings.Contains(text, needle) {
					t.Errorf("%s: %s holds part of the secret %s", bt.Slug, where, secret)
				}
			}
		}
		// Control: what was searched is the real thing. The egress
		// container's inspect names where its secrets are mounted (never
		// their values), and compose.yaml and its config declare them.
		all := strings.Join(slices.Collect(maps.Values(texts)), "\n")
		for _, want := range []string{"/run/secrets/ca_key", "file: ./secrets/ca_key", "ca_key:"} {
			if !strings.Contains(all, want) {
				t.Errorf("control: %s: nothing searched mentions %q; the search looked at the wrong texts", bt.Slug, want)
			}
		}
	}
}

// TestBottlesCannotReachEachOther: each bottle's agent reaches its own
// egress by address (the control) and none of the other bottle's sidecars
// on any of their addresses.
func TestBottlesCannotReachEachOther(t *testing.T) {
	a, b := bottles(t)
	ports := map[string]string{"egress": "8888", "git-gate": "9420", "supervise": "9100"}
	for _, pair := range [][2]*demo.Bottle{{a, b}, {b, a}} {
		from, to := pair[0], pair[1]
		own := ip(t, from, "egress", "internal") + ":8888"
		if ok, said := tcpFrom(t, from, own); !ok {
			t.Fatalf("control: %s's agent cannot reach its own egress at %s: %s", from.Slug, own, said)
		}
		for service, port := range ports {
			for _, network := range []string{"internal", "egress"} {
				if service == "supervise" && network == "egress" {
					continue // supervise is on the internal network only
				}
				addr := ip(t, to, service, network) + ":" + port
				if ok, _ := tcpFrom(t, from, addr); ok {
					t.Errorf("%s's agent reached %s's %s at %s (%s network)", from.Slug, to.Slug, service, addr, network)
				}
			}
		}
		other := ip(t, to, "agent-net", "internal") + ":1"
		if ok, _ := tcpFrom(t, from, other); ok {
			t.Errorf("%s's agent reached %s's agent namespace at %s", from.Slug, to.Slug, other)
		}
	}
}

// TestEgressRecovers kills the egress daemon inside its container
// (sidecar-init restarts it), then the container's PID 1 (Docker's restart
// policy restarts the container); after each the agent's allowed call
// works again.
func TestEgressRecovers(t *testing.T) {
	a, _ := bottles(t)
	allowed := `probe http --timeout 5s -H "Authorization: Bearer $` + demo.TokenEnv + `" https://` + demo.APIHost + `/v1/whoami`
	works := func() bool {
		r := agent(t, a, allowed)
		return r.Code == 0 && strings.Contains(r.Stdout, "token accepted")
	}
	waitWorks := func(after string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for !works() {
			if time.Now().After(deadline) {
				logs, _ := a.ComposeOutput(context.Background(), "logs", "--no-color", "--tail", "30", "egress")
				t.Fatalf("the allowed call still fails 60s after %s; egress logs:\n%s", after, logs)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	if !works() {
		t.Fatal("control: the allowed call fails before anything was killed")
	}
	id := containerID(t, a, "egress")
	pid := func(cmd string) int {
		t.Helper()
		for _, line := range strings.Split(dockerOut(t, nil, "top", id, "-o", "pid,args"), "\n") {
			f := strings.Fields(line)
			if len(f) >= 2 && f[1] == cmd {
				n, _ := strconv.Atoi(f[0])
				return n
			}
		}
		return 0
	}
	kill := func(cmd string) int {
		t.Helper()
		n := pid(cmd)
		if n == 0 {
			t.Fatalf("no %s process in the egress container:\n%s", cmd, dockerOut(t, nil, "top", id))
		}
		if err := syscall.Kill(n, syscall.SIGKILL); err != nil {
			t.Fatalf("kill %s (pid %d): %v", cmd, n, err)
		}
		return n
	}
	daemon := kill("/usr/local/bin/egress")
	waitWorks("egress was killed")
	if now := pid("/usr/local/bin/egress"); now == 0 || now == daemon {
		t.Errorf("egress pid %d after the kill, was %d: not restarted by sidecar-init", now, daemon)
	}

	started := strings.TrimSpace(dockerOut(t, nil, "inspect", "-f", "{{.State.StartedAt}}", id))
	kill("/usr/local/bin/sidecar-init")
	waitWorks("the egress container's PID 1 was killed")
	if now := strings.TrimSpace(dockerOut(t, nil, "inspect", "-f", "{{.State.StartedAt}}", id)); now == started {
		t.Errorf("the egress container was not restarted (started at %s)", now)
	}
}

// mcpScript is what an agent's MCP client does, by hand: initialize over
// streamable HTTP (protocol 2025-06-18), keep the session id, send
// notifications/initialized, call tool with the JSON arguments args. It
// prints the tool call's answer.
func mcpScript(tool, args string) string {
	return `set -e
u=http://supervise:9100/mcp
mcp() { probe http -i --timeout 90s -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' -H 'Mcp-Protocol-Version: 2025-06-18' "$@" $u; }
sid=$(mcp -d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e","version":"1"}}}' | sed -n 's/^Mcp-Session-Id: *//p')
[ -n "$sid" ] || { echo "no Mcp-Session-Id from initialize" >&2; exit 9; }
mcp -H "Mcp-Session-Id: $sid" -d '{"jsonrpc":"2.0","method":"notifications/initialized"}' >/dev/null
mcp -H "Mcp-Session-Id: $sid" -d '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"` + tool + `","arguments":` + args + `}}'
`
}

// TestAgentProposesOperatorDecides: the agent asks supervise for a new
// host over MCP; the proposal lands in the project's queue directory on
// the host (the bind mount), where the operator's side reads it and writes
// an approval, which the waiting tool call returns to the agent.
func TestAgentProposesOperatorDecides(t *testing.T) {
	a, _ := bottles(t)
	type answer struct {
		r   demo.Result
		err error
	}
	done := make(chan answer, 1)
	go func() {
		r, err := a.Agent(context.Background(), mcpScript("egress-block", `{"host":"docs.example.test","reason":"the e2e agent needs the docs"}`))
		done <- answer{r, err}
	}()
	q := queue.Queue{Dir: contract.BottleDir(a.Dir).QueueDir()}
	var entry *queue.Entry
	deadline := time.Now().Add(20 * time.Second)
	for entry == nil {
		select {
		case ans := <-done:
			t.Fatalf("the tool call ended before the operator decided (exit %d, %v):\n%s%s", ans.r.Code, ans.err, ans.r.Stdout, ans.r.Stderr)
		default:
		}
		entries, err := q.List()
		if err != nil {
			t.Fatalf("the operator cannot read the queue: %v", err)
		}
		if len(entries) > 0 {
			entry = entries[len(entries)-1]
			break
		}
		if time.Now().After(deadline) {
			logs, _ := a.ComposeOutput(context.Background(), "logs", "--no-color", "--tail", "20", "supervise")
			t.Fatalf("no proposal reached %s within 20s; supervise logs:\n%s", q.Dir, logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	p := entry.Proposal
	if p.Bottle != a.Slug || p.Tool != "egress-block" || !strings.Contains(string(p.Payload), "docs.example.test") {
		t.Errorf("proposal = bottle %q tool %q payload %s", p.Bottle, p.Tool, p.Payload)
	}
	notes := "approved by the e2e operator"
	if err := q.Respond(&contract.Response{Version: contract.Version, ID: p.ID, Status: contract.StatusApproved, Notes: notes, DecidedAt: time.Now().UTC()}); err != nil {
		t.Fatalf("respond: %v", err)
	}
	var ans answer
	select {
	case ans = <-done:
	case <-time.After(90 * time.Second):
		t.Fatal("the agent's tool call did not return within 90s of the decision")
	}
	if ans.err != nil || ans.r.Code != 0 {
		t.Fatalf("the MCP exchange failed (exit %d, %v):\n%s%s", ans.r.Code, ans.err, ans.r.Stdout, ans.r.Stderr)
	}
	if !strings.Contains(ans.r.Stdout, "approved") || !strings.Contains(ans.r.Stdout, notes) {
		t.Errorf("the agent was not told of the approval:\n%s", ans.r.Stdout)
	}
}
