package images

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/elazarl/goproxy"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

const tag = "local"

// sidecarImages run a daemon under sidecar-init as bot (65532).
var sidecarImages = []string{"egress", "gitgate", "supervise", "sidecars"}

// allImages is what build.sh builds here.
var allImages = append(slices.Clone(sidecarImages), "netguard", "agent-test", "demo-upstream")

func ref(name string) string { return "bot-bottle/" + name + ":" + tag }

var built struct {
	sync.Once
	err error
	out string
}

// buildImages runs build.sh once per test binary, or skips when there is
// no Docker engine.
func buildImages(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		t.Skipf("no Docker engine (docker info: %v: %s); the image tests need one", err, bytes.TrimSpace(out))
	}
	built.Do(func() {
		start := time.Now()
		cmd := exec.Command("bash", "./build.sh", "--tag", tag)
		out, err := cmd.CombinedOutput()
		built.out = fmt.Sprintf("%s(build.sh took %v)", out, time.Since(start).Round(time.Millisecond))
		if err != nil {
			built.err = fmt.Errorf("build.sh: %v", err)
		}
	})
	if built.err != nil {
		t.Fatalf("%v\n%s", built.err, built.out)
	}
}

// docker runs the docker CLI and returns its standard output; stderr is
// kept for the error.
func docker(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("docker", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String(), fmt.Errorf("docker %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

func mustDocker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := docker(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type imageConfig struct {
	User       string
	Entrypoint []string
	Cmd        []string
	Env        []string
	Labels     map[string]string
}

func inspect(t *testing.T, name string) imageConfig {
	t.Helper()
	out := mustDocker(t, "image", "inspect", "--format", "{{json .Config}}", ref(name))
	var c imageConfig
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("inspect %s: %v", name, err)
	}
	return c
}

func TestImageConfigs(t *testing.T) {
	buildImages(t)
	t.Logf("build.sh:\n%s", built.out)
	for _, name := range allImages {
		t.Run(name, func(t *testing.T) {
			c := inspect(t, name)
			if c.Labels["dev.bot-bottle.context-hash"] == "" {
				t.Errorf("no context-hash label: %v", c.Labels)
			}
			switch {
			case slices.Contains(sidecarImages, name):
				if c.User != "65532:65532" {
					t.Errorf("User = %q, want 65532:65532", c.User)
				}
				if !slices.Equal(c.Entrypoint, []string{"/usr/local/bin/sidecar-init"}) {
					t.Errorf("Entrypoint = %q", c.Entrypoint)
				}
				daemons := "BOT_BOTTLE_SIDECAR_DAEMONS=" + name
				if has := slices.Contains(c.Env, daemons); has != (name != "sidecars") {
					t.Errorf("Env = %q; %s set: %v, want %v", c.Env, daemons, has, !has)
				}
				if !slices.Contains(c.Env, contract.EnvSidecarBinDir+"=/usr/local/bin") {
					t.Errorf("Env = %q lacks the bin dir", c.Env)
				}
			case name == "netguard":
				if c.User != "0:0" || !slices.Equal(c.Entrypoint, []string{"/usr/local/bin/netguard"}) {
					t.Errorf("User %q, Entrypoint %q", c.User, c.Entrypoint)
				}
			case name == "agent-test":
				if c.User != "1000:1000" || !slices.Equal(c.Cmd, []string{"/usr/local/bin/probe", "idle"}) {
					t.Errorf("User %q, Cmd %q", c.User, c.Cmd)
				}
			case name == "demo-upstream":
				if !slices.Equal(c.Entrypoint, []string{"/usr/local/bin/demo-upstream"}) {
					t.Errorf("Entrypoint %q", c.Entrypoint)
				}
			}
		})
	}
}

func TestSecondBuildIsANoOp(t *testing.T) {
	buildImages(t)
	start := time.Now()
	out, err := exec.Command("bash", "./build.sh", "--tag", tag).CombinedOutput()
	if err != nil {
		t.Fatalf("build.sh: %v\n%s", err, out)
	}
	for _, name := range allImages {
		if !strings.Contains(string(out), ref(name)+" is up to date") {
			t.Errorf("%s was rebuilt:\n%s", name, out)
		}
	}
	for _, name := range []string{"agent-claude", "agent-codex"} {
		if !strings.Contains(string(out), "skipping bot-bottle/"+name) || !strings.Contains(string(out), "docker build -t "+ref(name)+" images/"+name) {
			t.Errorf("no skip line naming the build of %s:\n%s", name, out)
		}
	}
	t.Logf("warm build.sh: %v", time.Since(start).Round(time.Millisecond))
}

func TestGitgateImageRunsGit(t *testing.T) {
	buildImages(t)
	for _, name := range []string{"gitgate", "sidecars"} {
		out := mustDocker(t, "run", "--rm", "--entrypoint", "/usr/bin/git", ref(name), "version")
		if !strings.HasPrefix(out, "git version ") {
			t.Errorf("%s: git version said %q", name, out)
		}
	}
	// The git subcommands gitgate runs, as the gate's user, in a data
	// directory like the gate's: init, index-pack, update-ref,
	// symbolic-ref, upload-pack (with pack-objects), gc.
	dir := t.TempDir()
	src := dir + "/src"
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.test", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.test")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("host git %q: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main", src)
	for i := range 3 {
		if err := os.WriteFile(fmt.Sprintf("%s/f%d", src, i), []byte(fmt.Sprint(i)), 0o644); err != nil {
			t.Fatal(err)
		}
		git("-C", src, "add", ".")
		git("-C", src, "commit", "-qm", fmt.Sprint("c", i))
	}
	sha := git("-C", src, "rev-parse", "HEAD")
	pack, err := exec.Command("sh", "-c", "echo HEAD | git -C "+src+" pack-objects --revs --stdout -q").Output()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/pack", pack, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("chown", "-R", "65532:65532", dir).CombinedOutput(); err != nil {
		t.Skipf("chown the work dir to the gate's uid: %v %s", err, out)
	}
	inGate := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command("docker", append([]string{"run", "--rm", "-i", "-v", dir + ":/w",
			"-e", "GIT_CONFIG_NOSYSTEM=1", "-e", "GIT_CONFIG_GLOBAL=/dev/null",
			"--entrypoint", "/usr/bin/git", ref("gitgate")}, args...)...)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %q in the gitgate image: %v\n%s", args, err, out)
		}
		return string(out)
	}
	inGate("", "init", "--bare", "--quiet", "/w/gate.git")
	inGate(string(pack), "-C", "/w/gate.git", "-c", "core.bigFileThreshold=16m", "index-pack", "--stdin", "--fix-thin", "--strict")
	inGate("update refs/heads/main\x00"+sha+"\x00\x00", "-C", "/w/gate.git", "update-ref", "--stdin", "-z")
	inGate("", "-C", "/w/gate.git", "symbolic-ref", "HEAD", "refs/heads/main")
	if out := inGate("", "-C", "/w/gate.git", "upload-pack", "--stateless-rpc", "--strict", "--advertise-refs", "."); !strings.Contains(out, sha+" refs/heads/main") {
		t.Errorf("advertised refs lack main:\n%q", out)
	}
	want := fmt.Sprintf("0032want %s\n00000009done\n", sha)
	if out := inGate(want, "-C", "/w/gate.git", "-c", "uploadpack.allowFilter=true", "upload-pack", "--stateless-rpc", "--strict", "."); !strings.Contains(out, "PACK") {
		t.Errorf("upload-pack sent no pack:\n%.300q", out)
	}
	inGate("", "-C", "/w/gate.git", "gc", "--auto", "--quiet")
	inGate("", "-C", "/w/gate.git", "gc", "--quiet")
	inGate("", "-C", "/w/gate.git", "fsck", "--strict")
}

