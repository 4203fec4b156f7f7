package contract

import (
	"fmt"
	"time"
)

// Version is the only major version of every file and record in this
// contract that this build understands. Files carry it as `version: 1`.
const Version = 1

// Service hostnames on the bottle's compose networks. The agent reaches the
// sidecars by these names; they are also the compose service names.
const (
	// EgressHost is the egress proxy; the agent's HTTPS_PROXY points at it.
	EgressHost = "egress"
	// GitGateHost is the git gate serving smart HTTP to the agent.
	GitGateHost = "git-gate"
	// SuperviseHost is the supervise MCP server.
	SuperviseHost = "supervise"
	// AgentNetHost owns the agent's network namespace: connections from
	// the agent come from its address. The sidecars allow it by this name
	// (see EnvEgressAllowPeers).
	AgentNetHost = "agent-net"
)

// Ports the sidecars listen on inside the bottle.
const (
	// ProxyPort is egress's HTTP(S) forward-proxy port.
	ProxyPort = 8888
	// GitHTTPPort is gitgate's git smart-HTTP port.
	GitHTTPPort = 9420
	// MCPPort is supervise's MCP (streamable HTTP) port.
	MCPPort = 9100
	// AdminPort is every sidecar's health and admin port (/healthz, and
	// /routes on egress). It answers loopback (the healthchecks) and the
	// peers its daemon's --admin-allow-peers names: supervise on egress,
	// nobody on git-gate. No port is ever published on the host.
	AdminPort = 9901
)

// Paths inside the sidecar and agent containers.
const (
	// SecretsDir is where compose mounts secrets (mode 0400) in sidecars.
	// Nothing under it is ever mounted into the agent.
	SecretsDir = "/run/secrets"
	// ConfigDir holds the generated, non-secret sidecar configuration.
	ConfigDir = "/etc/bot-bottle"
	// RoutesPath is the routes file egress reads.
	RoutesPath = ConfigDir + "/" + RoutesFileName
	// GatePath is the gate file gitgate reads.
	GatePath = ConfigDir + "/" + GateFileName
	// CACertPath is the bottle CA's public certificate in the egress
	// container. It is public and is also given to the agent (see
	// AgentCACertPath).
	CACertPath = ConfigDir + "/" + CACertFileName
	// UpstreamCAPath is the extra PEM roots egress trusts for upstream TLS
	// when the bottle names some (egress.upstream_ca).
	UpstreamCAPath = ConfigDir + "/" + UpstreamCAFileName
	// CAKeySecret is the secret name of the bottle CA's private key; egress
	// reads it from SecretPath(CAKeySecret).
	CAKeySecret = "ca_key"
	// GitDataDir is where gitgate keeps one bare repository per upstream.
	GitDataDir = "/var/lib/bot-bottle/git"
	// QueueDir is the proposal queue inside supervise, a bind mount of the
	// bottle directory's BottleQueueDir.
	QueueDir = "/var/lib/bot-bottle/queue"
	// AuditDir is where sidecars write audit logs when given a file.
	AuditDir = "/var/log/bot-bottle"
	// AgentCACertPath is where the bottle CA certificate is installed in the
	// agent container so its TLS clients trust egress.
	AgentCACertPath = "/usr/local/share/ca-certificates/bot-bottle.crt"
)

// File names shared by the in-container paths and the host state directory.
const (
	// RoutesFileName is the routes file's name (see RoutesPath).
	RoutesFileName = "routes.yaml"
	// GateFileName is the gate file's name (see GatePath).
	GateFileName = "gate.yaml"
	// AuditFileName is the audit log's name in a bottle's directory and in
	// AuditDir.
	AuditFileName = "audit.jsonl"
	// CACertFileName is the CA certificate's name (see CACertPath).
	CACertFileName = "ca.crt"
	// UpstreamCAFileName is the extra upstream roots' name (see
	// UpstreamCAPath).
	UpstreamCAFileName = "upstream-ca.crt"
)

// SecretPath returns the in-container path of the secret called name:
// SecretsDir + "/" + name. The name must satisfy ValidSecretName, which keeps
// it a single path element; SecretPath does not check.
func SecretPath(name string) string {
	return SecretsDir + "/" + name
}

// Host-side layout under the operator's bot-bottle home, which is
// $BOT_BOTTLE_HOME when set and ~/.bot-bottle otherwise.
const (
	// HomeEnv overrides the bot-bottle home directory.
	HomeEnv = "BOT_BOTTLE_HOME"
	// HomeDirName is the home directory's name under the user's home.
	HomeDirName = ".bot-bottle"
	// BottlesDirName holds bottle definitions (*.md). Bottles grant
	// capabilities, so they load only from the operator's home.
	BottlesDirName = "bottles"
	// AgentsDirName holds agent definitions (*.md), in the home and in
	// $CWD/.bot-bottle.
	AgentsDirName = "agents"
	// StateDirName holds one 0700 directory per bottle (see BottleDir).
	StateDirName = "state"
)

