package render

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/host/compose"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// CAValidity is how long a bottle CA is valid. A bottle is re-rendered
// (with a new CA) long before that.
const CAValidity = 365 * 24 * time.Hour

// bottleCA is a per-bottle certificate authority egress mints leaves from.
type bottleCA struct {
	certPEM, keyPEM []byte
}

// newBottleCA mints an ECDSA P-256 CA that may sign only leaves (path
// length zero).
func newBottleCA(slug string, now time.Time) (*bottleCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("mint the bottle CA key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("mint the bottle CA serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "bot-bottle " + slug + " CA", Organization: []string{"bot-bottle"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("mint the bottle CA certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode the bottle CA key: %w", err)
	}
	return &bottleCA{
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// write lays the project out under root (a fresh temporary directory).
func (p *plan) write(root string) error {
	w := writer{root: root, owner: p.owner}
	w.dir("", 0o700, false)
	w.dir(ConfigDir, 0o755, false)
	w.dir(SecretsDir, 0o700, true)
	if p.spec.GitGate {
		w.dir(GitDataDir, 0o700, true)
	}
	if p.spec.Supervise && p.queueDir == "" {
		w.dir(QueueDir, 0o700, true)
	}

	routes, err := p.routes.Marshal()
	if err != nil {
		return fmt.Errorf("encode the routes file: %w", err)
	}
	w.file(filepath.Join(ConfigDir, contract.RoutesFileName), routes, 0o644, false)
	if p.gate != nil {
		gate, err := p.gate.Marshal()
		if err != nil {
			return fmt.Errorf("encode the gate file: %w", err)
		}
		w.file(filepath.Join(ConfigDir, contract.GateFileName), gate, 0o644, false)
	}
	w.file(filepath.Join(ConfigDir, CACertFile), p.ca.certPEM, 0o644, false)
	for name, value := range p.secrets {
		w.file(filepath.Join(SecretsDir, name), value, 0o400, true)
	}
	w.file(AuditFile, nil, 0o600, true)
	if len(p.agentEnv) > 0 {
		var b strings.Builder
		b.WriteString("# The agent's env values read from your environment or asked at render time.\n")
		for _, e := range p.agentEnv {
			fmt.Fprintf(&b, "%s='%s'\n", e.name, e.value)
		}
		w.file(AgentEnvFile, []byte(b.String()), 0o600, false)
	}

	proj, err := compose.Project(p.spec)
	if err != nil {
		return fmt.Errorf("generate the compose project: %w", err)
	}
	yml, err := compose.Marshal(proj)
	if err != nil {
		return fmt.Errorf("encode the compose project: %w", err)
	}
	w.file(ComposeFile, yml, 0o644, false)
	w.file(ReadmeFile, []byte(p.readme()), 0o644, false)
	return w.err
}

// writer creates files and directories, remembering the first error.
type writer struct {
	root  string
	owner owner
	err   error
}

// dir creates rel with mode; sidecar marks paths a sidecar must write (or
// read, for secrets) and so hands them to the sidecar user when rendering
// as root.
func (w *writer) dir(rel string, mode os.FileMode, sidecar bool) {
	if w.err != nil {
		return
	}
	path := filepath.Join(w.root, rel)
	if err := os.MkdirAll(path, mode); err != nil {
		w.err = fmt.Errorf("create %s: %w", rel, err)
		return
	}
	w.finish(path, rel, mode, sidecar)
}

func (w *writer) file(rel string, data []byte, mode os.FileMode, sidecar bool) {
	if w.err != nil {
		return
	}
	path := filepath.Join(w.root, rel)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		w.err = fmt.Errorf("write %s: %w", rel, err)
		return
	}
	w.finish(path, rel, mode, sidecar)
}

func (w *writer) finish(path, rel string, mode os.FileMode, sidecar bool) {
	if err := os.Chmod(path, mode); err != nil {
		w.err = fmt.Errorf("chmod %s: %w", rel, err)
		return
	}
	if sidecar && w.owner.chown {
		if err := os.Lchown(path, w.owner.uid, w.owner.gid); err != nil {
			w.err = fmt.Errorf("hand %s to the sidecar user %d: %w", rel, w.owner.uid, err)
		}
	}
}

func (p *plan) readme() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# bot-bottle project %s%s\n\n", ProjectPrefix, p.slug)
	b.WriteString("Generated by `bot-bottle render`. Start it with `docker compose up -d` in this\n")
	b.WriteString("directory, open the agent with `docker compose exec agent sh`, and stop it with\n")
	b.WriteString("`docker compose down`. No bot-bottle binary is needed.\n\n")
	b.WriteString("- `compose.yaml` wires the agent (internal network only) to its sidecars.\n")
	b.WriteString("- `config/` is mounted read-only into the sidecars: routes, gate file, CA certificate.\n")
	b.WriteString("- `secrets/` (0700, files 0400) holds the CA key, tokens and SSH keys; only the\n")
	b.WriteString("  sidecars that need each one get it, as a compose secret. Keep this directory private.\n")
	if p.spec.GitGate {
		b.WriteString("- `git/` is the git gate's mirror; it persists across `down` and `up`.\n")
	}
	if p.spec.Supervise && p.queueDir == "" {
		b.WriteString("- `queue/` holds the agent's proposals.\n")
	}
	b.WriteString("- `audit.jsonl` gets one line per request egress handled.\n")
	return b.String()
}
