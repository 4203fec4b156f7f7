package netguard

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
)

// effectiveHasNetAdmin reads CAP_NET_ADMIN from /proc/self/status.
func effectiveHasNetAdmin(t *testing.T) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			caps, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if err != nil {
				t.Fatal(err)
			}
			return caps&(1<<unix.CAP_NET_ADMIN) != 0
		}
	}
	t.Fatal("no CapEff line")
	return false
}

// testNS is a fresh network namespace shaped like a container's on a
// Docker internal network: ng0 (a veth whose peer ng1 sits in the same
// namespace, so nothing leaves it) holds 10.200.0.2/24, the "bridge
// gateway" is 10.200.0.1, and a second route goes through 10.200.0.254.
type testNS struct {
	ns netns.NsHandle
	h  *netlink.Handle
}

func newTestNS(t *testing.T) *testNS {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace (run the tests as root, e.g. in CI)")
	}
	ns, err := func() (netns.NsHandle, error) {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		orig, err := netns.Get()
		if err != nil {
			return 0, err
		}
		defer orig.Close()
		ns, err := netns.New() // moves this thread into it
		if err != nil {
			return 0, err
		}
		if err := netns.Set(orig); err != nil {
			ns.Close()
			return 0, err
		}
		return ns, nil
	}()
	if err != nil {
		t.Skipf("cannot create a network namespace here (needs CAP_SYS_ADMIN and unshare): %v", err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		t.Fatalf("netlink in the namespace: %v", err)
	}
	t.Cleanup(func() { h.Close(); ns.Close() })
	tn := &testNS{ns: ns, h: h}
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "ng0"}, PeerName: "ng1"}
	if err := h.LinkAdd(veth); err != nil {
		t.Skipf("cannot create a veth pair here: %v", err)
	}
	for _, name := range []string{"lo", "ng0", "ng1"} {
		l, err := h.LinkByName(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.LinkSetUp(l); err != nil {
			t.Fatal(err)
		}
	}
	ng0, _ := h.LinkByName("ng0")
	if err := h.AddrAdd(ng0, &netlink.Addr{IPNet: &net.IPNet{IP: net.ParseIP("10.200.0.2"), Mask: net.CIDRMask(24, 32)}}); err != nil {
		t.Fatal(err)
	}
	tn.addRoute(t, &netlink.Route{LinkIndex: ng0.Attrs().Index, Gw: net.ParseIP("10.200.0.1")})
	tn.addRoute(t, &netlink.Route{LinkIndex: ng0.Attrs().Index, Dst: cidr("10.201.0.0/16"), Gw: net.ParseIP("10.200.0.254")})
	return tn
}

func (tn *testNS) addRoute(t *testing.T, r *netlink.Route) {
	t.Helper()
	if err := tn.h.RouteAdd(r); err != nil {
		t.Fatalf("add route %s: %v", Describe(*r, nil), err)
	}
}

// routes returns the namespace's IPv4 main table as Describe lines.
func (tn *testNS) routes(t *testing.T) []string {
	t.Helper()
	rs, err := tn.h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		t.Fatal(err)
	}
	names := linkNames(tn.h)
	var out []string
	for _, r := range rs {
		out = append(out, Describe(r, names))
	}
	return out
}

// dial connects from inside the namespace. The addresses tried exist only
// in the namespace or are refused by its routing table: nothing leaves it.
func (tn *testNS) dial(t *testing.T, addr string) error {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	if err := netns.Set(tn.ns); err != nil {
		t.Fatal(err)
	}
	defer netns.Set(orig)
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	return err
}

func (tn *testNS) deps() deps {
	return deps{ns: tn.ns, hasNetAdmin: func() (bool, error) { return true, nil }}
}

