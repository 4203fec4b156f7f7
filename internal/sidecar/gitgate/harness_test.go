package gitgate

import (
	"context"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/scaffold/gitsshd"
	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// sshUpstream is a real SSH server (gliderlabs/ssh) that runs git
// upload-pack and receive-pack on bare repositories, for one client key.
type sshUpstream struct {
	*gitsshd.Server
	root      string
	addr      string
	clientPEM []byte // the gate's identity
}

func newSSHUpstream(t testing.TB) *sshUpstream {
	t.Helper()
	root := t.TempDir()
	s, err := gitsshd.Start(root)
	if err != nil {
		t.Fatal(err)
	}
	s.Env = testGitEnv(root)
	t.Cleanup(func() { _ = s.Close() })
	return &sshUpstream{Server: s, root: root, addr: s.Addr, clientPEM: s.ClientKeyPEM}
}

func (u *sshUpstream) hostKeyLine() string { return u.HostKeyLine() }

// newRepo creates an empty bare repository name.git on the upstream and
// returns its path.
func (u *sshUpstream) newRepo(t testing.TB, name string) string {
	t.Helper()
	dir := filepath.Join(u.root, name+".git")
	git(t, u.root, "init", "--bare", "--quiet", dir)
	return dir
}

func (u *sshUpstream) url(name string) string { return u.URL(name) }

// testGitEnv is the environment of the git CLI in tests: no system or user
// config but a test identity.
func testGitEnv(home string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Agent", "GIT_AUTHOR_EMAIL=agent@bottle.test",
		"GIT_COMMITTER_NAME=Agent", "GIT_COMMITTER_EMAIL=agent@bottle.test",
		"GIT_CONFIG_COUNT=2",
		"GIT_CONFIG_KEY_0=init.defaultBranch", "GIT_CONFIG_VALUE_0=main",
		"GIT_CONFIG_KEY_1=advice.detachedHead", "GIT_CONFIG_VALUE_1=false",
		"LC_ALL=C",
	}
}

