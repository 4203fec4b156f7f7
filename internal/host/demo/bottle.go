// Package demo stands up a real bottle on the local Docker engine with a
// pretend internet beside it, for `make demo` and the Docker end-to-end
// tests. The bottle is rendered by internal/host/render from generated manifests
// exactly as an operator's would be; a compose override file adds the two
// demo upstreams (an HTTPS API that wants a token, an SSH git server) to the
// bottle's egress network and gives egress the demo API's CA.
package demo

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/bot-bottle/bot-bottle/internal/host/compose"
	"github.com/bot-bottle/bot-bottle/internal/host/manifest"
	"github.com/bot-bottle/bot-bottle/internal/host/render"
	"github.com/bot-bottle/bot-bottle/internal/shared/pki"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// Names the demo bottle uses.
const (
	APIHost      = "api.demo.test"
	GitHost      = "git.demo.test"
	RepoName     = "demo"
	TokenEnv     = "DEMO_API_TOKEN"
	Placeholder  = "placeholder-egress-holds-the-real-token"
	OverrideFile = "compose.demo.yaml"
	UpstreamDir  = "upstream"
)

// The demo agent's limits (the bottle's resources block), smaller than
// the defaults so the end-to-end tests see the manifest's values reach
// the container and can fill its process table quickly.
const (
	AgentMemory = "1g"
	AgentCPUs   = "1"
	AgentPids   = 256
)

// ImageNames are the images a demo bottle runs, as images/build.sh names
// them: the sidecars, the test agent and the pretend internet.
var ImageNames = []string{"egress", "gitgate", "supervise", "netguard", "agent-test", "demo-upstream"}

// Image is the reference of the bot-bottle image name at tag.
func Image(name, tag string) string { return "bot-bottle/" + name + ":" + tag }

// Config says which bottle to stand up.
type Config struct {
	// Slug names the bottle (and its agent); the compose project is
	// bot-bottle-<Slug>.
	Slug string
	// WorkDir holds the generated home, keys and the project; it must
	// exist and is left for the caller to remove.
	WorkDir string
	// ImageTag is the tag of the bot-bottle images (render.DefaultImageTag
	// when empty).
	ImageTag string
	// Log receives docker compose's progress output; nil discards it.
	Log io.Writer
	// Plain leaves out the pretend internet: the rendered project alone,
	// run exactly as an operator would, with "docker compose" in its
	// directory and no flags (the bottle's API and git upstream are then
	// unreachable, which the cross-bottle tests do not need).
	Plain bool
}

// Bottle is a running demo bottle.
type Bottle struct {
	Config
	// Dir is the rendered project directory.
	Dir string
	// Project is the compose project name.
	Project string
	// Token is the real API token (egress holds it; the agent must not).
	Token string
	// Secrets are every secret value of the bottle: the token, the CA key,
	// the SSH identity. Tests search for them where they must not be.
	Secrets map[string][]byte
}