func TestSidecarInitHealthModeRunsInTheImages(t *testing.T) {
	buildImages(t)
	for _, name := range sidecarImages {
		out, err := docker(t, "run", "--rm", ref(name), "--health", "http://127.0.0.1:1/healthz")
		if err == nil || !strings.Contains(err.Error(), "unhealthy: GET http://127.0.0.1:1/healthz") || !strings.Contains(err.Error(), "exit status 1") {
			t.Errorf("%s: --health against a closed port: %v %s", name, err, out)
		}
	}
}

// uniq names the docker objects of one test; each is removed in cleanup.
func uniq(what string) string {
	return fmt.Sprintf("bbimages-%s-%d-%x", what, os.Getpid(), rand.Uint32())
}

func network(t *testing.T, internal bool) string {
	t.Helper()
	name := uniq("net")
	args := []string{"network", "create"}
	if internal {
		args = append(args, "--internal")
	}
	mustDocker(t, append(args, name)...)
	t.Cleanup(func() { docker(t, "network", "rm", name) })
	return name
}

// container starts a detached container and removes it in cleanup.
func container(t *testing.T, name string, args ...string) {
	t.Helper()
	mustDocker(t, append([]string{"run", "-d", "--name", name}, args...)...)
	t.Cleanup(func() { docker(t, "rm", "-f", name) })
}