func has(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

// TestLocksANamespaceLikeDockers runs netguard against a real namespace:
// the gateway is prohibited, the default and gateway routes are gone, the
// on-link subnet stays, the healthcheck passes, and a default route added
// later (as Docker does when a network is connected) is removed again.
func TestLocksANamespaceLikeDockers(t *testing.T) {
	tn := newTestNS(t)
	var out bytes.Buffer
	if err := run(t.Context(), []string{"check"}, &out, &out, tn.deps()); err == nil {
		t.Fatalf("check passed before netguard ran:\n%s", out.String())
	}

	ctx, cancel := context.WithCancel(t.Context())
	logs := &testutil.SyncBuffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, logs, logs, tn.deps()) }()
	waitFor(t, "the lock-down log line", func() bool { return strings.Contains(logs.String(), "namespace locked") })

	routes := tn.routes(t)
	for _, want := range []string{"prohibit 10.200.0.1/32", "prohibit 10.200.0.254/32", "10.200.0.0/24 dev ng0"} {
		if !has(routes, want) {
			t.Errorf("routes lack %q: %q", want, routes)
		}
	}
	for _, r := range routes {
		if strings.Contains(r, "via") || strings.HasPrefix(r, "default") {
			t.Errorf("route %q survived", r)
		}
	}
	for _, want := range []string{`"prohibited":["prohibit 10.200.0.1/32","prohibit 10.200.0.254/32"]`,
		`"deleted":["default via 10.200.0.1 dev ng0","10.201.0.0/16 via 10.200.0.254 dev ng0"]`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %s:\n%s", want, logs.String())
		}
	}

	// What the agent sees: the gateway refused at once, anything off-link
	// unreachable (198.51.100.1 is TEST-NET-2), the subnet still routed.
	if err := tn.dial(t, "10.200.0.1:80"); !errors.Is(err, syscall.EACCES) {
		t.Errorf("dial gateway: %v, want permission denied", err)
	}
	if err := tn.dial(t, "198.51.100.1:80"); !errors.Is(err, syscall.ENETUNREACH) {
		t.Errorf("dial off-link: %v, want network is unreachable", err)
	}

	out.Reset()
	if err := run(t.Context(), []string{"check"}, &out, &out, tn.deps()); err != nil {
		t.Errorf("check after lock-down: %v", err)
	}

	// Docker re-adds a default route: netguard removes it again.
	ng0, _ := tn.h.LinkByName("ng0")
	tn.addRoute(t, &netlink.Route{LinkIndex: ng0.Attrs().Index, Gw: net.ParseIP("10.200.0.1")})
	waitFor(t, "the re-added default route to go", func() bool {
		for _, r := range tn.routes(t) {
			if strings.HasPrefix(r, "default") {
				return false
			}
		}
		return true
	})
	// netguard logs after it re-applied the rules: wait for the line too.
	waitFor(t, "the log line for the re-lock", func() bool {
		return strings.Contains(logs.String(), "locked again")
	})

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not return after its context ended")
	}

	// A restart finds the namespace locked and succeeds without changes.
	ctx2, cancel2 := context.WithCancel(t.Context())
	logs2 := &testutil.SyncBuffer{}
	go func() { done <- run(ctx2, nil, logs2, logs2, tn.deps()) }()
	waitFor(t, "the restart's log line", func() bool { return strings.Contains(logs2.String(), "namespace locked") })
	if !strings.Contains(logs2.String(), `"prohibited":null,"deleted":null`) {
		t.Errorf("restart changed something:\n%s", logs2.String())
	}
	cancel2()
	if err := <-done; err != nil {
		t.Errorf("restart: %v", err)
	}
}

func TestRefusesWithoutNetAdmin(t *testing.T) {
	tn := newTestNS(t)
	d := tn.deps()
	d.hasNetAdmin = func() (bool, error) { return false, nil }
	var out bytes.Buffer
	err := run(t.Context(), nil, &out, &out, d)
	if err == nil || !strings.Contains(err.Error(), "needs CAP_NET_ADMIN") {
		t.Fatalf("run = %v, want the CAP_NET_ADMIN refusal", err)
	}
	if routes := tn.routes(t); !has(routes, "default via 10.200.0.1 dev ng0") {
		t.Errorf("routes changed anyway: %q", routes)
	}
}

func TestFailsWhenThereIsNoGatewayToProhibit(t *testing.T) {
	tn := newTestNS(t)
	rs, _ := tn.h.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	for _, r := range rs {
		if r.Gw != nil {
			if err := tn.h.RouteDel(&r); err != nil {
				t.Fatal(err)
			}
		}
	}
	var out bytes.Buffer
	err := run(t.Context(), nil, &out, &out, tn.deps())
	if err == nil || !strings.Contains(err.Error(), "no gateway found") {
		t.Fatalf("run = %v, want the no-gateway error", err)
	}
}

// TestBinaryWithoutNetAdminRefuses runs the real binary with every
// capability dropped (setpriv, from util-linux), in a namespace of its own
// (unshare -n) so that even a wrongly kept capability touches no real route.
func TestBinaryWithoutNetAdminRefuses(t *testing.T) {
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("no setpriv (util-linux) to drop capabilities")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and unshare (util-linux) for a namespace of its own")
	}
	bin := testutil.BuildCommand(t, "github.com/bot-bottle/bot-bottle/cmd/netguard")
	cmd := exec.Command(unshare, "--net", "--", setpriv, "--inh-caps=-all", "--bounding-set=-all", "--", bin)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "needs CAP_NET_ADMIN") {
		t.Errorf("netguard without NET_ADMIN: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "--help").CombinedOutput(); err != nil || !strings.Contains(string(out), "netguard check") {
		t.Errorf("--help: %v\n%s", err, out)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
