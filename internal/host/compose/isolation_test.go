package compose

import (
	"fmt"
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
	for _, name := range []string{AgentService, NetGuardService} {
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
				// The public CA certificate: the one allowed mount.
			case r == contract.BottleSecretsDir || strings.HasPrefix(r, contract.BottleSecretsDir+"/"):
				leak("%s mounts the secrets directory: %s -> %s", name, v.Source, v.Target)
			default:
				leak("%s mounts %s -> %s; the agent may see only %s", name, v.Source, v.Target, contract.AgentCACertPath)
			}
		}
	}
	if agent.NetworkMode != types.ServicePrefix+NetGuardService {
		leak("agent network_mode = %q, want service:%s", agent.NetworkMode, NetGuardService)
	}
	if len(agent.Networks) > 0 {
		leak("agent joins networks %v", agent.Networks)
	}
	if len(agent.CapAdd) > 0 || agent.Pid == "host" || agent.Ipc == "host" || agent.UserNSMode == "host" {
		leak("agent gains capabilities or host namespaces")
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