func TestAgentTestImage(t *testing.T) {
	buildImages(t)
	out := mustDocker(t, "run", "--rm", ref("agent-test"), "sh", "-c",
		"which sh git probe wget nc claude codex; id -u; echo $HOME; git --version; probe --help | head -1; touch /tmp/x /home/agent/x && echo writable")
	for _, want := range []string{"/bin/sh", "/usr/bin/git", "/usr/local/bin/probe", "/usr/local/bin/claude", "/usr/local/bin/codex", "/bin/wget", "1000\n", "/home/agent\n", "git version ", "usage: probe", "writable"} {
		if !strings.Contains(out, want) {
			t.Errorf("agent-test lacks %q:\n%s", want, out)
		}
	}

	// git over HTTP between containers: a repo served by busybox httpd
	// (git's dumb HTTP protocol) is listed and cloned through
	// git-remote-http, then a commit is pushed (to a local bare repo: the
	// smart-HTTP push goes through the gate, tested with it).
	net := network(t, false)
	srv := uniq("srv")
	container(t, srv, "--network", net, "--user", "0:0", ref("agent-test"), "sh", "-c", `set -e
cd /tmp && git init -q -b main w && cd w && echo hi > README && git add README
git -c user.name=t -c user.email=t@example.test commit -qm init
mkdir /srv && git clone -q --bare /tmp/w /srv/demo.git && git -C /srv/demo.git update-server-info
exec httpd -f -p 8080 -h /srv`)
	script := fmt.Sprintf(`set -e
url=http://%s:8080/demo.git
i=0; until probe tcp %s:8080 --timeout 1s >/dev/null 2>&1; do i=$((i+1)); [ $i -lt 50 ] || exit 9; sleep 0.1; done
git ls-remote "$url"
git clone -q "$url" demo && cat demo/README
cd demo && echo two >> README && git -c user.name=a -c user.email=a@example.test commit -qam two
git init -q --bare /tmp/up.git && git push -q /tmp/up.git main && git -C /tmp/up.git log --format=%%s main
probe http "$url/HEAD"`, srv, srv)
	out, err := docker(t, "run", "--rm", "--network", net, ref("agent-test"), "sh", "-c", script)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\trefs/heads/main\n", "hi\n", "two\ninit\n", "HTTP 200\nref: refs/heads/main\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("git over HTTP: output lacks %q:\n%s", want, out)
		}
	}
}

