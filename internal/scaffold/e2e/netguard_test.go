package e2e

import (
	"context"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/host/demo"
)

// watchScript runs in the agent until /tmp/stop-watch appears (or a
// minute passes): round after round it tries each target directly and
// looks for a default route, printing "OPEN <target>" or "DEFAULT ROUTE"
// for any that works, and counts rounds in /tmp/watch-rounds.
func watchScript(targets []string) string {
	return `rm -f /tmp/stop-watch; n=0; end=$(( $(date +%s) + 60 ))
while [ ! -e /tmp/stop-watch ] && [ $(date +%s) -lt $end ]; do
  for t in ` + strings.Join(targets, " ") + `; do
    probe tcp $t --timeout 500ms >/dev/null 2>&1 && echo "OPEN $t"
  done
  ip route | grep -q '^default' && echo "DEFAULT ROUTE"
  n=$((n+1)); echo $n > /tmp/watch-rounds
done
echo "rounds=$n"`
}

// watcher is watchScript running in an agent.
type watcher struct {
	b    *demo.Bottle
	done chan demo.Result
}

func startWatch(t *testing.T, b *demo.Bottle, targets []string) *watcher {
	t.Helper()
	w := &watcher{b: b, done: make(chan demo.Result, 1)}
	go func() {
		r, err := b.Agent(context.Background(), watchScript(targets))
		if err != nil {
			r.Stderr += err.Error()
		}
		w.done <- r
	}()
	waitUntil(t, b, "the watcher's first round", func() bool { return w.rounds(t) > 0 })
	return w
}

// rounds is how many rounds the watcher has finished.
func (w *watcher) rounds(t *testing.T) int {
	r := agent(t, w.b, "cat /tmp/watch-rounds 2>/dev/null || echo 0")
	n, _ := strconv.Atoi(strings.TrimSpace(r.Stdout))
	return n
}

// stop lets the watcher finish one more round, stops it and fails t if
// it ever found a way out.
func (w *watcher) stop(t *testing.T) {
	t.Helper()
	now := w.rounds(t)
	waitUntil(t, w.b, "the watcher's next round", func() bool { return w.rounds(t) > now+1 })
	agent(t, w.b, "touch /tmp/stop-watch")
	var r demo.Result
	select {
	case r = <-w.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the watcher did not stop")
	}
	t.Logf("watcher: %s", strings.TrimSpace(r.Stdout+r.Stderr))
	if strings.Contains(r.Stdout, "OPEN") || strings.Contains(r.Stdout, "DEFAULT ROUTE") {
		t.Errorf("the agent had a way out:\n%s", r.Stdout)
	}
	if !strings.Contains(r.Stdout, "rounds=") {
		t.Errorf("the watcher did not finish:\n%s%s", r.Stdout, r.Stderr)
	}
}

// waitUntil polls cond every 250ms for up to 30s.
func waitUntil(t *testing.T, b *demo.Bottle, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > 30*time.Second {
			logs, _ := b.ComposeOutput(context.Background(), "logs", "--no-color", "--tail", "20", "netguard", "agent-net")
			t.Fatalf("%s: not within 30s\n%s", what, logs)
		}
		time.Sleep(250 * time.Millisecond)
	}
	return time.Since(start)
}

// TestNetguardDownNeitherStrandsNorFreesTheAgent takes netguard down
// twice: killed the way a crash would be (Docker's restart policy, not
// compose, brings it back), then stopped for a while and started again.
// The agent's namespace belongs to agent-net, which stays up, so within
// 30 s (in fact at once) the agent again makes an allowed call through
// egress; and at no moment, before, while netguard is down, or after,
// does it have a default route or a direct connection to the host or the
// outside: a watcher inside the agent's namespace tries them round after
// round, and a host listener counts what reaches it.
func TestNetguardDownNeitherStrandsNorFreesTheAgent(t *testing.T) {
	a, _ := bottles(t)
	allowed := `probe http --timeout 3s -H "Authorization: Bearer $` + demo.TokenEnv + `" https://` + demo.APIHost + `/v1/whoami`
	works := func() bool {
		r := agent(t, a, allowed)
		return r.Code == 0 && strings.Contains(r.Stdout, "token accepted")
	}
	if !works() {
		t.Fatal("control: the allowed call fails before netguard was touched")
	}
	port, accepted := hostListener(t)
	targets := []string{gateway(t, a, "internal") + ":" + port, gateway(t, a, "egress") + ":" + port, "198.51.100.1:443"}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, ad := range addrs {
		if n, ok := ad.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			targets = append(targets, n.IP.String()+":"+port)
		}
	}
	id := containerID(t, a, "netguard")
	inspect := func(format string) string {
		return strings.TrimSpace(dockerOut(t, nil, "inspect", "-f", format, id))
	}
	healthy := func() bool { return inspect("{{.State.Status}} {{.State.Health.Status}}") == "running healthy" }

	t.Run("killed, restarted by Docker", func(t *testing.T) {
		w := startWatch(t, a, targets)
		restarts := inspect("{{.RestartCount}}")
		pid, _ := strconv.Atoi(inspect("{{.State.Pid}}"))
		if pid == 0 {
			t.Fatalf("no netguard process to kill (state %s)", inspect("{{.State.Status}}"))
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill netguard (pid %d): %v", pid, err)
		}
		back := waitUntil(t, a, "the agent's allowed call after netguard was killed", works)
		t.Logf("the agent made the allowed call %v after the kill", back.Round(time.Millisecond))
		waitUntil(t, a, "netguard restarted and healthy", func() bool { return inspect("{{.RestartCount}}") != restarts && healthy() })
		w.stop(t)
	})

	t.Run("stopped, then started", func(t *testing.T) {
		w := startWatch(t, a, targets)
		dockerOut(t, nil, "stop", "-t", "1", id)
		if s := inspect("{{.State.Status}}"); s == "running" {
			t.Fatalf("netguard is %s after docker stop", s)
		}
		if !works() {
			t.Error("with netguard down, the agent cannot make the allowed call")
		}
		if r := agent(t, a, "ip route"); strings.Contains(r.Stdout, "default") || !strings.Contains(r.Stdout, "prohibit") {
			t.Errorf("with netguard down, the agent's routes are not locked:\n%s", r.Stdout)
		}
		down := w.rounds(t)
		waitUntil(t, a, "two watcher rounds with netguard down", func() bool { return w.rounds(t) > down+1 })
		dockerOut(t, nil, "start", id)
		waitUntil(t, a, "netguard healthy again", healthy)
		w.stop(t)
	})

	if n := accepted.Load(); n != 0 {
		t.Errorf("the host listener accepted %d connections from the agent", n)
	}
	if r := agent(t, a, "ip route"); strings.Contains(r.Stdout, "default") {
		t.Errorf("the agent has a default route afterwards:\n%s", r.Stdout)
	}
	for _, target := range targets[:3] {
		if ok, said := tcpFrom(t, a, target); ok {
			t.Errorf("afterwards the agent reached %s", target)
		} else {
			t.Logf("%s: %s", target, said)
		}
	}
	if !works() || !healthy() {
		t.Errorf("the bottle is not back: allowed call works %v, netguard %s", works(), inspect("{{.State.Status}} {{.State.Health.Status}}"))
	}
}
