package compose

import (
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/bot-bottle/bot-bottle/internal/host/provision"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// Service names. The sidecars' names are their hostnames in
// pkg/contract; these are the three the agent side adds.
const (
	// AgentService runs the agent. It has no network of its own: it joins
	// AgentNetService's network namespace.
	AgentService = "agent"
	// AgentNetService owns the agent's network namespace on the internal
	// network. Its only process is 'netguard hold', which does nothing and
	// so never exits on its own: the namespace outlives a netguard crash.
	// It reports healthy once the namespace is locked down.
	AgentNetService = contract.AgentNetHost
	// NetGuardService runs netguard in AgentNetService's namespace: it
	// removes the way out through the bridge gateway, and puts it back out
	// of reach whenever Docker adds a route.
	NetGuardService = "netguard"
)

// Network names inside the project (compose prefixes them with the project
// name on the engine).
const (
	// InternalNetwork is the internal: true network the agent and every
	// sidecar share. Nothing on it reaches the outside.
	InternalNetwork = "internal"
	// EgressNetwork is the ordinary bridge egress and git-gate reach their
	// upstreams through. The agent is never on it.
	EgressNetwork = "egress"
)

// rel is a bottle directory name (contract.Bottle*) as the compose file
// mounts it: relative to the project directory.
func rel(name string) string { return "./" + name }

// Executables in the sidecar images.
const (
	netguardBin    = "/usr/local/bin/netguard"
	sidecarInitBin = "/usr/local/bin/sidecar-init"
)

const stopGracePeriod = 10 * time.Second

// Project builds the bottle's compose project from s, after s.Validate.
// Every path in it is relative to the project directory (WorkingDir is
// left empty), so Marshal's output can be moved with its directory.
func Project(s Spec) (*types.Project, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	p := &types.Project{
		Name: ProjectName(s.Slug),
		Networks: types.Networks{
			InternalNetwork: {Internal: true, Labels: labels(s)},
			EgressNetwork:   {Labels: labels(s)},
		},
		Services: types.Services{},
		Secrets:  types.Secrets{},
	}

	add := func(svc types.ServiceConfig) {
		svc.Labels = labels(s)
		p.Services[svc.Name] = svc
	}
	add(agentNetService(s))
	add(netGuardService(s))
	add(egressService(s))
	if s.GitGate {
		add(gitGateService(s))
	}
	if s.Supervise {
		add(superviseService(s))
	}
	add(agentService(s))

	for _, svc := range p.Services {
		for _, ref := range svc.Secrets {
			p.Secrets[ref.Source] = types.SecretConfig{File: rel(contract.BottleSecretsDir + "/" + ref.Source)}
		}
	}
	if len(p.Secrets) == 0 {
		p.Secrets = nil
	}
	if s.Workspace != "" {
		p.Volumes = types.Volumes{WorkspaceVolume: {Labels: labels(s)}}
	}
	return p, nil
}

// labels returns a fresh copy of the labels on every service and network.
func labels(s Spec) types.Labels {
	return types.Labels{
		contract.LabelBottle:  s.Slug,
		contract.LabelAgent:   s.Agent,
		contract.LabelVersion: strconv.Itoa(contract.Version),
	}
}

// hardened returns the settings every sidecar shares: read-only root,
// no capabilities, no privilege escalation, a private /tmp, restarts.
func hardened(name, image, user string) types.ServiceConfig {
	var svc types.ServiceConfig
	svc.Name = name
	svc.Image = image
	svc.User = user
	svc.ReadOnly = true
	svc.CapDrop = []string{"ALL"}
	svc.SecurityOpt = []string{"no-new-privileges:true"}
	svc.Tmpfs = types.StringList{"/tmp"}
	svc.Restart = types.RestartPolicyUnlessStopped
	grace := types.Duration(stopGracePeriod)
	svc.StopGracePeriod = &grace
	return svc
}

// healthCheck runs test every interval. Docker 20.10 has no start_interval,
// so interval also paces the checks during start_period; failures there do
// not count against retries.
func healthCheck(interval time.Duration, test ...string) *types.HealthCheckConfig {
	iv := types.Duration(interval)
	timeout := types.Duration(3 * time.Second)
	start := types.Duration(30 * time.Second)
	retries := uint64(5)
	return &types.HealthCheckConfig{
		Test:        append(types.HealthCheckTest{"CMD"}, test...),
		Interval:    &iv,
		Timeout:     &timeout,
		StartPeriod: &start,
		Retries:     &retries,
	}
}

func sidecarHealth(port int) *types.HealthCheckConfig {
	return healthCheck(2*time.Second, sidecarInitBin, "--health", "http://127.0.0.1:"+strconv.Itoa(port)+"/healthz")
}

func networks(names ...string) map[string]*types.ServiceNetworkConfig {
	m := make(map[string]*types.ServiceNetworkConfig, len(names))
	for _, n := range names {
		m[n] = nil
	}
	return m
}

func env(pairs ...string) types.MappingWithEquals {
	m := make(types.MappingWithEquals, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		v := pairs[i+1]
		m[pairs[i]] = &v
	}
	return m
}

func ptr(s string) *string { return &s }

func secretRefs(names []string) []types.ServiceSecretConfig {
	refs := make([]types.ServiceSecretConfig, 0, len(names))
	for _, n := range names {
		refs = append(refs, types.ServiceSecretConfig{Source: n})
	}
	return refs
}

func bind(source, target string, readOnly bool) types.ServiceVolumeConfig {
	return types.ServiceVolumeConfig{
		Type:     types.VolumeTypeBind,
		Source:   source,
		Target:   target,
		ReadOnly: readOnly,
		// A missing source is an error, never a directory Docker creates
		// as root.
		Bind: &types.ServiceVolumeBind{CreateHostPath: false},
	}
}

func listen(port int) string { return ":" + strconv.Itoa(port) }

// agentNetService owns the agent's network namespace, which netguard and
// the agent join. Docker gives a restarted container a new namespace and
// leaves the containers that joined the old one there, with loopback only;
// so the owner is a process with nothing to do ('netguard hold': no
// capability, every signal but docker stop's ignored), and netguard, which
// does the work, is a service of its own that a crash restarts into the
// same namespace. The routes stay locked while it is down: Docker touches
// them only when a network is connected. dns 127.0.0.1 (the namespace's
// resolv.conf is this service's) leaves Docker's embedded resolver nowhere
// to forward external names to, so the agent resolves only the sidecars.
// The healthcheck says the namespace is locked, whoever locked it.
func agentNetService(s Spec) types.ServiceConfig {
	svc := hardened(AgentNetService, s.Images.NetGuard, s.SidecarUser)
	svc.Command = types.ShellCommand{"hold"}
	svc.Networks = networks(InternalNetwork)
	svc.DNS = types.StringList{"127.0.0.1"}
	svc.HealthCheck = healthCheck(time.Second, netguardBin, "check")
	return svc
}

// netGuardService locks agent-net's namespace down. It is the only root
// container: it needs NET_ADMIN to remove the default route, since on this
// engine an internal network still reaches the host through the bridge
// gateway. restart: a `docker compose restart agent-net` replaces the
// namespace, so netguard follows (compose acts on this only for its own
// operations; a crash is Docker's restart policy, into the same namespace).
func netGuardService(s Spec) types.ServiceConfig {
	svc := hardened(NetGuardService, s.Images.NetGuard, "0:0")
	svc.CapAdd = []string{"NET_ADMIN"}
	svc.NetworkMode = types.ServicePrefix + AgentNetService
	svc.DependsOn = types.DependsOnConfig{
		AgentNetService: {Condition: types.ServiceConditionStarted, Required: true, Restart: true},
	}
	svc.HealthCheck = healthCheck(time.Second, netguardBin, "check")
	return svc
}

func egressService(s Spec) types.ServiceConfig {
	svc := hardened(contract.EgressHost, s.Images.Egress, s.SidecarUser)
	svc.Networks = networks(InternalNetwork, EgressNetwork)
	svc.Environment = env(
		contract.EnvEgressRoutes, contract.RoutesPath,
		contract.EnvEgressCACert, contract.CACertPath,
		contract.EnvEgressCAKey, contract.SecretPath(contract.CAKeySecret),
		contract.EnvEgressSecretsDir, contract.SecretsDir,
		contract.EnvEgressListen, listen(contract.ProxyPort),
		contract.EnvEgressAdmin, listen(contract.AdminPort),
		contract.EnvEgressAudit, contract.AuditDir+"/"+contract.AuditFileName,
		contract.EnvEgressAllowPeers, contract.AgentNetHost,
	)
	if s.UpstreamCA {
		svc.Environment[contract.EnvEgressUpstreamCA] = ptr(contract.UpstreamCAPath)
	}
	if s.Supervise {
		// list-egress-routes reads /routes.
		svc.Environment[contract.EnvEgressAdminAllowPeers] = ptr(contract.SuperviseHost)
	}
	svc.Secrets = secretRefs(s.EgressSecrets)
	svc.Volumes = []types.ServiceVolumeConfig{
		bind(rel(contract.BottleConfigDir), contract.ConfigDir, true),
		bind(rel(contract.BottleAuditFile), contract.AuditDir+"/"+contract.AuditFileName, false),
	}
	svc.HealthCheck = sidecarHealth(contract.AdminPort)
	return svc
}

func gitGateService(s Spec) types.ServiceConfig {
	svc := hardened(contract.GitGateHost, s.Images.GitGate, s.SidecarUser)
	svc.Networks = networks(InternalNetwork, EgressNetwork)
	svc.Environment = env(
		contract.EnvGitGateConfig, contract.GatePath,
		contract.EnvGitGateData, contract.GitDataDir,
		contract.EnvGitGateSecretsDir, contract.SecretsDir,
		contract.EnvGitGateListen, listen(contract.GitHTTPPort),
		contract.EnvGitGateAdmin, listen(contract.AdminPort),
		contract.EnvGitGateAllowPeers, contract.AgentNetHost,
	)
	svc.Secrets = secretRefs(s.GitGateSecrets)
	svc.Volumes = []types.ServiceVolumeConfig{
		bind(rel(contract.BottleConfigDir), contract.ConfigDir, true),
		bind(rel(contract.BottleGitDataDir), contract.GitDataDir, false),
	}
	svc.HealthCheck = sidecarHealth(contract.AdminPort)
	return svc
}

func superviseService(s Spec) types.ServiceConfig {
	svc := hardened(contract.SuperviseHost, s.Images.Supervise, s.SidecarUser)
	svc.Networks = networks(InternalNetwork)
	svc.Environment = env(
		contract.EnvSuperviseQueue, contract.QueueDir,
		contract.EnvSuperviseBottle, s.Slug,
		contract.EnvSuperviseListen, listen(contract.MCPPort),
		contract.EnvSuperviseEgressAdmin, "http://"+contract.EgressHost+":"+strconv.Itoa(contract.AdminPort),
		contract.EnvSuperviseAllowPeers, contract.AgentNetHost,
	)
	svc.Volumes = []types.ServiceVolumeConfig{bind(rel(contract.BottleQueueDir), contract.QueueDir, false)}
	svc.HealthCheck = sidecarHealth(contract.MCPPort)
	return svc
}

// agentService is the untrusted container. It shares agent-net's network
// namespace, so it has no networks of its own; it sees the bottle CA's
// public certificate and nothing else of the project directory, and it is
// given no secrets. It starts once the namespace is locked and netguard and
// every sidecar report healthy.
func agentService(s Spec) types.ServiceConfig {
	var svc types.ServiceConfig
	svc.Name = AgentService
	svc.Image = s.AgentImage
	svc.NetworkMode = types.ServicePrefix + AgentNetService
	svc.DependsOn = types.DependsOnConfig{
		// restart: a `docker compose restart agent-net` replaces the
		// namespace the agent lives in, so the agent follows.
		AgentNetService:     {Condition: types.ServiceConditionHealthy, Required: true, Restart: true},
		NetGuardService:     {Condition: types.ServiceConditionHealthy, Required: true},
		contract.EgressHost: {Condition: types.ServiceConditionHealthy, Required: true},
	}
	noProxy := []string{}
	if s.GitGate {
		svc.DependsOn[contract.GitGateHost] = types.ServiceDependency{Condition: types.ServiceConditionHealthy, Required: true}
		noProxy = append(noProxy, contract.GitGateHost)
	}
	if s.Supervise {
		svc.DependsOn[contract.SuperviseHost] = types.ServiceDependency{Condition: types.ServiceConditionHealthy, Required: true}
		noProxy = append(noProxy, contract.SuperviseHost)
	}
	noProxy = append(noProxy, "localhost", "127.0.0.1")

	svc.Environment = make(types.MappingWithEquals, len(s.AgentEnv)+8)
	for k, v := range s.AgentEnv {
		svc.Environment[k] = &v
	}
	proxy := "http://" + contract.EgressHost + ":" + strconv.Itoa(contract.ProxyPort)
	np := strings.Join(noProxy, ",")
	wiring := map[string]string{
		"HTTPS_PROXY": proxy, "https_proxy": proxy,
		"HTTP_PROXY": proxy, "http_proxy": proxy,
		"NO_PROXY": np, "no_proxy": np,
		contract.EnvAgentCACert: contract.AgentCACertPath,
	}
	// TLS clients trust the bottle CA through the system bundle
	// provisioning adds it to (Node through the CA file alone).
	maps.Copy(wiring, provision.CAEnv())
	for k, v := range wiring {
		svc.Environment[k] = &v
	}
	if s.AgentEnvFile != "" {
		svc.EnvFiles = []types.EnvFile{{Path: s.AgentEnvFile, Required: true}}
	}
	svc.Volumes = []types.ServiceVolumeConfig{bind(rel(contract.BottleCACertFile), contract.AgentCACertPath, true)}
	svc.SecurityOpt = []string{"no-new-privileges:true"}
	// No capability at all, not even for provisioning: the agent image's
	// user is not root, so Docker gives its processes an empty effective
	// set and only a bounding set, which a `docker exec -u 0` inherits;
	// with no-new-privileges, executing a program as root then grants
	// nothing from it either. Capabilities added here would reach no
	// provisioning step and would only arm an agent image whose user is
	// root. Provisioning works as the agent's user in its home and as
	// root, by file ownership, on root's files (the CA trust store).
	svc.CapDrop = []string{"ALL"}
	svc.MemLimit = types.UnitBytes(s.Resources.Memory)
	// Swap limit = memory limit: no swap beyond it.
	svc.MemSwapLimit = types.UnitBytes(s.Resources.Memory)
	svc.CPUS = float32(s.Resources.CPUs)
	svc.PidsLimit = s.Resources.Pids
	svc.Runtime = s.Runtime
	svc.User = s.AgentUser
	if s.Workspace != "" {
		svc.Volumes = append(svc.Volumes, types.ServiceVolumeConfig{
			Type: types.VolumeTypeVolume, Source: WorkspaceVolume, Target: s.Workspace,
		})
		svc.WorkingDir = s.Workspace
	}
	// The container's own process only idles: the agent runs in a
	// `docker compose exec` session (up's attach), so ending that session
	// never takes the container, its workspace or provisioning with it.
	// docker-init is PID 1 so the idle process stops at once on SIGTERM.
	svc.Entrypoint = types.ShellCommand{"sleep", "infinity"}
	svc.Command = nil
	init := true
	svc.Init = &init
	grace := types.Duration(agentStopGrace)
	svc.StopGracePeriod = &grace
	svc.Tty = true
	svc.StdinOpen = true
	return svc
}

// WorkspaceVolume is the named volume (project-scoped) the workspace is
// copied onto: it outlives the agent container and goes with `down`.
const WorkspaceVolume = "workspace"

// agentStopGrace is how long the agent container gets to stop: its only
// process is the idle one, which stops at once.
const agentStopGrace = 2 * time.Second
