// Package compose generates a bottle's docker compose project with
// compose-go's types, and encodes it as the project directory's
// compose.yaml.
//
// The project directory (written by internal/host/render) is self-contained:
// every path in compose.yaml is relative to it, so it runs with plain
// `docker compose` from wherever it is moved to:
//
//	compose.yaml
//	config/      routes.yaml, gate.yaml, ca.crt; sidecars see it read-only
//	             at contract.ConfigDir (the directory, so an atomic rename
//	             of routes.yaml reaches egress on reload)
//	secrets/     one 0400 file per secret, given to sidecars as compose
//	             secrets at contract.SecretsDir
//	git/         gitgate's bare repositories (contract.GitDataDir)
//	queue/       supervise's proposal queue, unless Spec.QueueDir is absolute
//	audit.jsonl  egress's audit log
//	agent.env    the agent's env_file, when there is one
//
// Services: agent-net owns the agent's network namespace on the internal
// network (internal: true) and resolves nothing outside the project; it
// does nothing else, so it never goes away and takes the namespace with
// it. netguard joins that namespace and strips its route to the bridge
// gateway; a netguard crash restarts it into the same namespace. agent
// shares it too (network_mode: service:agent-net), sends HTTP(S) through
// egress, sees of the directory only the CA certificate, never a secret,
// holds no capability at all, and runs within the bottle's memory (no
// swap), CPU and process limits (Spec.Resources). egress and git-gate sit
// on both networks; supervise only on the internal one. The agent starts
// once every sidecar reports healthy. No port is published, and each
// sidecar listener is told which services may connect
// (contract.EnvEgressAllowPeers and its kin: agent-net, and supervise on
// egress's admin port); the daemons reset everyone else, including the
// host, which reaches both networks from their bridge gateways.
//
// A Spec carries secret names, never values, so no value can reach the
// YAML; tests load the output back with compose-go and docker compose and
// try to find a secret on the agent's side.
package compose