// Up renders the demo bottle and starts it, waiting until every service
// is healthy. On failure it tears down what it started.
func Up(ctx context.Context, cfg Config) (*Bottle, error) {
	if cfg.ImageTag == "" {
		cfg.ImageTag = render.DefaultImageTag
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	b := &Bottle{Config: cfg, Dir: filepath.Join(cfg.WorkDir, "project")}
	if err := b.prepare(); err != nil {
		return nil, err
	}
	if err := b.Compose(ctx, "up", "-d", "--wait"); err != nil {
		logs, _ := b.ComposeOutput(context.WithoutCancel(ctx), "logs", "--no-color", "--tail", "40")
		_ = b.Down(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("start %s: %w\n%s", b.Project, err, logs)
	}
	return b, nil
}

// Upstream is the demo's pretend internet on disk: the keys, certificates
// and token its API and git server use, and the gate's key for the git
// server.
type Upstream struct {
	// Dir holds token, host_key, client.pub, api-ca.crt, api.crt, api.key
	// and git/ (the git server's repositories).
	Dir string
	// Token is the real API token (egress holds it; the agent must not).
	Token string
	// HostLine is the git server's public host key, a known_hosts line.
	HostLine string
	// Identity is the path of the gate's private key for the git server.
	Identity string
}

// PrepareUpstream writes a new pretend internet's files under workDir.
// Its API answers as APIHost and as each of alsoAPI (a test's stand-in for
// a provider's API: the certificate names them all).
func PrepareUpstream(workDir string, alsoAPI ...string) (*Upstream, error) {
	u := &Upstream{Dir: filepath.Join(workDir, UpstreamDir), Identity: filepath.Join(workDir, "id_ed25519")}
	if err := os.MkdirAll(filepath.Join(u.Dir, "git"), 0o700); err != nil {
		return nil, err
	}
	u.Token = "demo_" + randomHex(20)
	hostKey, hostLine, err := sshKey()
	if err != nil {
		return nil, err
	}
	u.HostLine = hostLine
	clientKey, clientLine, err := sshKey()
	if err != nil {
		return nil, err
	}
	caPEM, certPEM, keyPEM, err := apiPKI(append([]string{APIHost}, alsoAPI...))
	if err != nil {
		return nil, err
	}
	for path, data := range map[string][]byte{
		filepath.Join(u.Dir, "token"):      []byte(u.Token + "\n"),
		filepath.Join(u.Dir, "host_key"):   hostKey,
		filepath.Join(u.Dir, "client.pub"): []byte(clientLine + "\n"),
		filepath.Join(u.Dir, "api-ca.crt"): caPEM,
		filepath.Join(u.Dir, "api.crt"):    certPEM,
		filepath.Join(u.Dir, "api.key"):    keyPEM,
		u.Identity:                         clientKey,
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, err
		}
	}
	// egress (uid 65532) reads the demo API's CA through a bind mount of
	// this one file; it is a certificate, not a secret.
	if err := os.Chmod(filepath.Join(u.Dir, "api-ca.crt"), 0o644); err != nil {
		return nil, err
	}
	return u, nil
}

// BottleManifest is a bottle whose gate repo and API route point at the
// pretend internet (and which runs supervise).
func (u *Upstream) BottleManifest() string { return bottleManifest(u.Identity, u.HostLine) }

// Server is one of the pretend internet's servers, as a container.
type Server struct {
	// Name is its compose service name; Alias the host name it answers to
	// on a bottle's egress network.
	Name, Alias string
	// Command is demo-upstream's arguments; Volumes are "host:container[:ro]".
	Command, Volumes []string
}

// Servers are the pretend internet's API and git server.
func (u *Upstream) Servers() []Server {
	return []Server{
		{Name: "api", Alias: APIHost,
			Command: []string{"api", "--listen", ":443", "--cert", "/demo/api.crt", "--key", "/demo/api.key", "--token-file", "/demo/token"},
			Volumes: []string{u.Dir + ":/demo:ro"}},
		{Name: "git-upstream", Alias: GitHost,
			Command: []string{"git", "--listen", ":2222", "--root", "/srv/git", "--host-key", "/demo/host_key", "--authorized-key", "/demo/client.pub", "--init", RepoName},
			Volumes: []string{u.Dir + ":/demo:ro", filepath.Join(u.Dir, "git") + ":/srv/git"}},
	}
}

// prepare writes keys, manifests, the rendered project and the override.
func (b *Bottle) prepare() error {
	home := filepath.Join(b.WorkDir, "home")
	for _, d := range []string{filepath.Join(home, "bottles"), filepath.Join(home, "agents")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	u, err := PrepareUpstream(b.WorkDir)
	if err != nil {
		return err
	}
	token := u.Token
	b.Token = token
	files := map[string][]byte{
		filepath.Join(home, "bottles", b.Slug+".md"): []byte(u.BottleManifest()),
		filepath.Join(home, "agents", b.Slug+".md"):  []byte(agentManifest(b.Slug)),
	}
	for path, data := range files {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return err
		}
	}
	// The demo upstreams run as root in their own containers; the files
	// are theirs alone.
	m, err := manifest.Load(manifest.Options{Home: home, CWD: b.WorkDir})
	if err != nil {
		return fmt.Errorf("load the demo manifests: %w", err)
	}
	eff, err := m.Effective(b.Slug)
	if err != nil {
		return err
	}
	getenv := func(k string) string {
		if k == TokenEnv {
			return token
		}
		return ""
	}
	res, err := render.Render(eff, render.Options{
		Dir:        b.Dir,
		Images:     compose.DefaultImages(b.ImageTag),
		AgentImage: Image("agent-test", b.ImageTag),
		Getenv:     getenv,
	})
	if err != nil {
		return err
	}
	b.Project = res.Project
	b.Secrets = map[string][]byte{}
	for _, name := range res.Secrets {
		data, err := os.ReadFile(contract.BottleDir(b.Dir).SecretFile(name))
		if err != nil {
			return err
		}
		b.Secrets[name] = data
	}
	if b.Plain {
		return nil
	}
	return os.WriteFile(filepath.Join(b.Dir, OverrideFile), []byte(override(u, b.ImageTag)), 0o644)
}

func bottleManifest(identity, hostLine string) string {
	return `---
env:
  ` + TokenEnv + `: ` + Placeholder + `
git-gate:
  user: {name: demo agent, email: agent@demo.test}
  repos:
    ` + RepoName + `:
      url: ssh://git@` + GitHost + `:2222/` + RepoName + `.git
      identity: ` + identity + `
      host_key: "` + hostLine + `"
egress:
  routes:
    - host: ` + APIHost + `
      path_allowlist: ["/v1/"]
      methods: [GET, POST]
      auth: {scheme: Bearer, token_ref: ` + TokenEnv + `}
      # The demo's "internet" is a private Docker network.
      ssrf_allow: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
supervise: true
resources: {memory: ` + AgentMemory + `, cpus: ` + AgentCPUs + `, pids: ` + strconv.Itoa(AgentPids) + `}
---
The demo bottle: one API with a token egress injects, one repo behind the gate.
`
}

func agentManifest(slug string) string {
	return "---\nbottle: " + slug + "\n---\nYou are the bot-bottle demo agent.\n"
}

// override adds the demo upstreams to the egress network and trusts the
// demo API's CA in egress.
func override(u *Upstream, tag string) string {
	var b strings.Builder
	b.WriteString("# The demo's pretend internet, beside the bottle rendered into compose.yaml.\nservices:\n")
	for _, srv := range u.Servers() {
		fmt.Fprintf(&b, "  %s:\n    image: %s\n    user: \"0:0\"\n    command: %s\n    volumes: %s\n    networks:\n      egress:\n        aliases: [%q]\n",
			srv.Name, Image("demo-upstream", tag), flowList(srv.Command), flowList(srv.Volumes), srv.Alias)
	}
	fmt.Fprintf(&b, "  egress:\n    environment:\n      BOT_BOTTLE_EGRESS_UPSTREAM_CA: /demo-ca/api-ca.crt\n    volumes: [%q]\n",
		filepath.Join(u.Dir, "api-ca.crt")+":/demo-ca/api-ca.crt:ro")
	return b.String()
}

// flowList writes strings as a YAML flow sequence of quoted strings.
func flowList(items []string) string {
	quoted := make([]string, len(items))
	for i, it := range items {
		quoted[i] = strconv.Quote(it)
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// Compose runs docker compose on the bottle's project, output to Log.
func (b *Bottle) Compose(ctx context.Context, args ...string) error {
	cmd := b.composeCmd(ctx, args...)
	cmd.Stdout, cmd.Stderr = b.Log, b.Log
	return cmd.Run()
}

// ComposeOutput runs docker compose and returns its combined output.
func (b *Bottle) ComposeOutput(ctx context.Context, args ...string) (string, error) {
	out, err := b.composeCmd(ctx, args...).CombinedOutput()
	return string(out), err
}

func (b *Bottle) composeCmd(ctx context.Context, args ...string) *exec.Cmd {
	full := []string{"compose"}
	if !b.Plain {
		full = append(full, "-f", contract.BottleComposeFile, "-f", OverrideFile)
	}
	cmd := exec.CommandContext(ctx, "docker", append(full, args...)...)
	// Run in the project directory: a plain bottle is started exactly as
	// its README says, and compose.yaml names the project.
	cmd.Dir = b.Dir
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// Result is what a command in a container did.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Exec runs argv in service (as its default user), feeding stdin.
func (b *Bottle) Exec(ctx context.Context, service string, stdin []byte, argv ...string) (Result, error) {
	args := append([]string{"exec", "-T", service}, argv...)
	cmd := b.composeCmd(ctx, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	r := Result{Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.Code = ee.ExitCode()
		return r, nil
	}
	return r, err
}

// Agent runs a shell command line in the agent container.
func (b *Bottle) Agent(ctx context.Context, script string) (Result, error) {
	return b.Exec(ctx, "agent", nil, "sh", "-c", script)
}

// ContainerID returns the container id of service.
func (b *Bottle) ContainerID(ctx context.Context, service string) (string, error) {
	out, err := b.composeCmd(ctx, "ps", "-q", service).Output()
	if err != nil {
		return "", fmt.Errorf("find the %s container: %w", service, err)
	}
	id := strings.TrimSpace(string(out))
	if id == "" {
		return "", fmt.Errorf("no %s container is running", service)
	}
	return id, nil
}

// IP returns service's address on the project network named network
// ("internal" or "egress").
func (b *Bottle) IP(ctx context.Context, service, network string) (string, error) {
	id, err := b.ContainerID(ctx, service)
	if err != nil {
		return "", err
	}
	format := fmt.Sprintf(`{{with index .NetworkSettings.Networks %q}}{{.IPAddress}}{{end}}`, b.Project+"_"+network)
	out, err := exec.CommandContext(ctx, "docker", "inspect", "-f", format, id).Output()
	if err != nil {
		return "", fmt.Errorf("inspect %s: %w", service, err)
	}
	ip := strings.TrimSpace(string(out))
	if ip == "" {
		return "", fmt.Errorf("%s has no address on %s", service, network)
	}
	return ip, nil
}

// Down stops the bottle and removes its containers and networks. The
// project directory (and the gate's mirror in it) stays.
func (b *Bottle) Down(ctx context.Context) error {
	return b.Compose(ctx, "down", "--remove-orphans", "--timeout", "5")
}

func randomHex(n int) string {
	buf := make([]byte, n)
	_, _ = rand.Read(buf)
	return hex.EncodeToString(buf)
}

// sshKey returns a fresh Ed25519 private key (OpenSSH PEM) and its
// authorized_keys line.
func sshKey() ([]byte, string, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, "", err
	}
	block, err := gossh.MarshalPrivateKey(priv, "")
	if err != nil {
		return nil, "", err
	}
	sp, err := gossh.NewPublicKey(pub)
	if err != nil {
		return nil, "", err
	}
	return pem.EncodeToMemory(block), strings.TrimSpace(string(gossh.MarshalAuthorizedKey(sp))), nil
}

// apiPKI mints the demo API's own CA and its server certificate for
// hosts, valid for one demo run.
func apiPKI(hosts []string) (caPEM, certPEM, keyPEM []byte, err error) {
	now := time.Now()
	ca, err := pki.NewCA("demo internet CA", now, 24*time.Hour)
	if err != nil {
		return nil, nil, nil, err
	}
	leaf, err := ca.Issue(now, 24*time.Hour, hosts...)
	if err != nil {
		return nil, nil, nil, err
	}
	certPEM, keyPEM, err = pki.PEM(leaf)
	return ca.CertPEM(), certPEM, keyPEM, err
}