// MaxSlugLen is the longest bottle slug ValidSlug accepts. Slugs become
// compose project, container and directory names.
const MaxSlugLen = 48

// ValidSlug reports whether s is a usable bottle slug: a lower-case letter,
// then lower-case letters, digits and '-', at most MaxSlugLen characters, not
// ending in '-'. The error says what is wrong.
func ValidSlug(s string) error {
	if s == "" {
		return fmt.Errorf("bottle slug is empty; use lower-case letters, digits and '-', as in %q", "my-bottle")
	}
	if len(s) > MaxSlugLen {
		return fmt.Errorf("bottle slug %q is %d characters; the limit is %d", s, len(s), MaxSlugLen)
	}
	if c := s[0]; c < 'a' || c > 'z' {
		return fmt.Errorf("bottle slug %q must start with a lower-case letter", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("bottle slug %q contains %s; use only lower-case letters, digits and '-'", s, describeByte(s, i))
		}
	}
	if s[len(s)-1] == '-' {
		return fmt.Errorf("bottle slug %q must not end in '-'", s)
	}
	return nil
}

// Environment variables. Every daemon flag has one; a flag given on the
// command line wins over its variable.
const (
	// EnvEgressRoutes is egress --routes FILE.
	EnvEgressRoutes = "BOT_BOTTLE_EGRESS_ROUTES"
	// EnvEgressCACert is egress --ca-cert FILE.
	EnvEgressCACert = "BOT_BOTTLE_EGRESS_CA_CERT"
	// EnvEgressCAKey is egress --ca-key FILE.
	EnvEgressCAKey = "BOT_BOTTLE_EGRESS_CA_KEY"
	// EnvEgressSecretsDir is egress --secrets-dir DIR.
	EnvEgressSecretsDir = "BOT_BOTTLE_EGRESS_SECRETS_DIR"
	// EnvEgressListen is egress --listen ADDR.
	EnvEgressListen = "BOT_BOTTLE_EGRESS_LISTEN"
	// EnvEgressAdmin is egress --admin ADDR.
	EnvEgressAdmin = "BOT_BOTTLE_EGRESS_ADMIN"
	// EnvEgressAudit is egress --audit FILE ("-" for standard output).
	EnvEgressAudit = "BOT_BOTTLE_EGRESS_AUDIT"
	// EnvEgressUpstreamCA is egress --upstream-ca FILE.
	EnvEgressUpstreamCA = "BOT_BOTTLE_EGRESS_UPSTREAM_CA"
	// EnvEgressResolve is egress --resolve HOST=IP; the variable holds
	// HOST=IP pairs separated by commas, one per repeated flag.
	EnvEgressResolve = "BOT_BOTTLE_EGRESS_RESOLVE"
	// EnvEgressMaxTunnels is egress --max-tunnels: concurrent CONNECT tunnels.
	EnvEgressMaxTunnels = "BOT_BOTTLE_EGRESS_MAX_TUNNELS"
	// EnvEgressHandshakeTimeout is egress --handshake-timeout: time from
	// CONNECT to a finished TLS handshake, and for request headers.
	EnvEgressHandshakeTimeout = "BOT_BOTTLE_EGRESS_HANDSHAKE_TIMEOUT"
	// EnvEgressIdleTimeout is egress --idle-timeout: idle agent connections
	// and passthrough tunnels are closed after it.
	EnvEgressIdleTimeout = "BOT_BOTTLE_EGRESS_IDLE_TIMEOUT"
	// EnvEgressAllowPeers is egress --allow-peers: who besides loopback
	// may use the proxy, comma-separated service names, IPs or CIDRs;
	// unset, loopback only. In a bottle: AgentNetHost.
	EnvEgressAllowPeers = "BOT_BOTTLE_EGRESS_ALLOW_PEERS"
	// EnvEgressAdminAllowPeers is egress --admin-allow-peers: who besides
	// loopback may use the admin port; unset, loopback only. In a bottle:
	// SuperviseHost, when the bottle has supervise.
	EnvEgressAdminAllowPeers = "BOT_BOTTLE_EGRESS_ADMIN_ALLOW_PEERS"

	// EnvGitGateConfig is gitgate --config FILE.
	EnvGitGateConfig = "BOT_BOTTLE_GITGATE_CONFIG"
	// EnvGitGateData is gitgate --data DIR.
	EnvGitGateData = "BOT_BOTTLE_GITGATE_DATA"
	// EnvGitGateSecretsDir is gitgate --secrets-dir DIR.
	EnvGitGateSecretsDir = "BOT_BOTTLE_GITGATE_SECRETS_DIR"
	// EnvGitGateListen is gitgate --listen ADDR.
	EnvGitGateListen = "BOT_BOTTLE_GITGATE_LISTEN"
	// EnvGitGateAdmin is gitgate --admin ADDR.
	EnvGitGateAdmin = "BOT_BOTTLE_GITGATE_ADMIN"
	// EnvGitGateMaxPack is gitgate --max-pack SIZE (e.g. 1G): the largest
	// request body, and so the largest push, the gate accepts.
	EnvGitGateMaxPack = "BOT_BOTTLE_GITGATE_MAX_PACK"
	// EnvGitGateRefreshInterval is gitgate --refresh-interval DURATION:
	// at most one upstream login per repository per interval for fetches.
	EnvGitGateRefreshInterval = "BOT_BOTTLE_GITGATE_REFRESH_INTERVAL"
	// EnvGitGateAllowPeers is gitgate --allow-peers: who besides loopback
	// may use the git smart-HTTP port; unset, loopback only. In a bottle:
	// AgentNetHost.
	EnvGitGateAllowPeers = "BOT_BOTTLE_GITGATE_ALLOW_PEERS"
	// EnvGitGateAdminAllowPeers is gitgate --admin-allow-peers: who besides
	// loopback may use the admin port; unset (as in a bottle), loopback
	// only.
	EnvGitGateAdminAllowPeers = "BOT_BOTTLE_GITGATE_ADMIN_ALLOW_PEERS"

	// EnvSuperviseQueue is supervise --queue DIR.
	EnvSuperviseQueue = "BOT_BOTTLE_SUPERVISE_QUEUE"
	// EnvSuperviseBottle is supervise --bottle SLUG.
	EnvSuperviseBottle = "BOT_BOTTLE_SUPERVISE_BOTTLE"
	// EnvSuperviseListen is supervise --listen ADDR.
	EnvSuperviseListen = "BOT_BOTTLE_SUPERVISE_LISTEN"
	// EnvSuperviseEgressAdmin is supervise --egress-admin URL.
	EnvSuperviseEgressAdmin = "BOT_BOTTLE_SUPERVISE_EGRESS_ADMIN"
	// EnvSuperviseResponseTimeout is supervise --response-timeout DURATION
	// (time.ParseDuration syntax, default DefaultResponseTimeout).
	EnvSuperviseResponseTimeout = "BOT_BOTTLE_SUPERVISE_RESPONSE_TIMEOUT"
	// EnvSuperviseMaxPending is supervise --max-pending N: how many of the
	// bottle's proposals may wait for the operator at once.
	EnvSuperviseMaxPending = "BOT_BOTTLE_SUPERVISE_MAX_PENDING"
	// EnvSuperviseRate is supervise --rate N/INTERVAL (such as 10/m): how
	// many proposals the agent may make per interval.
	EnvSuperviseRate = "BOT_BOTTLE_SUPERVISE_RATE"
	// EnvSuperviseAllowPeers is supervise --allow-peers: who besides
	// loopback may use the MCP port; unset, loopback only. In a bottle:
	// AgentNetHost.
	EnvSuperviseAllowPeers = "BOT_BOTTLE_SUPERVISE_ALLOW_PEERS"

	// EnvSidecarDaemons names the daemons sidecar-init starts when given no
	// arguments, separated by commas: "egress,gitgate,supervise".
	EnvSidecarDaemons = "BOT_BOTTLE_SIDECAR_DAEMONS"
	// EnvSidecarBinDir is sidecar-init --bin-dir: where daemon executables
	// are found by name.
	EnvSidecarBinDir = "BOT_BOTTLE_SIDECAR_BIN_DIR"
	// EnvSidecarGrace is sidecar-init --grace: how long daemons get to exit
	// after SIGTERM before they are killed.
	EnvSidecarGrace = "BOT_BOTTLE_SIDECAR_GRACE"

	// EnvAgentCACert is set in the agent's environment to AgentCACertPath,
	// the bottle CA egress signs with, for tools and provisioning that
	// need to trust it.
	EnvAgentCACert = "BOT_BOTTLE_CA_CERT"
)

// DefaultResponseTimeout is how long supervise waits for the operator's
// response before telling the agent its proposal is pending.
const DefaultResponseTimeout = 30 * time.Second

// Compose labels the CLI puts on a bottle's project and containers.
const (
	// LabelBottle holds the bottle slug.
	LabelBottle = "dev.bot-bottle.bottle"
	// LabelAgent holds the agent name.
	LabelAgent = "dev.bot-bottle.agent"
	// LabelVersion holds the contract Version the project was generated
	// with, in decimal.
	LabelVersion = "dev.bot-bottle.contract-version"
)