// TestNetguardClosesTheGatewayOfAnInternalNetwork is the attack netguard
// stops: from a container on an internal network, the bridge gateway (the
// host) answers; from one sharing netguard's namespace it is prohibited,
// every other off-link address is unreachable, a sibling still answers,
// and the agent cannot put the route back.
func TestNetguardClosesTheGatewayOfAnInternalNetwork(t *testing.T) {
	buildImages(t)
	net := network(t, true)
	gw := strings.TrimSpace(mustDocker(t, "network", "inspect", "--format", "{{(index .IPAM.Config 0).Gateway}}", net))
	sib := uniq("sibling")
	container(t, sib, "--network", net, ref("agent-test"), "httpd", "-f", "-p", "8080", "-h", "/tmp")

	// Without netguard the host answers on the gateway (here: a refusal,
	// which is an answer).
	_, err := docker(t, "run", "--rm", "--network", net, ref("agent-test"), "probe", "tcp", gw+":1", "--timeout", "2s")
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("baseline: want the host to refuse on %s:1, got %v", gw, err)
	}

	ng := uniq("netguard")
	container(t, ng, "--network", net, "--cap-drop", "ALL", "--cap-add", "NET_ADMIN", ref("netguard"))
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := docker(t, "exec", ng, "/usr/local/bin/netguard", "check"); err == nil {
			break
		} else if time.Now().After(deadline) {
			logs, _ := exec.Command("docker", "logs", ng).CombinedOutput()
			t.Fatalf("netguard check never passed: %v\nlogs: %s", err, logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	agent := []string{"run", "--rm", "--network", "container:" + ng, "--cap-drop", "ALL", ref("agent-test")}
	tests := []struct {
		name string
		cmd  []string
		want string // in the error (stderr); "" means success
	}{
		{"gateway prohibited", []string{"probe", "tcp", gw + ":1", "--timeout", "2s"}, "permission denied"},
		{"off-link unreachable", []string{"probe", "tcp", "198.51.100.1:80", "--timeout", "2s"}, "network is unreachable"},
		{"sibling reachable", []string{"sh", "-c", fmt.Sprintf("i=0; until probe tcp %s:8080 --timeout 1s; do i=$((i+1)); [ $i -lt 30 ] || exit 1; sleep 0.1; done", sib)}, ""},
		{"agent cannot restore the route", []string{"ip", "route", "add", "default", "via", gw}, "Operation not permitted"},
		{"agent cannot drop the prohibit", []string{"ip", "route", "del", "prohibit", gw + "/32"}, "Operation not permitted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := docker(t, append(slices.Clone(agent), tt.cmd...)...)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("%v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("want an error with %q, got %v %s", tt.want, err, out)
			}
		})
	}
	logs, _ := exec.Command("docker", "logs", ng).CombinedOutput()
	if !strings.Contains(string(logs), `"prohibited":["prohibit `+gw+`/32"]`) {
		t.Errorf("netguard's log line lacks the prohibit:\n%s", logs)
	}
	start := time.Now()
	mustDocker(t, "stop", ng)
	if code := strings.TrimSpace(mustDocker(t, "inspect", "--format", "{{.State.ExitCode}}", ng)); code != "0" {
		t.Errorf("netguard exited %s on SIGTERM", code)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("netguard took %v to stop", d)
	}
}

