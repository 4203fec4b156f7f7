package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/host/demo"
)

// agentCaps are the capability numbers (linux/capability.h) the agent
// container may hold, as compose's comment on the agent and the README
// document: none. A `docker exec -u 0` inherits the agent user's empty
// effective set, and no-new-privileges keeps execve from granting root
// more, so an added capability would serve no provisioning step.
var agentCaps []uint

// capMask is the /proc/PID/status hex mask of caps.
func capMask(caps []uint) uint64 {
	var m uint64
	for _, c := range caps {
		m |= 1 << c
	}
	return m
}

// capSets reads the Cap* lines of /proc/self/status as a process in b's
// agent running as user sees them.
func capSets(t *testing.T, b *demo.Bottle, user string) map[string]uint64 {
	t.Helper()
	out := dockerOut(t, nil, "exec", "-u", user, containerID(t, b, "agent"), "cat", "/proc/self/status")
	sets := map[string]uint64{}
	for _, line := range strings.Split(out, "\n") {
		name, v, ok := strings.Cut(line, ":")
		if !ok || !strings.HasPrefix(name, "Cap") {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		sets[name] = n
	}
	if len(sets) != 5 {
		t.Fatalf("as %s, /proc/self/status has %d Cap lines:\n%s", user, len(sets), out)
	}
	return sets
}

// TestAgentHoldsNoCapability: in both bottles, a process in the agent
// container, as the agent's user or as root through docker exec, holds
// exactly the documented capabilities (none) in every set, the bounding
// set included, so nothing it executes can gain one.
func TestAgentHoldsNoCapability(t *testing.T) {
	a, b := bottles(t)
	want := capMask(agentCaps)
	for _, bt := range []*demo.Bottle{a, b} {
		for _, user := range []string{"1000:1000", "0:0"} {
			for set, got := range capSets(t, bt, user) {
				if got != want {
					t.Errorf("%s, as %s: %s = %016x, want %016x", bt.Slug, user, set, got, want)
				}
			}
		}
		inspect := dockerOut(t, nil, "inspect", "-f", "{{json .HostConfig.CapAdd}} {{json .HostConfig.CapDrop}}", containerID(t, bt, "agent"))
		if strings.TrimSpace(inspect) != `null ["ALL"]` {
			t.Errorf("%s: agent cap_add, cap_drop = %s, want null [\"ALL\"]", bt.Slug, inspect)
		}
	}
}

// TestProvisioningNeedsNoCapability is what the coming `bot-bottle up`
// may rely on when it provisions the agent: root (docker exec -u 0)
// writes root's files (the CA trust store) by ownership, but can neither
// chown nor write into the agent's home; the agent's user writes its own
// home. So files for the agent are written as the agent.
func TestProvisioningNeedsNoCapability(t *testing.T) {
	a, _ := bottles(t)
	id := containerID(t, a, "agent")
	for _, tc := range []struct {
		name, user, script string
		ok                 bool
	}{
		{"root writes root's files", "0:0", "touch /etc/ssl/certs/e2e-provision && rm /etc/ssl/certs/e2e-provision", true},
		{"the agent writes its home", "1000:1000", "mkdir -p ~/.config/e2e && echo x > ~/.config/e2e/f && rm -r ~/.config/e2e", true},
		{"root cannot chown", "0:0", "touch /tmp/e2e-chown && chown 1000:1000 /tmp/e2e-chown", false},
		{"root cannot write the agent's home", "0:0", "touch /home/agent/e2e-root", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := dockerOut(t, nil, "exec", "-u", tc.user, id, "sh", "-c", tc.script+" && echo DONE")
			if got := strings.Contains(out, "DONE"); got != tc.ok {
				t.Errorf("as %s, %q succeeded: %v, want %v", tc.user, tc.script, got, tc.ok)
			}
		})
	}
	dockerOut(t, nil, "exec", "-u", "0:0", id, "rm", "-f", "/tmp/e2e-chown")
}

// TestAgentLimitsReachTheContainer: the bottle's resources block (the
// demo's: 1g, 1 CPU, 256 processes) is what Docker applies to the agent
// container, with no swap beyond the memory limit, and what its cgroup
// enforces.
func TestAgentLimitsReachTheContainer(t *testing.T) {
	a, _ := bottles(t)
	id := containerID(t, a, "agent")
	got := strings.TrimSpace(dockerOut(t, nil, "inspect", "-f",
		"{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}", id))
	if want := "1073741824 1073741824 1000000000 " + strconv.Itoa(demo.AgentPids); got != want {
		t.Errorf("agent memory, memory+swap, nano-CPUs, pids = %s, want %s", got, want)
	}
	r := agent(t, a, "cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/memory.max")
	if f := strings.Fields(r.Stdout); len(f) != 2 || f[0] != strconv.Itoa(demo.AgentPids) || f[1] != "1073741824" {
		t.Errorf("the agent's cgroup says pids.max, memory limit = %q", r.Stdout)
	}
}

