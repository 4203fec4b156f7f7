package provision

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/scaffold/testpki"
	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// The Docker tests provision a real container of the test agent image,
// hardened like the compose project's agent service (no capability,
// no-new-privileges, the image's unprivileged user, the bottle CA mounted
// read-only), whose HTTPS_PROXY is a real egress process on the host:
// egress intercepts TLS with leaves from the bottle CA, as in a bottle, so
// the self-test and the checks below verify exactly what an agent's tools
// will.

const (
	agentTestImage = "bot-bottle/agent-test:local"
	// selfTestHost is declared in the rig's routes; deniedHost is not.
	selfTestHost = "selftest.bbprov.test"
	deniedHost   = "denied.bbprov.test"
)

// rig is what the Docker tests share: a network of their own, the bottle
// CA, a real egress on the network's gateway address and an upstream
// behind it.
type rig struct {
	id       string // unique to this test: bbprov-<random>
	network  string
	bottleCA *testpki.CA
	proxy    string // http://GATEWAY:PORT
	pki      string // directory of CA files
	upstream bool   // whether the upstream answers (it needs port 443)
}

func needDocker(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts containers")
	}
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		t.Skipf("no Docker engine reachable (docker info: %v: %s); the provisioning tests need one", err, bytes.TrimSpace(out))
	}
	if exec.Command("docker", "image", "inspect", agentTestImage).Run() == nil {
		return
	}
	build := exec.Command("bash", "../../../images/build.sh", "--tag", "local", "agent-test")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("images/build.sh agent-test: %v\n%s", err, out)
	}
}

