package render

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/host/compose"
	"github.com/bot-bottle/bot-bottle/internal/host/manifest"
	"github.com/bot-bottle/bot-bottle/internal/host/provider"
	"github.com/bot-bottle/bot-bottle/internal/shared/pki"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

const testKey = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAtestonlynotakey\n-----END OPENSSH PRIVATE KEY-----\n"

const testToken = "tok_9f8e7d6c5b4a39281706f5e4d3c2b1a0"

// home writes a bottle and agent "dev" into a temporary home and returns
// its effective configuration.
func home(t *testing.T, identity string) *manifest.Effective {
	t.Helper()
	return homeWith(t, identity, "")
}

// homeWith is home with extra top-level YAML in the bottle.
func homeWith(t *testing.T, identity, extra string) *manifest.Effective {
	t.Helper()
	dir := t.TempDir()
	for _, d := range []string{"bottles", "agents"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	bottle := `---
env:
  LANG: C.UTF-8
  TICKET: ${JIRA_TICKET}
git-gate:
  repos:
    demo:
      url: ssh://git@upstream.example.test:2222/srv/git/demo.git
      identity: ` + identity + `
      host_key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICI6hGlDCXjpxzhdbdEZUM3HCpzCm9MHmTQ7mTHh00yp
      push_refs: [refs/notes/]
      allow_branch_delete: true
egress:
  routes:
    - host: api.example.test
      path_allowlist: ["/v1/"]
      auth: {scheme: Bearer, token_ref: EXAMPLE_API_TOKEN}
    - host: registry.npmjs.org
      methods: [GET]
      ports: [443, 8443]
supervise: true
` + extra + `---
`
	write(t, filepath.Join(dir, "bottles", "dev.md"), bottle)
	write(t, filepath.Join(dir, "agents", "dev.md"), "---\nbottle: dev\n---\nHello.\n")
	m, err := manifest.Load(manifest.Options{Home: dir, CWD: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	eff, err := m.Effective("dev")
	if err != nil {
		t.Fatal(err)
	}
	return eff
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestRenderWritesASelfContainedProject(t *testing.T) {
	key := filepath.Join(t.TempDir(), "id_ed25519")
	write(t, key, testKey)
	eff := home(t, key)
	out := filepath.Join(t.TempDir(), "bottle")
	uid, gid := 1000, 1000
	res, err := Render(eff, Options{Dir: out, Getenv: env(map[string]string{"EXAMPLE_API_TOKEN": testToken, "JIRA_TICKET": "BB-7"}), Euid: &uid, Egid: &gid})
	if err != nil {
		t.Fatal(err)
	}
	if res.Project != "bot-bottle-dev" || strings.Join(res.Services, ",") != "agent,agent-net,egress,git-gate,netguard,supervise" {
		t.Errorf("result = %+v", res)
	}
	if got, want := strings.Join(res.Secrets, ","), "ca_key,ssh_demo,token_example_api_token"; got != want {
		t.Errorf("secrets = %s, want %s", got, want)
	}

	modes := map[string]os.FileMode{
		".":                               0o700 | os.ModeDir,
		contract.BottleSecretsDir:         0o700 | os.ModeDir,
		"secrets/ca_key":                  0o400,
		"secrets/token_example_api_token": 0o400,
		"secrets/ssh_demo":                0o400,
		"config/routes.yaml":              0o644,
		"config/gate.yaml":                0o644,
		"config/ca.crt":                   0o644,
		contract.BottleAgentEnvFile:       0o600,
		contract.BottleComposeFile:        0o644,
		contract.BottleReadmeFile:         0o644,
		contract.BottleAuditFile:          0o600,
		contract.BottleGitDataDir:         0o700 | os.ModeDir,
		contract.BottleQueueDir:           0o700 | os.ModeDir,
	}
	for rel, want := range modes {
		fi, err := os.Stat(filepath.Join(out, rel))
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		if fi.Mode() != want {
			t.Errorf("%s mode = %v, want %v", rel, fi.Mode(), want)
		}
	}

	if got := read(t, out, "secrets/token_example_api_token"); got != testToken {
		t.Errorf("token secret = %q", got)
	}
	if got := read(t, out, "secrets/ssh_demo"); got != testKey {
		t.Errorf("identity secret differs")
	}
	// No secret value outside secrets/.
	secrets := []string{testToken, "b3BlbnNzaC1rZXktdjEAAAAAtestonlynotakey", strings.TrimSpace(read(t, out, "secrets/ca_key"))}
	_ = filepath.Walk(out, func(path string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() || strings.HasPrefix(path, filepath.Join(out, contract.BottleSecretsDir)) {
			return err
		}
		data, _ := os.ReadFile(path)
		for _, s := range secrets {
			if strings.Contains(string(data), s[:20]) {
				t.Errorf("%s holds a secret value", path)
			}
		}
		if strings.Contains(string(data), "PRIVATE KEY") {
			t.Errorf("%s holds a private key", path)
		}
		return nil
	})

	routes, err := contract.ParseRoutes([]byte(read(t, out, "config/routes.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := routes.Lookup("api.example.test"); !ok || r.Auth == nil || r.Auth.Secret != "token_example_api_token" || r.Auth.Scheme != contract.AuthBearer {
		t.Errorf("api route = %+v", r)
	}
	// Ports are copied as listed; a route without them gets egress's
	// default (443), not a list render makes up.
	if r, ok := routes.Lookup("registry.npmjs.org"); !ok || !slices.Equal(r.Ports, []int{443, 8443}) {
		t.Errorf("registry route ports = %+v, want [443 8443]", r)
	}
	if r, _ := routes.Lookup("api.example.test"); r == nil || r.Ports != nil {
		t.Errorf("api route ports = %+v, want none", r)
	}
	gate, err := contract.ParseGate([]byte(read(t, out, "config/gate.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := gate.Lookup("demo"); !ok || r.Identity != "ssh_demo" || !slices.Equal(r.PushRefs, []string{"refs/notes/"}) || !r.AllowBranchDelete {
		t.Errorf("gate repo = %+v", r)
	}

	// The CA: an ECDSA P-256 CA limited to leaves, its key the secret.
	pair, err := tls.X509KeyPair([]byte(read(t, out, "config/ca.crt")), []byte(read(t, out, "secrets/ca_key")))
	if err != nil {
		t.Fatalf("CA certificate and key do not match: %v", err)
	}
	ca, _ := x509.ParseCertificate(pair.Certificate[0])
	pub, ok := ca.PublicKey.(*ecdsa.PublicKey)
	if !ca.IsCA || !ca.MaxPathLenZero || !ok || pub.Curve != elliptic.P256() || ca.Subject.CommonName != "bot-bottle dev CA" {
		t.Errorf("CA = IsCA %v MaxPathLenZero %v key %T CN %q", ca.IsCA, ca.MaxPathLenZero, ca.PublicKey, ca.Subject.CommonName)
	}
	if block, _ := pem.Decode([]byte(read(t, out, "secrets/ca_key"))); block == nil || block.Type != "PRIVATE KEY" {
		t.Errorf("CA key is not PKCS#8 PEM")
	}

	if got := read(t, out, contract.BottleAgentEnvFile); !strings.Contains(got, "TICKET='BB-7'\n") {
		t.Errorf("agent.env = %q", got)
	}
	yml := read(t, out, contract.BottleComposeFile)
	for _, want := range []string{"name: bot-bottle-dev", "user: 1000:1000", "LANG: C.UTF-8", "./agent.env"} {
		if !strings.Contains(yml, want) {
			t.Errorf("compose.yaml lacks %q", want)
		}
	}
	if !strings.Contains(read(t, out, contract.BottleReadmeFile), "docker compose up -d") {
		t.Error("README does not say how to start the project")
	}
}

func read(t *testing.T, dir, rel string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestRenderAsRootHandsSidecarFilesToTheSidecarUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	key := filepath.Join(t.TempDir(), "id")
	write(t, key, testKey)
	out := filepath.Join(t.TempDir(), "p")
	if _, err := Render(home(t, key), Options{Dir: out, Getenv: env(map[string]string{"EXAMPLE_API_TOKEN": testToken, "JIRA_TICKET": "BB-7"})}); err != nil {
		t.Fatal(err)
	}
	for rel, wantUID := range map[string]int{"secrets/ca_key": SidecarUID, contract.BottleSecretsDir: SidecarUID, contract.BottleGitDataDir: SidecarUID, contract.BottleQueueDir: SidecarUID, contract.BottleAuditFile: SidecarUID, "config/routes.yaml": 0, contract.BottleComposeFile: 0} {
		fi, err := os.Stat(filepath.Join(out, rel))
		if err != nil {
			t.Fatal(err)
		}
		if got := int(fi.Sys().(*syscall.Stat_t).Uid); got != wantUID {
			t.Errorf("%s owned by %d, want %d", rel, got, wantUID)
		}
	}
	if yml := read(t, out, contract.BottleComposeFile); !strings.Contains(yml, "user: 65532:65532") {
		t.Error("sidecars do not run as the sidecar user")
	}
}

func TestRenderFailsWithEveryProblemAndWritesNothing(t *testing.T) {
	eff := home(t, filepath.Join(t.TempDir(), "missing-key"))
	out := filepath.Join(t.TempDir(), "p")
	_, err := Render(eff, Options{Dir: out, Getenv: env(nil)})
	if err == nil {
		t.Fatal("render succeeded without the token and the key")
	}
	for _, want := range []string{"$EXAMPLE_API_TOKEN, which is not set", "git-gate repo demo", "missing-key", "env TICKET (" + eff.Bottle.File + ":4): $JIRA_TICKET is not set"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, statErr := os.Stat(out); !os.IsNotExist(statErr) {
		t.Errorf("render left %s behind", out)
	}
	parent, _ := os.ReadDir(filepath.Dir(out))
	if len(parent) != 0 {
		t.Errorf("render left %d entries beside the target", len(parent))
	}
}

func TestRenderRefusesANonEmptyDirectory(t *testing.T) {
	key := filepath.Join(t.TempDir(), "id")
	write(t, key, testKey)
	out := t.TempDir()
	write(t, filepath.Join(out, "notes.txt"), "mine")
	_, err := Render(home(t, key), Options{Dir: out, Getenv: env(map[string]string{"EXAMPLE_API_TOKEN": testToken, "JIRA_TICKET": "BB-7"})})
	if err == nil || !strings.Contains(err.Error(), "is not empty") {
		t.Fatalf("err = %v", err)
	}
	if read(t, out, "notes.txt") != "mine" {
		t.Error("render touched the operator's file")
	}
}

func TestRenderIdentityMustBeAPrivateKey(t *testing.T) {
	pub := filepath.Join(t.TempDir(), "id.pub")
	write(t, pub, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIC test\n")
	_, err := Render(home(t, pub), Options{Dir: filepath.Join(t.TempDir(), "p"), Getenv: env(map[string]string{"EXAMPLE_API_TOKEN": testToken, "JIRA_TICKET": "BB-7"})})
	if err == nil || !strings.Contains(err.Error(), "not the .pub file") {
		t.Fatalf("err = %v", err)
	}
}

func TestRenderPromptNeedsATerminal(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"bottles", "agents"} {
		_ = os.MkdirAll(filepath.Join(dir, d), 0o700)
	}
	write(t, filepath.Join(dir, "bottles", "b.md"), "---\nenv:\n  DEPLOY_KEY: \"?Deploy key\"\n---\n")
	write(t, filepath.Join(dir, "agents", "a.md"), "---\nbottle: b\n---\n")
	m, err := manifest.Load(manifest.Options{Home: dir, CWD: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	eff, _ := m.Effective("a")
	if _, err := Render(eff, Options{Dir: filepath.Join(t.TempDir(), "p")}); err == nil || !strings.Contains(err.Error(), "no terminal") {
		t.Fatalf("err = %v", err)
	}
	asked := ""
	out := filepath.Join(t.TempDir(), "p")
	_, err = Render(eff, Options{Dir: out, Prompt: func(name, q string) (string, error) { asked = name + ": " + q; return "s3cret", nil }})
	if err != nil {
		t.Fatal(err)
	}
	if asked != "DEPLOY_KEY: Deploy key" || read(t, out, contract.BottleAgentEnvFile) == "" || strings.Contains(read(t, out, contract.BottleComposeFile), "s3cret") {
		t.Errorf("asked %q; compose.yaml must not hold the prompted value", asked)
	}
}

func TestRenderAgentLimits(t *testing.T) {
	key := filepath.Join(t.TempDir(), "id")
	write(t, key, testKey)
	for _, tc := range []struct {
		name     string
		yaml     string
		hostCPUs int
		want     compose.Resources
		err      string
	}{
		{"defaults", "", 8, compose.Resources{Memory: 4 << 30, CPUs: 2, Pids: 1024}, ""},
		{"default cpus on a one-CPU machine", "", 1, compose.Resources{Memory: 4 << 30, CPUs: 1, Pids: 1024}, ""},
		{"declared", "resources: {memory: 512m, cpus: 4, pids: 256}\n", 8, compose.Resources{Memory: 512 << 20, CPUs: 4, Pids: 256}, ""},
		{"more cpus than the machine", "resources: {cpus: 4}\n", 2, compose.Resources{}, "resources.cpus 4 is more than this machine's 2 CPUs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eff := homeWith(t, key, tc.yaml)
			p, err := newPlan(eff, Options{Dir: t.TempDir(), Getenv: env(map[string]string{"EXAMPLE_API_TOKEN": testToken, "JIRA_TICKET": "BB-7"}), HostCPUs: tc.hostCPUs})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.spec.Resources != tc.want {
				t.Errorf("agent limits = %+v, want %+v", p.spec.Resources, tc.want)
			}
		})
	}
}

// TestSecretsLeaveAndComeBack: RemoveSecrets takes every secret and env
// value off the disk and leaves the rest; RenewSecrets writes them again,
// read anew from the host, with a new CA, and keeps what the operator
// approved in the routes file since the bottle was rendered.
func TestSecretsLeaveAndComeBack(t *testing.T) {
	key := filepath.Join(t.TempDir(), "id_ed25519")
	write(t, key, testKey)
	eff := home(t, key)
	dir := contract.BottleDir(filepath.Join(t.TempDir(), "dev-abcde"))
	uid, gid := 1000, 1000
	opts := Options{Dir: string(dir), Slug: "dev-abcde", Getenv: env(map[string]string{"EXAMPLE_API_TOKEN": testToken, "JIRA_TICKET": "BB-7"}), Euid: &uid, Egid: &gid}
	if _, err := Render(eff, opts); err != nil {
		t.Fatal(err)
	}
	oldCA := read(t, string(dir), contract.BottleCACertFile)
	approved := read(t, string(dir), contract.BottleRoutesFile) + "  - host: approved.example.test\n"
	if err := os.WriteFile(dir.RoutesFile(), []byte(approved), 0o644); err != nil {
		t.Fatal(err)
	}

	if err := RemoveSecrets(dir); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{contract.BottleSecretsDir, contract.BottleAgentEnvFile} {
		if _, err := os.Stat(dir.Path(gone)); !os.IsNotExist(err) {
			t.Errorf("%s is still there after RemoveSecrets (%v)", gone, err)
		}
	}
	if err := filepath.WalkDir(string(dir), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, _ := os.ReadFile(p)
		if strings.Contains(string(data), testToken) || strings.Contains(string(data), "PRIVATE KEY") || strings.Contains(string(data), "BB-7") {
			t.Errorf("%s still holds a secret or an env value", p)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	opts.Getenv = env(map[string]string{"EXAMPLE_API_TOKEN": testToken + "-new", "JIRA_TICKET": "BB-8"})
	if err := RenewSecrets(eff, dir, "dev-abcde", opts); err != nil {
		t.Fatal(err)
	}
	if got := read(t, string(dir), "secrets/token_example_api_token"); got != testToken+"-new" {
		t.Errorf("token = %q, want the host's value now", got)
	}
	if got := read(t, string(dir), contract.BottleAgentEnvFile); !strings.Contains(got, "TICKET='BB-8'") {
		t.Errorf("agent.env = %q", got)
	}
	if read(t, string(dir), contract.BottleCACertFile) == oldCA {
		t.Error("the CA was not renewed")
	}
	if got := read(t, string(dir), contract.BottleRoutesFile); got != approved {
		t.Errorf("the routes file lost what was approved:\n%s", got)
	}
	if fi, err := os.Stat(dir.Path("secrets/ca_key")); err != nil || fi.Mode().Perm() != 0o400 {
		t.Errorf("ca_key: %v %v", fi, err)
	}
}

// TestRenderUpstreamCAAndSSRFAllow: egress.upstream_ca is copied into the
// project's config (and egress pointed at it), egress.ssrf_allow lands
// file-wide in the routes file; a file that is not certificates stops the
// render, naming it.
func TestRenderUpstreamCAAndSSRFAllow(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA("corp CA", time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(dir, "corp-ca.pem")
	write(t, caFile, string(ca.CertPEM()))
	key := filepath.Join(dir, "id")
	write(t, key, testKey)
	vars := env(map[string]string{"EXAMPLE_API_TOKEN": testToken, "JIRA_TICKET": "BB-7"})
	eff := homeWith(t, key, "")
	eff.Bottle.UpstreamCA, eff.Bottle.SSRFAllow = caFile, []string{"172.16.0.0/12"}
	out := filepath.Join(t.TempDir(), "p")
	uid, gid := 1000, 1000
	if _, err := Render(eff, Options{Dir: out, Getenv: vars, Euid: &uid, Egid: &gid}); err != nil {
		t.Fatal(err)
	}
	if got := read(t, out, contract.BottleUpstreamCAFile); got != string(ca.CertPEM()) {
		t.Errorf("upstream CA = %q", got)
	}
	if got := read(t, out, contract.BottleComposeFile); !strings.Contains(got, contract.EnvEgressUpstreamCA+": "+contract.UpstreamCAPath) {
		t.Errorf("egress is not pointed at the upstream CA:\n%s", got)
	}
	if got := read(t, out, contract.BottleRoutesFile); !strings.Contains(got, "ssrf_allow:\n  - 172.16.0.0/12") {
		t.Errorf("routes file without the file-wide ssrf_allow:\n%s", got)
	}

	write(t, caFile, testKey)
	_, err = Render(eff, Options{Dir: filepath.Join(t.TempDir(), "q"), Getenv: vars, Euid: &uid, Egid: &gid})
	if err == nil || !strings.Contains(err.Error(), "egress.upstream_ca") || !strings.Contains(err.Error(), caFile) {
		t.Fatalf("render with a key as the upstream CA: %v", err)
	}
}

// TestProviderRouteWinsAndHoldsTheToken: a claude bottle's auth_token
// becomes egress's secret on the provider's own route to
// api.anthropic.com, which replaces the bottle's route to that host; the
// agent gets a placeholder; a manifest env entry with the provider's
// token name is refused.
func TestProviderRouteWinsAndHoldsTheToken(t *testing.T) {
	key := filepath.Join(t.TempDir(), "id")
	write(t, key, testKey)
	const oauth = "sk-ant-oat01-realtoken-0123456789"
	vars := env(map[string]string{"EXAMPLE_API_TOKEN": testToken, "JIRA_TICKET": "BB-7", "CT": oauth})
	eff := homeWith(t, key, "agent_provider: {template: claude, auth_token: CT}\n")
	eff.Bottle.Routes = append(eff.Bottle.Routes, manifest.Route{Host: "api.anthropic.com", PathAllowlist: []string{"/nope/"}})
	out := filepath.Join(t.TempDir(), "p")
	uid, gid := 1000, 1000
	if _, err := Render(eff, Options{Dir: out, Getenv: vars, Euid: &uid, Egid: &gid, AgentHome: "/home/node"}); err != nil {
		t.Fatal(err)
	}
	rf, err := contract.ParseRoutes([]byte(read(t, out, contract.BottleRoutesFile)))
	if err != nil {
		t.Fatal(err)
	}
	var api *contract.Route
	for i := range rf.Routes {
		if rf.Routes[i].Host == "api.anthropic.com" {
			if api != nil {
				t.Fatal("two routes to api.anthropic.com")
			}
			api = &rf.Routes[i]
		}
	}
	if api == nil || len(api.PathAllowlist) != 0 || api.Auth == nil || api.Auth.Secret != provider.ClaudeTokenSecret {
		t.Fatalf("the provider's route: %+v", api)
	}
	if got := read(t, out, "secrets/"+provider.ClaudeTokenSecret); got != oauth {
		t.Errorf("egress's secret = %q", got)
	}
	composeYAML := read(t, out, contract.BottleComposeFile)
	if strings.Contains(composeYAML, oauth) || !strings.Contains(composeYAML, "CLAUDE_CODE_OAUTH_TOKEN: "+provider.PlaceholderToken) {
		t.Errorf("compose.yaml holds the token, or the agent lacks the placeholder:\n%s", composeYAML)
	}

	eff.Bottle.Env = append(eff.Bottle.Env, manifest.EnvVar{Name: "CLAUDE_CODE_OAUTH_TOKEN", Value: manifest.EnvValue{Kind: manifest.EnvLiteral, Literal: "x"}, File: "dev.md", Line: 9})
	_, err = Render(eff, Options{Dir: filepath.Join(t.TempDir(), "q"), Getenv: vars, Euid: &uid, Egid: &gid})
	if err == nil || !strings.Contains(err.Error(), "env CLAUDE_CODE_OAUTH_TOKEN (dev.md:9) is the claude provider's own") {
		t.Fatalf("a manifest env with the provider's token name: %v", err)
	}
}

// Host-attacks finding 8 at render, the second layer: a bottle whose two
// routes' token_refs differ only in case (which the manifest refuses)
// would store both tokens as one secret, and ci.example.test would be
// sent $GH_TOKEN. Render refuses, naming both routes, writes nothing, and
// prints no token.
func TestRenderRefusesTokenRefsThatShareASecret(t *testing.T) {
	eff := &manifest.Effective{Agent: &manifest.Agent{Name: "a"}, Bottle: manifest.Bottle{Name: "b", Provider: manifest.Provider{Template: manifest.TemplateClaude},
		Routes: []manifest.Route{
			{Host: "ci.example.test", Auth: &manifest.RouteAuth{Scheme: contract.AuthBearer, TokenRef: "gh_token"}},
			{Host: "api.github.com", Auth: &manifest.RouteAuth{Scheme: contract.AuthToken, TokenRef: "GH_TOKEN"}},
		}}}
	out := filepath.Join(t.TempDir(), "p")
	_, err := Render(eff, Options{Dir: out, Getenv: env(map[string]string{"gh_token": "ci-token-value", "GH_TOKEN": "github-token-value"})})
	if err == nil {
		t.Fatal("rendered two routes onto one secret")
	}
	if want := "route api.github.com: auth.token_ref GH_TOKEN and the token_ref gh_token of the route to ci.example.test differ only in case"; !strings.Contains(err.Error(), want) {
		t.Errorf("error lacks %q:\n%v", want, err)
	}
	if strings.Contains(err.Error(), "token-value") {
		t.Errorf("the error holds a token: %v", err)
	}
	if _, statErr := os.Stat(out); !os.IsNotExist(statErr) {
		t.Errorf("render left %s behind", out)
	}
}
