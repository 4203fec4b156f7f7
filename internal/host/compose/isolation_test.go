package compose

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// checkAgentIsolated fails t if agentLeaks finds anything.
func checkAgentIsolated(t *testing.T, p *types.Project, dir string) {
	t.Helper()
	for _, leak := range agentLeaks(p, dir) {
		t.Error(leak)
	}
}

// agentLeaks lists every way p lets the agent (or agent-net, whose
// namespace it shares) at a secret or at more of the project directory
// than the CA certificate. dir is the project directory when p was loaded
// (paths resolved), "" when p came straight from Project.
func agentLeaks(p *types.Project, dir string) []string {
	var leaks []string
	leak := func(format string, args ...any) { leaks = append(leaks, fmt.Sprintf(format, args...)) }
	rel := func(src string) string {
		if dir != "" {
			if r, err := filepath.Rel(dir, src); err == nil {
				return filepath.ToSlash(r)
			}
		}
		return strings.TrimPrefix(filepath.ToSlash(filepath.Clean(src)), "./")
	}

	agent, ok := p.Services[AgentService]
	if !ok {
		return []string{"no agent service"}
	}
	for _, name := range []string{AgentService, AgentNetService, NetGuardService} {
		svc := p.Services[name]
		if len(svc.Secrets) > 0 {
			leak("%s is given secrets %v", name, svc.Secrets)
		}
		if len(svc.Configs) > 0 || len(svc.VolumesFrom) > 0 || len(svc.Devices) > 0 {
			leak("%s has configs, volumes_from or devices", name)
		}
		if svc.Privileged {
			leak("%s is privileged", name)
		}
		for _, v := range svc.Volumes {
			r := rel(v.Source)
			switch {
			case name == AgentService && r == contract.BottleCACertFile && v.Target == contract.AgentCACertPath && v.ReadOnly && v.Type == types.VolumeTypeBind:
				// The public CA certificate: the one allowed bind mount.
			case name == AgentService && v.Type == types.VolumeTypeVolume && v.Source == WorkspaceVolume:
				// The workspace: a named volume of its own, holding the
				// copy of the operator's directory, no host path.
			case r == contract.BottleSecretsDir || strings.HasPrefix(r, contract.BottleSecretsDir+"/"):
				leak("%s mounts the secrets directory: %s -> %s", name, v.Source, v.Target)
			default:
				leak("%s mounts %s -> %s; the agent may see only %s and its workspace volume", name, v.Source, v.Target, contract.AgentCACertPath)
			}
		}
	}
	if agent.NetworkMode != types.ServicePrefix+AgentNetService {
		leak("agent network_mode = %q, want service:%s", agent.NetworkMode, AgentNetService)
	}
	if len(agent.Networks) > 0 {
		leak("agent joins networks %v", agent.Networks)
	}
	if len(agent.CapAdd) > 0 || agent.Pid == "host" || agent.Ipc == "host" || agent.UserNSMode == "host" {
		leak("agent gains capabilities or host namespaces")
	}
	if !slices.Equal(agent.CapDrop, []string{"ALL"}) {
		leak("agent cap_drop = %v, want [ALL]", agent.CapDrop)
	}
	if agent.PidsLimit <= 0 || agent.MemLimit <= 0 || agent.MemSwapLimit != agent.MemLimit || agent.CPUS <= 0 {
		leak("agent limits: pids %d, memory %d, memory+swap %d, cpus %g; want all set, swap none", agent.PidsLimit, agent.MemLimit, agent.MemSwapLimit, agent.CPUS)
	}
	for _, f := range agent.EnvFiles {
		if r := rel(f.Path); strings.HasPrefix(r, contract.BottleSecretsDir+"/") || strings.HasPrefix(r, contract.BottleConfigDir+"/") {
			leak("agent env_file %s reads from %s", f.Path, r)
		}
	}
	for k, v := range agent.Environment {
		if v != nil && (strings.Contains(*v, contract.SecretsDir) || strings.Contains(*v, contract.BottleSecretsDir+"/")) {
			leak("agent env %s=%q points at a secret", k, *v)
		}
	}
	for name, svc := range p.Services {
		for _, ref := range svc.Secrets {
			if ref.Source == contract.CAKeySecret && name != contract.EgressHost {
				leak("%s is given the CA private key", name)
			}
		}
	}
	return leaks
}