// gitRun runs the git CLI in dir and returns its combined output.
func gitRun(dir string, env []string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(testGitEnv(dir), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// git runs the git CLI and fails the test if it fails.
func git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := gitRun(dir, nil, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

// gitFails runs the git CLI, fails the test if it succeeds, and returns
// its output.
func gitFails(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := gitRun(dir, nil, args...)
	if err == nil {
		t.Fatalf("git %s succeeded, want failure:\n%s", strings.Join(args, " "), out)
	}
	return out
}

// commitFile writes content to path in the work tree dir and commits it.
func commitFile(t testing.TB, dir, path, content, msg string) string {
	t.Helper()
	full := filepath.Join(dir, path)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "--quiet", "-m", msg)
	return git(t, dir, "rev-parse", "HEAD")
}

// seed fills the upstream repository at bare with a few commits on main,
// pushed directly (not through the gate).
func seed(t testing.TB, bare string, files map[string]string) {
	t.Helper()
	work := t.TempDir()
	git(t, work, "init", "--quiet", ".")
	for path, content := range files {
		commitFile(t, work, path, content, "add "+path)
	}
	git(t, work, "push", "--quiet", bare, "HEAD:refs/heads/main")
}

// refsOf lists the refs of the repository at dir as "hash name" lines.
func refsOf(t testing.TB, dir string) string {
	t.Helper()
	return git(t, dir, "for-each-ref", "--format=%(objectname) %(refname)")
}

// testGate is a gate serving in-process.
type testGate struct {
	srv      *Server
	url      string // http://127.0.0.1:port
	data     string
	secrets  string
	gateFile string // the gate file the gate rereads DLP exceptions from
	logs     *testutil.SyncBuffer
	audit    *testutil.SyncBuffer
	cancel   context.CancelFunc
	done     chan error
	upstream *sshUpstream
}

type gateOption func(*Config, *contract.GateFile)

// withExceptions starts the gate with fps as repo's DLP exceptions.
func withExceptions(repo string, fps ...contract.Fingerprint) gateOption {
	return func(_ *Config, gate *contract.GateFile) {
		r, _ := gate.Lookup(repo)
		r.DLPExceptions = append(r.DLPExceptions, fps...)
	}
}

// withRepo changes the gate-file entry of the repository name.
func withRepo(name string, f func(*contract.Repo)) gateOption {
	return func(_ *Config, gate *contract.GateFile) {
		for i := range gate.Repos {
			if gate.Repos[i].Name == name {
				f(&gate.Repos[i])
			}
		}
	}
}

func withMaxPack(n int64) gateOption {
	return func(c *Config, _ *contract.GateFile) { c.MaxPack = n }
}

// startGate serves repos on the upstream u (each given by name, declared
// with u's key and host key) through an in-process gate.
func startGate(t testing.TB, u *sshUpstream, names []string, opts ...gateOption) *testGate {
	t.Helper()
	dir := t.TempDir()
	g := &testGate{data: filepath.Join(dir, "data"), secrets: filepath.Join(dir, "secrets"),
		logs: &testutil.SyncBuffer{}, audit: &testutil.SyncBuffer{}, upstream: u}
	if err := os.Mkdir(g.secrets, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(g.secrets, "upstream_key"), u.clientPEM, 0o400); err != nil {
		t.Fatal(err)
	}
	gate := &contract.GateFile{Version: contract.Version}
	for _, n := range names {
		gate.Repos = append(gate.Repos, contract.Repo{Name: n, URL: u.url(n), Identity: "upstream_key", HostKey: u.hostKeyLine()})
	}
	g.gateFile = filepath.Join(dir, "gate.yaml")
	// Tests change the upstream behind the gate's back and fetch at once:
	// no rate limit unless a test sets one.
	cfg := Config{ConfigFile: g.gateFile, DataDir: g.data, SecretsDir: g.secrets, Listen: "127.0.0.1:0", Admin: "off",
		RefreshInterval: time.Nanosecond}
	for _, o := range opts {
		o(&cfg, gate)
	}
	g.writeGateFile(t, gate)
	return g.start(t, cfg, gate)
}

// writeGateFile replaces the gate file the way the operator's CLI does:
// a new file renamed over the old one.
func (g *testGate) writeGateFile(t testing.TB, gate *contract.GateFile) {
	t.Helper()
	data, err := gate.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	g.writeGateBytes(t, data)
}

func (g *testGate) writeGateBytes(t testing.TB, data []byte) {
	t.Helper()
	tmp := g.gateFile + ".new"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, g.gateFile); err != nil {
		t.Fatal(err)
	}
}

// setExceptions rewrites the running gate's gate file with exactly these
// DLP exceptions per repository.
func (g *testGate) setExceptions(t testing.TB, byRepo map[string][]contract.Fingerprint) {
	t.Helper()
	data, err := os.ReadFile(g.gateFile)
	if err != nil {
		t.Fatal(err)
	}
	gate, err := contract.ParseGate(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := range gate.Repos {
		gate.Repos[i].DLPExceptions = byRepo[gate.Repos[i].Name]
	}
	g.writeGateFile(t, gate)
}

func (g *testGate) start(t testing.TB, cfg Config, gate *contract.GateFile) *testGate {
	t.Helper()
	if err := gate.Validate(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(g.logs, nil))
	srv, err := NewServer(cfg, gate, log, g.audit)
	if err != nil {
		t.Fatal(err)
	}
	g.srv = srv
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.url = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	g.cancel, g.done = cancel, make(chan error, 1)
	go func() { g.done <- srv.Serve(ctx, ln, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-g.done; err != nil {
			t.Errorf("serve: %v", err)
		}
		if t.Failed() {
			t.Logf("gate log:\n%s", g.logs.String())
		}
	})
	return g
}

func (g *testGate) repoURL(name string) string { return g.url + "/" + name + ".git" }

// gateDir is the gate's bare repository for name.
func (g *testGate) gateDir(name string) string { return filepath.Join(g.data, name+".git") }

// fakeToken returns a GitHub-token-shaped string gitleaks flags, built at
// run time so that no secret-shaped literal sits in this repository.
func fakeToken(seed uint64) string {
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	r := mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, 36)
	for i := range b {
		b[i] = alnum[r.IntN(len(alnum))]
	}
	return "ghp" + "_" + string(b)
}

// clone clones repo through the gate into a new directory and returns it.
func (g *testGate) clone(t testing.TB, name string, args ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	git(t, filepath.Dir(dir), append(append([]string{"clone", "--quiet"}, args...), g.repoURL(name), dir)...)
	return dir
}

// writeRandom writes n random bytes to path.
func writeRandom(t testing.TB, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := mrand.NewChaCha8([32]byte{byte(n), byte(n >> 8), byte(n >> 16)})
	if _, err := io.CopyN(f, r, int64(n)); err != nil {
		t.Fatal(err)
	}
}

func writeExec(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}