// docker runs the docker CLI and returns its trimmed standard output; a
// failure ends the test.
func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := dockerErr(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func dockerErr(args ...string) (string, error) {
	cmd := exec.Command("docker", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

func newRig(t *testing.T) *rig {
	t.Helper()
	needDocker(t)
	var b [4]byte
	_, _ = rand.Read(b[:])
	r := &rig{id: "bbprov-" + hex.EncodeToString(b[:]), pki: t.TempDir()}
	r.network = r.id
	docker(t, "network", "create", "--label", "bbprov=1", r.network)
	t.Cleanup(func() { _, _ = dockerErr("network", "rm", r.network) })
	gateway := docker(t, "network", "inspect", "-f", "{{range .IPAM.Config}}{{.Gateway}}{{end}}", r.network)
	subnet := docker(t, "network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}}{{end}}", r.network)

	r.bottleCA = testpki.New(t, r.pki, "bottle")
	upCA := testpki.New(t, r.pki, "upstream")
	if err := os.Chmod(r.bottleCA.CertPath, 0o644); err != nil {
		t.Fatal(err)
	}

	// The upstream, on port 443 of a loopback address of its own: egress
	// connects to the declared host's port 443. Binding it needs
	// privileges; without them egress answers 502 after the handshake,
	// which the self-test accepts just the same (any HTTP answer).
	upIP := fmt.Sprintf("127.%d.%d.%d", 100+b[0]%100, b[1], 1+b[2]%250)
	if ln, err := net.Listen("tcp", net.JoinHostPort(upIP, "443")); err == nil {
		r.upstream = true
		srv := &http.Server{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				if req.URL.Path == "/ok" {
					fmt.Fprint(w, "ok")
					return
				}
				http.NotFound(w, req)
			}),
			TLSConfig: &tls.Config{Certificates: []tls.Certificate{upCA.ServerCert(t, selfTestHost)}},
		}
		go func() { _ = srv.ServeTLS(ln, "", "") }()
		t.Cleanup(func() { _ = srv.Close() })
	} else {
		t.Logf("no upstream (%v): egress will answer 502 after the handshake", err)
	}

	routes := filepath.Join(r.pki, "routes.yaml")
	routesYAML := "version: 1\nssrf_allow: [\"127.0.0.0/8\"]\nroutes:\n  - host: " + selfTestHost + "\n"
	if err := os.WriteFile(routes, []byte(routesYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	secrets := filepath.Join(r.pki, "secrets")
	if err := os.Mkdir(secrets, 0o700); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(gateway, "0"))
	if err != nil {
		t.Fatalf("listen on the network's gateway %s: %v", gateway, err)
	}
	proxyAddr := ln.Addr().String()
	ln.Close()
	adminAddr := testutil.FreeAddrT(t)
	bin := testutil.BuildCommand(t, "github.com/bot-bottle/bot-bottle/cmd/egress")
	var log testutil.SyncBuffer
	eg := exec.Command(bin, "--routes", routes, "--ca-cert", r.bottleCA.CertPath, "--ca-key", r.bottleCA.KeyPath,
		"--secrets-dir", secrets, "--listen", proxyAddr, "--admin", adminAddr, "--audit", filepath.Join(r.pki, "audit.jsonl"),
		"--allow-peers", subnet, "--upstream-ca", upCA.CertPath, "--resolve", selfTestHost+"="+upIP)
	eg.Stdout, eg.Stderr = &log, &log
	if err := eg.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = eg.Process.Signal(syscall.SIGTERM)
		_ = eg.Wait()
		if t.Failed() {
			t.Logf("egress output:\n%s", log.String())
		}
	})
	poll(t, 15*time.Second, "egress to answer /healthz", func() bool {
		resp, err := http.Get("http://" + adminAddr + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	r.proxy = "http://" + proxyAddr
	return r
}

// poll calls cond until it holds, failing the test after limit.
func poll(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// agent starts a container of image as the compose project's agent
// service would run it, trusting caCert as the bottle CA, and returns its
// Target.
func (r *rig) agent(t *testing.T, name, image, caCert string, extra ...string) DockerExec {
	t.Helper()
	args := []string{"run", "-d", "--name", r.id + "-" + name, "--label", "bbprov=1",
		"--network", r.network,
		"--cap-drop", "ALL", "--security-opt", "no-new-privileges:true",
		"--pids-limit", "256", "--memory", "256m",
		"-v", caCert + ":" + contract.AgentCACertPath + ":ro",
		"-e", "HTTPS_PROXY=" + r.proxy, "-e", "https_proxy=" + r.proxy,
	}
	for k, v := range CAEnv() {
		args = append(args, "-e", k+"="+v)
	}
	args = append(args, extra...)
	id := docker(t, append(args, image)...)
	t.Cleanup(func() { _, _ = dockerErr("rm", "-f", "-v", id) })
	return DockerExec{Container: id}
}

// sh runs a script in the container as user and returns its output; a
// failure ends the test.
func sh(t *testing.T, d DockerExec, user, script string, args ...string) string {
	t.Helper()
	out, err := d.Exec(context.Background(), user, nil, append([]string{"sh", "-c", script, "sh"}, args...)...)
	if err != nil {
		t.Fatalf("in the container: %v", err)
	}
	return string(out)
}

// testSkills makes two skills on the host: one with a nested directory,
// an executable, a symlink inside it and a path longer than a ustar name
// holds; one plain.
func testSkills(t *testing.T) []Skill {
	t.Helper()
	root := t.TempDir()
	review := filepath.Join(root, "review")
	long := filepath.Join(review, strings.Repeat("d", 60), strings.Repeat("e", 60))
	for _, f := range []struct {
		path string
		data string
		mode os.FileMode
	}{
		{filepath.Join(review, "SKILL.md"), "# review\nRead the diff.\n", 0o600},
		{filepath.Join(review, "bin", "run.sh"), "#!/bin/sh\necho review\n", 0o700},
		{filepath.Join(long, "deep.txt"), "deep\n", 0o644},
		{filepath.Join(root, "notes", "SKILL.md"), "# notes\n", 0o644},
	} {
		if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f.path, []byte(f.data), f.mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("bin/run.sh", filepath.Join(review, "run")); err != nil {
		t.Fatal(err)
	}
	return []Skill{{Name: "review", Dir: review}, {Name: "notes", Dir: filepath.Join(root, "notes")}}
}

// hostilePrompt would do damage if any byte of it reached a shell.
const hostilePrompt = "-n $(touch /tmp/pwned-subst) `touch /tmp/pwned-backtick`\n" +
	"'; touch /tmp/pwned-quote; echo '\" && touch /tmp/pwned-dq\n" +
	"$HOME ${PATH} \\ \\n %s %n \x00 \xff\xfe not UTF-8\r\n" +
	"EOF\n<<EOF\n| tee /tmp/pwned-pipe > /tmp/pwned-redirect"

func TestRunProvisionsTheTestAgent(t *testing.T) {
	r := newRig(t)
	d := r.agent(t, "agent", agentTestImage, r.bottleCA.CertPath)
	ctx := t.Context()

	start := time.Now()
	a, err := Identify(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if a.UID != 1000 || a.GID != 1000 || a.Name != "agent" || a.Home != "/home/agent" {
		t.Fatalf("Identify = %+v; want agent 1000:1000 in /home/agent", a)
	}
	for _, tool := range []string{"tar", "git", "wget", "probe"} {
		if !a.Has(tool) {
			t.Errorf("Identify did not find %s (tools %v)", tool, a.Tools)
		}
	}
	for _, tool := range []string{"update-ca-certificates", "curl", "python3", "node", "openssl"} {
		if a.Has(tool) {
			t.Errorf("Identify found %s at %q; the test image has none", tool, a.Tools[tool])
		}
	}

	id := GitIdentity{Name: `Ada "the Countess" \ Lovelace; #1`, Email: "ada+$(id)@example.test"}
	repos := []GateRepo{
		{Name: "demo", URL: "ssh://git@git.example.test:22/srv/demo.git"},
		{Name: "tools", URL: "ssh://git@git.example.test:2222/srv/tools"},
	}
	var progress bytes.Buffer
	plan := Plan{
		Prompt:       "Fix the bug.\n",
		Skills:       testSkills(t),
		Git:          id,
		Repos:        repos,
		SelfTestHost: selfTestHost,
		MCP:          GenericMCP(SuperviseURL),
		Progress:     &progress,
	}
	if err := Run(ctx, d, a, plan); err != nil {
		t.Fatalf("Run: %v\n%s", err, progress.String())
	}
	t.Logf("Identify and Run in %v:\n%s", time.Since(start).Round(time.Millisecond), progress.String())
	lines := strings.Split(strings.TrimSuffix(progress.String(), "\n"), "\n")
	wantLines := []string{
		"provision: CA trusted in /etc/ssl/certs/ca-certificates.crt (appended; no update-ca-certificates to run)",
		"provision: self-test passed: TLS to selftest.bbprov.test through egress verified against the system trust store (probe)",
		"provision: prompt written to /home/agent/.bot-bottle-prompt.txt (0600, 13 bytes)",
		"provision: skills copied to /home/agent/.bot-bottle/skills: review (from " + plan.Skills[0].Dir + "), notes (from " + plan.Skills[1].Dir + ")",
		"provision: /home/agent/.gitconfig written (commit identity; upstream URLs of demo, tools rewritten to the gate)",
		"provision: MCP server supervise (http://supervise:9100/mcp) registered in /home/agent/.bot-bottle/mcp.json",
	}
	if strings.Join(lines, "\n") != strings.Join(wantLines, "\n") {
		t.Errorf("progress:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(wantLines, "\n"))
	}

	// From inside, as the agent: who it is, and what it was given.
	if got := sh(t, d, "", "id"); !strings.HasPrefix(got, "uid=1000(agent) gid=1000(agent)") {
		t.Errorf("id = %q", got)
	}
	if got := sh(t, d, "", `stat -c '%a %u:%g' ~/.bot-bottle-prompt.txt; cat ~/.bot-bottle-prompt.txt`); got != "600 1000:1000\nFix the bug.\n" {
		t.Errorf("prompt file: %q", got)
	}
	wantGit, _, err := GitConfig(id, repos)
	if err != nil {
		t.Fatal(err)
	}
	if got := sh(t, d, "", `stat -c '%a %u:%g' ~/.gitconfig; cat ~/.gitconfig`); got != "644 1000:1000\n"+wantGit {
		t.Errorf("~/.gitconfig:\n%s\nwant:\n644 1000:1000\n%s", got, wantGit)
	}
	// The real git reads the identity back exactly, and sends every
	// spelling of an upstream to the gate (which this rig has not, so
	// the error names the URL git tried).
	if got := sh(t, d, "", `git config --global user.name; git config --global user.email`); got != id.Name+"\n"+id.Email+"\n" {
		t.Errorf("git config user.name, user.email = %q", got)
	}
	for _, r := range repos {
		sp, err := Spellings(r.URL)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range sp {
			out, err := d.Exec(ctx, "", nil, "git", "ls-remote", s.URL)
			want := "'" + GateURL(r.Name) + "/'"
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("git ls-remote %s: %v %s; want the gate's %s", s.URL, err, out, want)
			}
		}
	}
	if got := sh(t, d, "", `cat ~/.bot-bottle/mcp.json; stat -c '%a %u:%g' ~/.bot-bottle/mcp.json`); got != `{"mcpServers":{"supervise":{"type":"http","url":"http://supervise:9100/mcp"}}}`+"\n600 1000:1000\n" {
		t.Errorf("mcp.json: %q", got)
	}
	skills := sh(t, d, "", `cd ~/.bot-bottle/skills && find . | sort | while read -r f; do stat -c '%u:%g %A %n' "$f"; done`)
	deep := "./review/" + strings.Repeat("d", 60)
	wantSkills := strings.Join([]string{
		"1000:1000 drwx------ .",
		"1000:1000 drwxr-xr-x ./notes",
		"1000:1000 -rw-r--r-- ./notes/SKILL.md",
		"1000:1000 drwxr-xr-x ./review",
		"1000:1000 -rw-r--r-- ./review/SKILL.md",
		"1000:1000 drwxr-xr-x ./review/bin",
		"1000:1000 -rwxr-xr-x ./review/bin/run.sh",
		"1000:1000 drwxr-xr-x " + deep,
		"1000:1000 drwxr-xr-x " + deep + "/" + strings.Repeat("e", 60),
		"1000:1000 -rw-r--r-- " + deep + "/" + strings.Repeat("e", 60) + "/deep.txt",
		"1000:1000 lrwxrwxrwx ./review/run",
	}, "\n") + "\n"
	if skills != wantSkills {
		t.Errorf("skills in the agent:\n%s\nwant:\n%s", skills, wantSkills)
	}
	if got := sh(t, d, "", `~/.bot-bottle/skills/review/run`); got != "review\n" {
		t.Errorf("the skill's script through its symlink: %q", got)
	}

	// A TLS client with no extra flag verifies egress's certificate: the
	// system trust store holds the bottle CA. (BOT_BOTTLE_CA_CERT is not
	// set here, so probe trusts the system roots alone.)
	out, err := d.Exec(ctx, "", nil, "probe", "http", "https://"+selfTestHost+"/ok")
	switch {
	case r.upstream && (err != nil || string(out) != "HTTP 200\nok\n"):
		t.Errorf("probe http through egress: %v %q; want HTTP 200 ok", err, out)
	case !r.upstream && !strings.HasPrefix(string(out), "HTTP 502"):
		t.Errorf("probe http through egress: %v %q; want egress's 502 after a verified handshake", err, out)
	}

	// Idempotent: a second Run leaves the same files, and the CA once in
	// the bundle.
	snapshot := func() string {
		return sh(t, d, "", `sha256sum /etc/ssl/certs/ca-certificates.crt ~/.bot-bottle-prompt.txt ~/.gitconfig ~/.bot-bottle/mcp.json
			cd ~/.bot-bottle/skills && find . | sort | while read -r f; do stat -c '%u:%g %A %s %n' "$f"; done
			ls -a ~ ~/.bot-bottle ~/.bot-bottle/skills`)
	}
	before := snapshot()
	progress.Reset()
	if err := Run(ctx, d, a, plan); err != nil {
		t.Fatalf("second Run: %v", err)
	}
	if !strings.Contains(progress.String(), "(already there; no update-ca-certificates to run)") {
		t.Errorf("second Run's CA line: %s", progress.String())
	}
	if after := snapshot(); after != before {
		t.Errorf("a second Run changed the container:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if got := sh(t, d, "", `grep -c 'bot-bottle: the bottle CA' /etc/ssl/certs/ca-certificates.crt`); got != "1\n" {
		t.Errorf("marker lines in the bundle after two runs: %q; want 1", got)
	}
}

func TestHostilePromptArrivesByteForByteAndRunsNothing(t *testing.T) {
	r := newRig(t)
	d := r.agent(t, "hostile", agentTestImage, r.bottleCA.CertPath)
	ctx := t.Context()
	a, err := Identify(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if err := Run(ctx, d, a, Plan{Prompt: hostilePrompt, SelfTestSkip: "not under test"}); err != nil {
		t.Fatal(err)
	}
	got, err := d.Exec(ctx, "", nil, "cat", "/home/agent/.bot-bottle-prompt.txt")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, []byte(hostilePrompt)) {
		t.Errorf("prompt file = %q\nwant %q", got, hostilePrompt)
	}
	// Nothing ran: no file appeared anywhere the prompt names, as root or
	// as the agent.
	if out := sh(t, d, "0:0", `ls -a /tmp /home/agent`); strings.Contains(out, "pwned") {
		t.Errorf("the prompt ran something:\n%s", out)
	}
}

func TestSelfTestFailsWhenTheAgentDoesNotTrustEgress(t *testing.T) {
	r := newRig(t)
	// The agent is given a CA that did not sign egress's leaves.
	other := testpki.New(t, t.TempDir(), "other")
	if err := os.Chmod(other.CertPath, 0o644); err != nil {
		t.Fatal(err)
	}
	// probe trusts the file BOT_BOTTLE_CA_CERT names besides the system
	// store, and in a bottle that is the bottle CA: point it at the right
	// one here, to show that only the system trust store counts.
	d := r.agent(t, "untrusting", agentTestImage, other.CertPath,
		"-v", r.bottleCA.CertPath+":/run/bbprov-bottle-ca.crt:ro", "-e", contract.EnvAgentCACert+"=/run/bbprov-bottle-ca.crt")
	ctx := t.Context()
	a, err := Identify(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	var progress bytes.Buffer
	err = Run(ctx, d, a, Plan{Prompt: "p", SelfTestHost: selfTestHost, Progress: &progress})
	if err == nil {
		t.Fatalf("Run succeeded with an agent that does not trust egress:\n%s", progress.String())
	}
	t.Log(err)
	for _, want := range []string{"provision: TLS self-test:", selfTestHost, "probe", "certificate signed by unknown authority"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	// Run stopped there: no prompt file.
	if _, err := d.Exec(ctx, "", nil, "test", "-e", "/home/agent/"+PromptFileName); err == nil {
		t.Error("Run went on after the failed self-test: the prompt file exists")
	}
}

func TestSelfTestFailsWhenEgressRefusesTheHost(t *testing.T) {
	r := newRig(t)
	d := r.agent(t, "refused", agentTestImage, r.bottleCA.CertPath)
	ctx := t.Context()
	a, err := Identify(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	err = Run(ctx, d, a, Plan{SelfTestHost: deniedHost})
	if err == nil {
		t.Fatal("the self-test passed for a host egress refuses")
	}
	t.Log(err)
	for _, want := range []string{"provision: TLS self-test:", deniedHost, "refused CONNECT"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// fakeUpdateCACertificates stands in for Debian's update-ca-certificates
// in an image built from the test agent's: it rebuilds the bundle from
// the image's roots and every certificate in /usr/local/share/ca-certificates.
const fakeUpdateCACertificates = `#!/bin/sh
set -e
cat /etc/ssl/image-roots.pem /usr/local/share/ca-certificates/*.crt > /etc/ssl/certs/ca-certificates.crt.new
mv /etc/ssl/certs/ca-certificates.crt.new /etc/ssl/certs/ca-certificates.crt
echo "Updating certificates in /etc/ssl/certs... 1 added, 0 removed; done."
`

func TestRunWithUpdateCACertificates(t *testing.T) {
	r := newRig(t)
	ctx := t.Context()
	dir := t.TempDir()
	dockerfile := "FROM " + agentTestImage + "\nUSER 0:0\n" +
		"RUN [\"/bin/busybox\", \"cp\", \"/etc/ssl/certs/ca-certificates.crt\", \"/etc/ssl/image-roots.pem\"]\n" +
		"COPY update-ca-certificates /usr/sbin/update-ca-certificates\nUSER 1000:1000\n"
	for name, data := range map[string]string{"Dockerfile": dockerfile, "update-ca-certificates": fakeUpdateCACertificates} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	image := r.id + "-ucc:test"
	build := exec.Command("docker", "build", "-q", "-t", image, dir)
	build.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = dockerErr("rmi", "-f", image) })
	d := r.agent(t, "ucc", image, r.bottleCA.CertPath)

	a, err := Identify(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if a.Tools["update-ca-certificates"] != "/usr/sbin/update-ca-certificates" {
		t.Fatalf("Identify: update-ca-certificates at %q", a.Tools["update-ca-certificates"])
	}
	var progress bytes.Buffer
	if err := Run(ctx, d, a, Plan{SelfTestHost: selfTestHost, Progress: &progress}); err != nil {
		t.Fatalf("Run: %v\n%s", err, progress.String())
	}
	if first, _, _ := strings.Cut(progress.String(), "\n"); first != "provision: CA trusted in /etc/ssl/certs/ca-certificates.crt (update-ca-certificates)" {
		t.Errorf("CA line = %q", first)
	}
	// The tool put the CA in the bundle, so the step added no block of
	// its own.
	if out, err := d.Exec(ctx, "", nil, "grep", "-c", "bot-bottle: the bottle CA", CABundlePath); err == nil || string(out) != "" {
		t.Errorf("the bundle has a marked block although update-ca-certificates added the CA: %v %q", err, out)
	}
}

// A command failing in the container is an *ExecError with its exit code
// and its standard error, escaped.
func TestDockerExecErrorCarriesExitCodeAndStderr(t *testing.T) {
	r := newRig(t)
	d := r.agent(t, "exec", agentTestImage, r.bottleCA.CertPath)
	_, err := d.Exec(t.Context(), "", strings.NewReader("in"), "sh", "-c", `cat >/dev/null; printf 'bad\033[31m thing' >&2; exit 7`)
	var ee *ExecError
	if !errors.As(err, &ee) || ee.ExitCode() != 7 {
		t.Fatalf("err = %v; want an *ExecError with exit code 7", err)
	}
	if msg := err.Error(); !strings.Contains(msg, `bad\x1b[31m thing`) || strings.ContainsRune(msg, 0x1b) {
		t.Errorf("error %q: want the standard error escaped", msg)
	}
}