func TestAgentIsolation(t *testing.T) {
	for name, s := range goldenSpecs() {
		t.Run(name, func(t *testing.T) {
			p, err := Project(s)
			if err != nil {
				t.Fatal(err)
			}
			checkAgentIsolated(t, p, "")
			dir := writeProjectDir(t, s)
			checkAgentIsolated(t, load(t, dir), dir)

			// The same on the YAML text: the agent's service block holds no
			// secrets key and no secrets/ path.
			var doc struct {
				Services map[string]any `yaml:"services"`
			}
			if err := yaml.Unmarshal(generate(t, s), &doc); err != nil {
				t.Fatal(err)
			}
			block, err := yaml.Marshal(doc.Services[AgentService])
			if err != nil {
				t.Fatal(err)
			}
			text := string(block)
			for _, bad := range []string{"secrets:", "/secrets", "secrets/", "./config\n", "./git", "queue", "audit"} {
				if strings.Contains(text, bad) {
					t.Errorf("agent service contains %q:\n%s", bad, text)
				}
			}
		})
	}
}

// TestAgentLeaksCatchesLeaks proves the isolation check is not vacuous:
// each way of handing the agent a secret is reported.
func TestAgentLeaksCatchesLeaks(t *testing.T) {
	tests := map[string]func(*types.ServiceConfig){
		"secret": func(a *types.ServiceConfig) {
			a.Secrets = append(a.Secrets, types.ServiceSecretConfig{Source: contract.CAKeySecret})
		},
		"secrets dir": func(a *types.ServiceConfig) {
			a.Volumes = append(a.Volumes, bind("./secrets", "/run/secrets", true))
		},
		"one secret file": func(a *types.ServiceConfig) {
			a.Volumes = append(a.Volumes, bind("./secrets/ca_key", "/tmp/k", true))
		},
		"config dir": func(a *types.ServiceConfig) {
			a.Volumes = append(a.Volumes, bind("./config", contract.ConfigDir, true))
		},
		"git dir": func(a *types.ServiceConfig) {
			a.Volumes = append(a.Volumes, bind("./git", "/git", false))
		},
		"env file from secrets": func(a *types.ServiceConfig) {
			a.EnvFiles = append(a.EnvFiles, types.EnvFile{Path: "./secrets/token_github"})
		},
		"env pointing at a secret": func(a *types.ServiceConfig) {
			v := contract.SecretPath("token_github")
			a.Environment["TOKEN_FILE"] = &v
		},
		"own network": func(a *types.ServiceConfig) {
			a.NetworkMode = ""
			a.Networks = networks(EgressNetwork)
		},
		"a capability":         func(a *types.ServiceConfig) { a.CapAdd = []string{"CHOWN"} },
		"default capabilities": func(a *types.ServiceConfig) { a.CapDrop = []string{"NET_RAW", "SYS_ADMIN"} },
		"no pids limit":        func(a *types.ServiceConfig) { a.PidsLimit = 0 },
		"swap beyond memory":   func(a *types.ServiceConfig) { a.MemSwapLimit = -1 },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := Project(everything())
			if err != nil {
				t.Fatal(err)
			}
			if leaks := agentLeaks(p, ""); len(leaks) > 0 {
				t.Fatalf("clean project reported leaks: %v", leaks)
			}
			a := p.Services[AgentService]
			mutate(&a)
			p.Services[AgentService] = a
			if leaks := agentLeaks(p, ""); len(leaks) == 0 {
				t.Error("leak not reported")
			}
		})
	}
}

func TestOnlyEgressGetsTheCAKey(t *testing.T) {
	p, err := Project(everything())
	if err != nil {
		t.Fatal(err)
	}
	for name, svc := range p.Services {
		has := slices.ContainsFunc(svc.Secrets, func(r types.ServiceSecretConfig) bool { return r.Source == contract.CAKeySecret })
		if has != (name == contract.EgressHost) {
			t.Errorf("%s has the CA key: %v", name, has)
		}
	}
}