// pidsCgroup is the host directory of the pids cgroup of the container
// whose init is pid (cgroup v1's pids hierarchy, or v2's unified one).
func pidsCgroup(t *testing.T, pid int) string {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	unified := ""
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		if slices.Contains(strings.Split(f[1], ","), "pids") {
			return filepath.Join("/sys/fs/cgroup/pids", f[2])
		}
		if f[0] == "0" && f[1] == "" {
			unified = filepath.Join("/sys/fs/cgroup", f[2])
		}
	}
	if unified == "" {
		t.Fatalf("no pids cgroup for pid %d:\n%s", pid, data)
	}
	return unified
}

// TestForkBombIsContained fills the agent's process table the way a fork
// bomb does (a loop starting sleeps until fork fails): the kernel refuses
// forks at the bottle's pids limit, the sidecars stay healthy while the
// table is full, and once the agent's processes are killed the agent's
// allowed call through egress works again. Everything is watched from the
// host (the cgroup, the container's files through /proc), because with the
// table full even docker exec cannot always start in the container.
func TestForkBombIsContained(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("watching and killing the agent's processes from the host needs root")
	}
	a, _ := bottles(t)
	id := containerID(t, a, "agent")
	initPID, _ := strconv.Atoi(strings.TrimSpace(dockerOut(t, nil, "inspect", "-f", "{{.State.Pid}}", id)))
	cg := pidsCgroup(t, initPID)
	read := func(path string) string {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(data))
	}
	failedForks := func() int {
		n, _ := strconv.Atoi(strings.TrimPrefix(read(filepath.Join(cg, "pids.events")), "max "))
		return n
	}
	if got := read(filepath.Join(cg, "pids.max")); got != strconv.Itoa(demo.AgentPids) {
		t.Fatalf("%s/pids.max = %s, want %d", cg, got, demo.AgentPids)
	}
	before := failedForks()
	// The container's own processes (docker-init and its idle child) are
	// not the bomb's: only what starts after this is killed below.
	own := map[string]bool{}
	for _, f := range strings.Fields(read(filepath.Join(cg, "cgroup.procs"))) {
		own[f] = true
	}

	// Four times the limit: enough to need it, few enough that a bottle
	// without one is not a real fork bomb on the machine.
	dockerOut(t, nil, "exec", "-u", "1000:1000", id, "sh", "-c",
		`n=0; while [ $n -lt `+strconv.Itoa(4*demo.AgentPids)+` ]; do sleep 1000 & n=$((n+1)); echo $n > /tmp/bomb; done`)
	started, _ := strconv.Atoi(read("/proc/" + strconv.Itoa(initPID) + "/root/tmp/bomb"))
	t.Logf("the bomb started %d processes; pids.current %s, refused forks %d", started, read(filepath.Join(cg, "pids.current")), failedForks()-before)
	if started >= demo.AgentPids || started < demo.AgentPids/2 {
		t.Errorf("the bomb started %d processes; the limit is %d", started, demo.AgentPids)
	}
	if failedForks() <= before {
		t.Error("the pids cgroup counted no refused fork: something else stopped the bomb")
	}

	// The sidecars are unaffected while the agent's table is full.
	for _, service := range []string{"agent-net", "netguard", "egress", "git-gate", "supervise"} {
		if h := strings.TrimSpace(dockerOut(t, nil, "inspect", "-f", "{{.State.Health.Status}}", containerID(t, a, service))); h != "healthy" {
			t.Errorf("with the agent's process table full, %s is %s", service, h)
		}
	}

	// Kill every process the bomb started; the container's init reaps them.
	deadline := time.Now().Add(30 * time.Second)
	for {
		left := 0
		for _, f := range strings.Fields(read(filepath.Join(cg, "cgroup.procs"))) {
			if pid, _ := strconv.Atoi(f); !own[f] && pid != initPID && pid > 0 {
				left++
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of the agent's processes are left 30s after the first kill", left)
		}
		time.Sleep(100 * time.Millisecond)
	}
	allowed := `probe http --timeout 5s -H "Authorization: Bearer $` + demo.TokenEnv + `" https://` + demo.APIHost + `/v1/whoami`
	if r := agent(t, a, allowed); r.Code != 0 || !strings.Contains(r.Stdout, "token accepted") {
		t.Errorf("after the bomb, the allowed call fails (exit %d):\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
}