// imageFiles reads `docker save` of an image: it scans every regular file
// of every layer with scan (even files a later layer would hide) and
// returns the flattened filesystem.
func imageFiles(t *testing.T, name string, scan func(layerPath string, data []byte)) map[string]*tar.Header {
	t.Helper()
	cmd := exec.Command("docker", "save", ref(name))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	layers := map[string][]*tar.Header{}
	var manifest []struct{ Layers []string }
	outer := tar.NewReader(stdout)
	for {
		h, err := outer.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("docker save %s: %v", name, err)
		}
		switch {
		case h.Name == "manifest.json":
			if err := json.NewDecoder(outer).Decode(&manifest); err != nil {
				t.Fatal(err)
			}
		case strings.HasSuffix(h.Name, "/layer.tar") || strings.HasPrefix(h.Name, "blobs/"):
			inner := tar.NewReader(outer)
			for {
				ih, err := inner.Next()
				if err != nil {
					break // EOF, or a blob that is not a layer
				}
				layers[h.Name] = append(layers[h.Name], ih)
				if ih.Typeflag == tar.TypeReg {
					data, err := io.ReadAll(inner)
					if err != nil {
						t.Fatal(err)
					}
					scan(ih.Name, data)
				}
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("docker save %s: %v %s", name, err, stderr.String())
	}
	if len(manifest) != 1 {
		t.Fatalf("docker save %s: %d manifests", name, len(manifest))
	}
	fs := map[string]*tar.Header{}
	for _, l := range manifest[0].Layers {
		for _, h := range layers[l] {
			p := "/" + strings.TrimPrefix(path.Clean("/"+h.Name), "/")
			if base := path.Base(p); strings.HasPrefix(base, ".wh.") {
				delete(fs, path.Join(path.Dir(p), strings.TrimPrefix(base, ".wh.")))
				continue
			}
			fs[p] = h
		}
	}
	return fs
}

// TestNoPrivateKeysAndTheRightOwners scans every file of every layer for
// the private key marker. What may carry it:
//   - ELF files under /lib and /usr/lib: Debian's TLS and SSH libraries hold
//     the marker as a parser constant, and libgnutls its FIPS self-test keys;
//   - our ELF binaries, as text (probe's help names the marker it looks
//     for), and as a key only goproxy's published demo CA key, which
//     goproxy links into egress and egress never uses (it mints leaves
//     from the bottle's CA).
//
// Any other key block, and the marker in any non-ELF file, fails.
func TestNoPrivateKeysAndTheRightOwners(t *testing.T) {
	buildImages(t)
	dashes := strings.Repeat("-", 5)
	marker := []byte("PRIVATE KEY" + dashes)
	keyBlock := regexp.MustCompile(dashes + `BEGIN [A-Z0-9 ]*PRIVATE KEY` + dashes + `\r?\n[\s\S]*?` + dashes + `END [A-Z0-9 ]*PRIVATE KEY` + dashes)
	goproxyKey := bytes.TrimSpace(goproxy.CA_KEY)
	for _, name := range allImages {
		t.Run(name, func(t *testing.T) {
			var allowed []string
			fs := imageFiles(t, name, func(p string, data []byte) {
				if !bytes.Contains(data, marker) {
					return
				}
				p = "/" + strings.TrimPrefix(p, "./")
				if !bytes.HasPrefix(data, []byte("\x7fELF")) {
					t.Errorf("%s (not a binary) holds a private key marker", p)
					return
				}
				if strings.HasPrefix(p, "/lib/") || strings.HasPrefix(p, "/usr/lib/") {
					allowed = append(allowed, p)
					return
				}
				for _, k := range keyBlock.FindAll(data, -1) {
					if bytes.Equal(k, goproxyKey) {
						allowed = append(allowed, p+" (goproxy's published CA key)")
						continue
					}
					t.Errorf("%s holds a private key block of %d bytes", p, len(k))
				}
			})
			if len(allowed) > 0 {
				t.Logf("allowed marker hits: %s", strings.Join(allowed, ", "))
			}
			check := func(p string, typ byte, uid int, mode int64) {
				t.Helper()
				h, ok := fs[p]
				switch {
				case !ok:
					t.Errorf("%s is missing", p)
				case h.Typeflag != typ:
					t.Errorf("%s: type %q, want %q", p, h.Typeflag, typ)
				case uid >= 0 && h.Uid != uid:
					t.Errorf("%s: owner %d, want %d", p, h.Uid, uid)
				case mode >= 0 && h.Mode&0o7777 != mode:
					t.Errorf("%s: mode %o, want %o", p, h.Mode&0o7777, mode)
				}
			}
			switch {
			case slices.Contains(sidecarImages, name):
				for _, d := range []string{contract.ConfigDir, contract.GitDataDir, contract.QueueDir, contract.AuditDir} {
					check(d, tar.TypeDir, 65532, -1)
				}
				check("/tmp", tar.TypeDir, 0, 0o1777)
				check("/etc/ssl/certs/ca-certificates.crt", tar.TypeReg, 0, 0o644)
				check("/etc/passwd", tar.TypeReg, 0, 0o644)
				check("/usr/local/bin/sidecar-init", tar.TypeReg, 0, 0o755)
				if name == "gitgate" || name == "sidecars" {
					check("/usr/bin/git", tar.TypeReg, 0, 0o755)
					check("/lib64/ld-linux-x86-64.so.2", tar.TypeReg, 0, -1)
				}
			case name == "agent-test":
				check("/home/agent", tar.TypeDir, 1000, 0o755)
				check("/tmp", tar.TypeDir, 0, 0o1777)
				check("/bin/busybox", tar.TypeReg, 0, 0o755)
				check("/bin/sh", tar.TypeSymlink, 0, -1)
				check("/usr/lib/git-core/git-remote-https", tar.TypeSymlink, 0, -1)
				check("/usr/local/bin/probe", tar.TypeReg, 0, 0o755)
			case name == "netguard":
				check("/usr/local/bin/netguard", tar.TypeReg, 0, 0o755)
				for p := range fs {
					if p != "/" && p != "/usr/local/bin/netguard" && !strings.HasPrefix("/usr/local/bin/netguard", p+"/") {
						t.Errorf("netguard image holds %s; it should hold only the binary", p)
					}
				}
			}
		})
	}
}

func TestContractDirsMatchBuildScript(t *testing.T) {
	script, err := os.ReadFile("build.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^SIDECAR_DATA_DIRS=\(([^)]*)\)`).FindSubmatch(script)
	if m == nil {
		t.Fatal("build.sh has no SIDECAR_DATA_DIRS=(...) line")
	}
	var want []string
	for _, d := range []string{contract.ConfigDir, contract.GitDataDir, contract.QueueDir, contract.AuditDir} {
		want = append(want, strings.TrimPrefix(d, "/"))
	}
	if got := strings.Fields(string(m[1])); !slices.Equal(got, want) {
		t.Errorf("build.sh SIDECAR_DATA_DIRS = %q; pkg/contract names %q", got, want)
	}
}