// sidecarPaths lists every way p lets something other than the bottle's
// own services at a sidecar: a published port, a sidecar on a network it
// does not need, or a listener without its peer allowlist (the egress
// network and the host's bridge gateway reach every listener that does
// not refuse them itself).
func sidecarPaths(p *types.Project) []string {
	var paths []string
	path := func(format string, args ...any) { paths = append(paths, fmt.Sprintf(format, args...)) }
	wantNets := map[string][]string{
		AgentNetService:        {InternalNetwork},
		NetGuardService:        nil, // in agent-net's namespace
		contract.EgressHost:    {EgressNetwork, InternalNetwork},
		contract.GitGateHost:   {EgressNetwork, InternalNetwork},
		contract.SuperviseHost: {InternalNetwork},
	}
	_, supervised := p.Services[contract.SuperviseHost]
	adminPeers := ""
	if supervised {
		adminPeers = contract.SuperviseHost
	}
	wantPeers := map[string]map[string]string{
		contract.EgressHost: {
			contract.EnvEgressAllowPeers:      contract.AgentNetHost,
			contract.EnvEgressAdminAllowPeers: adminPeers,
		},
		contract.GitGateHost: {
			contract.EnvGitGateAllowPeers:      contract.AgentNetHost,
			contract.EnvGitGateAdminAllowPeers: "",
		},
		contract.SuperviseHost: {contract.EnvSuperviseAllowPeers: contract.AgentNetHost},
	}
	for name, svc := range p.Services {
		if len(svc.Ports) > 0 {
			path("%s publishes ports %v", name, svc.Ports)
		}
		if svc.NetworkMode == "host" || svc.Pid == "host" {
			path("%s uses the host's namespaces", name)
		}
		if want, ok := wantNets[name]; ok {
			if got := slices.Sorted(maps.Keys(svc.Networks)); !slices.Equal(got, want) || (want == nil && svc.NetworkMode != types.ServicePrefix+AgentNetService) {
				path("%s is on networks %v, want %v", name, got, want)
			}
		}
		env := envMap(svc.Environment)
		for k, want := range wantPeers[name] {
			if got := env[k]; got != want && !(want == "" && got == "<unset>") {
				path("%s %s = %q, want %q", name, k, got, want)
			}
		}
	}
	return paths
}

func TestOnlyTheBottleReachesItsSidecars(t *testing.T) {
	for name, s := range goldenSpecs() {
		t.Run(name, func(t *testing.T) {
			p, err := Project(s)
			if err != nil {
				t.Fatal(err)
			}
			for _, problem := range sidecarPaths(p) {
				t.Error(problem)
			}
			for _, problem := range sidecarPaths(load(t, writeProjectDir(t, s))) {
				t.Errorf("as loaded: %s", problem)
			}
		})
	}
}

// TestSidecarPathsCatchesPaths proves the check above is not vacuous.
func TestSidecarPathsCatchesPaths(t *testing.T) {
	tests := map[string]func(p *types.Project){
		"published port": func(p *types.Project) {
			svc := p.Services[contract.EgressHost]
			svc.Ports = []types.ServicePortConfig{{Target: 8888, Published: "8888"}}
			p.Services[contract.EgressHost] = svc
		},
		"supervise on the egress network": func(p *types.Project) {
			svc := p.Services[contract.SuperviseHost]
			svc.Networks = networks(InternalNetwork, EgressNetwork)
			p.Services[contract.SuperviseHost] = svc
		},
		"proxy open to every address": func(p *types.Project) {
			p.Services[contract.EgressHost].Environment[contract.EnvEgressAllowPeers] = ptr("0.0.0.0/0")
		},
		"gate admin open to the agent": func(p *types.Project) {
			p.Services[contract.GitGateHost].Environment[contract.EnvGitGateAdminAllowPeers] = ptr(contract.AgentNetHost)
		},
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := Project(everything())
			if err != nil {
				t.Fatal(err)
			}
			if paths := sidecarPaths(p); len(paths) > 0 {
				t.Fatalf("clean project reported paths: %v", paths)
			}
			mutate(p)
			if len(sidecarPaths(p)) == 0 {
				t.Error("path not reported")
			}
		})
	}
}
