package compose

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/google/go-cmp/cmp"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// secretValue is written into every secret file of a test project; it must
// never come back out of the compose file or compose's view of it.
const secretValue = "SECRET-VALUE-do-not-leak-7f3a"

// writeProjectDir writes compose.yaml for s plus every file it refers to
// into a new directory, the way render lays it out, and returns the dir.
func writeProjectDir(t *testing.T, s Spec) string {
	t.Helper()
	dir := t.TempDir()
	mkdir := func(rel string, mode os.FileMode) {
		if err := os.MkdirAll(filepath.Join(dir, rel), mode); err != nil {
			t.Fatal(err)
		}
	}
	write := func(rel, content string, mode os.FileMode) {
		if err := os.WriteFile(filepath.Join(dir, rel), []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	mkdir("config", 0o755)
	write("config/routes.yaml", "version: 1\nroutes: []\n", 0o644)
	write("config/ca.crt", "-----BEGIN CERTIFICATE-----\n", 0o644)
	if s.GitGate {
		write("config/gate.yaml", "version: 1\nrepos: []\n", 0o644)
		mkdir("git", 0o700)
	}
	mkdir("secrets", 0o700)
	for _, n := range slices.Concat(s.EgressSecrets, s.GitGateSecrets) {
		write("secrets/"+n, secretValue, 0o400)
	}
	write("audit.jsonl", "", 0o600)
	if s.Supervise {
		mkdir("queue", 0o700)
	}
	if s.AgentEnvFile != "" {
		write(s.AgentEnvFile, "FROM_ENV_FILE=yes\n", 0o600)
	}
	write("compose.yaml", string(generate(t, s)), 0o644)
	return dir
}

// load reads dir/compose.yaml back with compose-go, as docker compose
// would, but without the test process's environment.
func load(t *testing.T, dir string) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions(
		[]string{filepath.Join(dir, "compose.yaml")},
		cli.WithWorkingDirectory(dir),
		cli.WithEnv(nil),
	)
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(t.Context())
	if err != nil {
		t.Fatalf("compose-go cannot load the generated project: %v", err)
	}
	return p
}

func TestRoundTrip(t *testing.T) {
	for name, s := range goldenSpecs() {
		t.Run(name, func(t *testing.T) {
			dir := writeProjectDir(t, s)
			p := load(t, dir)
			checkLoaded(t, s, dir, p)
			dockerComposeConfig(t, dir)
		})
	}
}

func checkLoaded(t *testing.T, s Spec, dir string, p *types.Project) {
	t.Helper()
	if p.Name != ProjectName(s.Slug) {
		t.Errorf("project name = %q, want %q", p.Name, ProjectName(s.Slug))
	}
	want := []string{AgentService, AgentNetService, NetGuardService, contract.EgressHost}
	if s.GitGate {
		want = append(want, contract.GitGateHost)
	}
	if s.Supervise {
		want = append(want, contract.SuperviseHost)
	}
	slices.Sort(want)
	if got := p.ServiceNames(); !cmp.Equal(got, want) {
		t.Fatalf("services = %v, want %v", got, want)
	}

	// Networks: exactly internal (internal) and egress (not), no default.
	if got := slices.Sorted(maps.Keys(p.Networks)); !cmp.Equal(got, []string{EgressNetwork, InternalNetwork}) {
		t.Errorf("networks = %v", got)
	}
	if !p.Networks[InternalNetwork].Internal {
		t.Errorf("network %s is not internal", InternalNetwork)
	}
	if p.Networks[EgressNetwork].Internal {
		t.Errorf("network %s is internal; egress could not reach upstreams", EgressNetwork)
	}

	// Secrets: each a file under dir/secrets, named after itself.
	wantSecrets := slices.Sorted(slices.Values(slices.Concat(s.EgressSecrets, s.GitGateSecrets)))
	if got := slices.Sorted(maps.Keys(p.Secrets)); !cmp.Equal(got, wantSecrets) {
		t.Errorf("secrets = %v, want %v", got, wantSecrets)
	}
	for n, sec := range p.Secrets {
		if want := filepath.Join(dir, "secrets", n); sec.File != want {
			t.Errorf("secret %s file = %q, want %q", n, sec.File, want)
		}
		if sec.Content != "" {
			t.Errorf("secret %s has inline content", n)
		}
	}

	agent := p.Services[AgentService]
	if agent.NetworkMode != "service:"+AgentNetService {
		t.Errorf("agent network_mode = %q", agent.NetworkMode)
	}
	if len(agent.Networks) != 0 {
		t.Errorf("agent has networks %v; it must only share agent-net's namespace", agent.Networks)
	}
	wantDeps := map[string]string{AgentNetService: types.ServiceConditionHealthy, NetGuardService: types.ServiceConditionHealthy, contract.EgressHost: types.ServiceConditionHealthy}
	if s.GitGate {
		wantDeps[contract.GitGateHost] = types.ServiceConditionHealthy
	}
	if s.Supervise {
		wantDeps[contract.SuperviseHost] = types.ServiceConditionHealthy
	}
	gotDeps := map[string]string{}
	for n, d := range agent.DependsOn {
		gotDeps[n] = d.Condition
		if !d.Required {
			t.Errorf("agent's dependency on %s is not required", n)
		}
	}
	if diff := cmp.Diff(wantDeps, gotDeps); diff != "" {
		t.Errorf("agent depends_on (-want +got):\n%s", diff)
	}
	if agent.Image != s.AgentImage || agent.Runtime != s.Runtime || !agent.Tty || !agent.StdinOpen || agent.Init == nil || !*agent.Init {
		t.Errorf("agent image/runtime/tty/stdin/init = %q %q %v %v %v", agent.Image, agent.Runtime, agent.Tty, agent.StdinOpen, agent.Init)
	}
	// The agent's own process idles; sessions are docker compose exec.
	if strings.Join(agent.Entrypoint, " ") != "sleep infinity" || agent.WorkingDir != s.Workspace {
		t.Errorf("agent entrypoint %q, working dir %q; want sleep infinity and %q", agent.Entrypoint, agent.WorkingDir, s.Workspace)
	}
	if s.Workspace != "" {
		vol, ok := p.Volumes[WorkspaceVolume]
		mounted := false
		for _, v := range agent.Volumes {
			mounted = mounted || (v.Type == types.VolumeTypeVolume && v.Source == WorkspaceVolume && v.Target == s.Workspace)
		}
		if !ok || !mounted || vol.Labels[contract.LabelBottle] != s.Slug {
			t.Errorf("workspace volume %+v (declared %v), mounted at %s: %v", vol, ok, s.Workspace, mounted)
		}
	}
	env := envMap(agent.Environment)
	for k, v := range s.AgentEnv {
		if env[k] != v {
			t.Errorf("agent env %s = %q, want %q (compose interpolated it?)", k, env[k], v)
		}
	}
	if s.AgentEnvFile != "" && env["FROM_ENV_FILE"] != "yes" {
		t.Errorf("agent env_file %s was not read: env = %v", s.AgentEnvFile, env)
	}
	if env["HTTPS_PROXY"] != "http://egress:8888" {
		t.Errorf("agent HTTPS_PROXY = %q", env["HTTPS_PROXY"])
	}
	r := s.Resources
	if int64(agent.MemLimit) != r.Memory || int64(agent.MemSwapLimit) != r.Memory || agent.CPUS != float32(r.CPUs) || agent.PidsLimit != r.Pids {
		t.Errorf("agent mem_limit %d memswap_limit %d cpus %g pids_limit %d, want %+v", agent.MemLimit, agent.MemSwapLimit, agent.CPUS, agent.PidsLimit, r)
	}

	// Every sidecar and agent-net: user, healthcheck, hardening, labels.
	wantHealth := map[string][]string{
		AgentNetService:        {"CMD", "/usr/local/bin/netguard", "check"},
		NetGuardService:        {"CMD", "/usr/local/bin/netguard", "check"},
		contract.EgressHost:    {"CMD", "/usr/local/bin/sidecar-init", "--health", "http://127.0.0.1:9901/healthz"},
		contract.GitGateHost:   {"CMD", "/usr/local/bin/sidecar-init", "--health", "http://127.0.0.1:9901/healthz"},
		contract.SuperviseHost: {"CMD", "/usr/local/bin/sidecar-init", "--health", "http://127.0.0.1:9100/healthz"},
	}
	for _, name := range p.ServiceNames() {
		svc := p.Services[name]
		for k, v := range map[string]string{contract.LabelBottle: s.Slug, contract.LabelAgent: s.Agent, contract.LabelVersion: "1"} {
			if svc.Labels[k] != v {
				t.Errorf("%s label %s = %q, want %q", name, k, svc.Labels[k], v)
			}
		}
		if !slices.Contains(svc.SecurityOpt, "no-new-privileges:true") {
			t.Errorf("%s lacks no-new-privileges", name)
		}
		if name == AgentService {
			continue
		}
		wantUser := s.SidecarUser
		if name == NetGuardService {
			wantUser = "0:0"
		}
		if svc.User != wantUser {
			t.Errorf("%s user = %q, want %q", name, svc.User, wantUser)
		}
		if svc.HealthCheck == nil || !cmp.Equal([]string(svc.HealthCheck.Test), wantHealth[name]) {
			t.Errorf("%s healthcheck = %+v, want test %v", name, svc.HealthCheck, wantHealth[name])
		} else if svc.HealthCheck.Interval == nil || svc.HealthCheck.Retries == nil || svc.HealthCheck.StartPeriod == nil {
			t.Errorf("%s healthcheck lacks interval, retries or start_period", name)
		}
		if !svc.ReadOnly || !cmp.Equal(svc.CapDrop, []string{"ALL"}) || svc.Restart != types.RestartPolicyUnlessStopped {
			t.Errorf("%s read_only/cap_drop/restart = %v %v %q", name, svc.ReadOnly, svc.CapDrop, svc.Restart)
		}
	}
	if got := p.Services[NetGuardService]; !cmp.Equal(got.CapAdd, []string{"NET_ADMIN"}) || got.NetworkMode != "service:"+AgentNetService {
		t.Errorf("netguard cap_add/network_mode = %v %q", got.CapAdd, got.NetworkMode)
	}
	if dep := p.Services[NetGuardService].DependsOn[AgentNetService]; !dep.Restart || !dep.Required {
		t.Errorf("netguard's dependency on agent-net = %+v; it must follow a restarted namespace", dep)
	}
	if got := p.Services[AgentNetService]; len(got.CapAdd) > 0 || !cmp.Equal([]string(got.DNS), []string{"127.0.0.1"}) || !cmp.Equal([]string(got.Command), []string{"hold"}) {
		t.Errorf("agent-net cap_add/dns/command = %v %v %v", got.CapAdd, got.DNS, got.Command)
	}

	// Mounts land where the daemons look, from inside dir.
	wantMounts := map[string][]string{
		contract.EgressHost: {
			filepath.Join(dir, "config") + " " + contract.ConfigDir + " ro",
			filepath.Join(dir, "audit.jsonl") + " " + contract.AuditDir + "/audit.jsonl rw",
		},
		AgentService: {filepath.Join(dir, "config", "ca.crt") + " " + contract.AgentCACertPath + " ro"},
	}
	if s.Workspace != "" {
		wantMounts[AgentService] = append(wantMounts[AgentService], WorkspaceVolume+" "+s.Workspace+" rw")
	}
	if s.GitGate {
		wantMounts[contract.GitGateHost] = []string{
			filepath.Join(dir, "config") + " " + contract.ConfigDir + " ro",
			filepath.Join(dir, "git") + " " + contract.GitDataDir + " rw",
		}
	}
	if s.Supervise {
		wantMounts[contract.SuperviseHost] = []string{filepath.Join(dir, "queue") + " " + contract.QueueDir + " rw"}
	}
	for name, want := range wantMounts {
		var got []string
		for _, v := range p.Services[name].Volumes {
			mode := "rw"
			if v.ReadOnly {
				mode = "ro"
			}
			got = append(got, v.Source+" "+v.Target+" "+mode)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s volumes (-want +got):\n%s", name, diff)
		}
	}
	checkAgentIsolated(t, p, dir)
}

// dockerComposeConfig has the real docker compose validate dir's project,
// and checks it does not print a secret's value.
func dockerComposeConfig(t *testing.T, dir string) {
	t.Helper()
	if err := exec.Command("docker", "compose", "version").Run(); err != nil {
		t.Logf("docker compose is not available (%v); skipping its check", err)
		return
	}
	cmd := exec.CommandContext(t.Context(), "docker", "compose", "-f", "compose.yaml", "config")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker compose config: %v\n%s", err, out)
	}
	if strings.Contains(string(out), secretValue) {
		t.Errorf("docker compose config prints a secret value:\n%s", out)
	}
	q := exec.CommandContext(t.Context(), "docker", "compose", "-f", "compose.yaml", "config", "-q")
	q.Dir, q.Env = dir, cmd.Env
	if out, err := q.CombinedOutput(); err != nil || len(out) != 0 {
		t.Errorf("docker compose config -q: %v\n%s", err, out)
	}
}
