package contract

import (
	"fmt"
	"path/filepath"
)

// A bottle's directory holds everything one bottle has on the host: its
// compose project and the files the sidecars are given or write. `bot-bottle
// up` keeps one per bottle at <home>/state/<slug>/ (see StateBottleDir);
// `bot-bottle render -o DIR` writes the same layout into DIR, and `docker
// compose up` runs it from there. These are the names inside it, relative
// to its root and slash-separated; the compose file mounts them as
// "./<name>". Nothing else in the code spells a bottle's paths.
const (
	// BottleComposeFile is the compose project file.
	BottleComposeFile = "compose.yaml"
	// BottleReadmeFile says what the directory is and how to run it.
	BottleReadmeFile = "README.md"
	// BottleConfigDir is seen read-only by the sidecars at ConfigDir: the
	// routes and gate files and the CA certificate. The directory, not each
	// file, is mounted, so an atomic rename of the routes file reaches
	// egress on reload.
	BottleConfigDir = "config"
	// BottleRoutesFile is the routes file egress reads at RoutesPath.
	BottleRoutesFile = BottleConfigDir + "/" + RoutesFileName
	// BottleGateFile is the gate file gitgate reads at GatePath.
	BottleGateFile = BottleConfigDir + "/" + GateFileName
	// BottleCACertFile is the bottle CA's certificate (public; egress reads
	// it at CACertPath, the agent trusts it at AgentCACertPath).
	BottleCACertFile = BottleConfigDir + "/" + CACertFileName
	// BottleUpstreamCAFile is the extra roots egress trusts upstream, when
	// the bottle names some.
	BottleUpstreamCAFile = BottleConfigDir + "/" + UpstreamCAFileName
	// BottleSecretsDir (0700) holds one 0400 file per secret, given to the
	// sidecars that need each as compose secrets. Nothing in it reaches
	// the agent.
	BottleSecretsDir = "secrets"
	// BottleQueueDir (0700) is supervise's proposal queue, mounted at
	// QueueDir; `bot-bottle proposals` decides what is in it.
	BottleQueueDir = "queue"
	// BottleAuditFile is the audit log egress appends to and the operator's
	// decisions are recorded in.
	BottleAuditFile = AuditFileName
	// BottleGitDataDir (0700) holds the gate's bare repositories; it
	// outlives a restart of the bottle.
	BottleGitDataDir = "git"
	// BottleAgentEnvFile holds the agent's env values read from the host or
	// asked for at launch (0600), when there are any.
	BottleAgentEnvFile = "agent.env"
	// BottleEgressPIDFile holds the PID of an egress run directly on the
	// host (tests, development); proposals signal it to reload.
	BottleEgressPIDFile = "egress.pid"
	// BottleAgentDockerfile is the agent image's override: FROM the
	// bottle's agent image, then what approved capability-block
	// proposals added. Absent until the first is approved.
	BottleAgentDockerfile = "agent.Dockerfile"
	// BottleMetadataFile says what the bottle is (slug, agent, image, where
	// it was started from, when) for list, resume and down. It holds no
	// secret.
	BottleMetadataFile = "metadata.json"
)

// BottleDir is a bottle's directory on the host (see BottleComposeFile for
// what is in it).
type BottleDir string

// StateBottleDir is the directory `bot-bottle up` keeps the bottle slug
// in: home/state/slug. The slug must be valid (ValidSlug), so the
// directory is always one level under home/state.
func StateBottleDir(home, slug string) (BottleDir, error) {
	if err := ValidSlug(slug); err != nil {
		return "", fmt.Errorf("bottle directory: %w", err)
	}
	return BottleDir(filepath.Join(home, StateDirName, slug)), nil
}

// StateBottlesDir is home/state, which holds every bottle's directory.
func StateBottlesDir(home string) string { return filepath.Join(home, StateDirName) }

// Path returns the host path of name, one of the Bottle* names.
func (d BottleDir) Path(name string) string {
	return filepath.Join(string(d), filepath.FromSlash(name))
}

// RoutesFile is the bottle's routes file.
func (d BottleDir) RoutesFile() string { return d.Path(BottleRoutesFile) }

// GateFile is the bottle's gate file.
func (d BottleDir) GateFile() string { return d.Path(BottleGateFile) }

// QueueDir is the bottle's proposal queue.
func (d BottleDir) QueueDir() string { return d.Path(BottleQueueDir) }

// AuditFile is the bottle's audit log.
func (d BottleDir) AuditFile() string { return d.Path(BottleAuditFile) }

// SecretFile is the file holding the secret called name (ValidSecretName).
func (d BottleDir) SecretFile(name string) string {
	return d.Path(BottleSecretsDir + "/" + name)
}
