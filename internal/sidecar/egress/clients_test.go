package egress

import (
	"bytes"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const gitRoutes = baseRoutes + `  - host: git.example.test
    ssrf_allow: ["127.0.0.1"]
`

// git runs the real git CLI with egress as its HTTPS proxy.
func (e *env) git(dir string, args ...string) (string, error) {
	e.t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "http.proxy=http://" + e.addr, "-c", "http.sslCAInfo=" + e.ca.CertPath}, args...)...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + e.dir, "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.test", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.test"}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func run(t *testing.T, dir string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.test", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.test"}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func TestGitCloneThroughEgressAndPushRefused(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	backend, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, gitRoutes, nil)
	root := t.TempDir()
	src := filepath.Join(root, "src")
	run(t, root, "git", "init", "-q", "-b", "main", src)
	writeFile(t, filepath.Join(src, "README"), []byte("hello\n"))
	run(t, src, "git", "add", "README")
	run(t, src, "git", "commit", "-q", "-m", "first")
	run(t, root, "git", "clone", "-q", "--bare", src, filepath.Join(root, "repo.git"))
	run(t, filepath.Join(root, "repo.git"), "git", "config", "http.receivepack", "true")
	h := &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(backend)), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"},
	}
	up := e.startUpstream(false, func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }, "git.example.test")

	work := t.TempDir()
	url := "https://git.example.test:" + up.port + "/repo.git"
	if out, err := e.git(work, "clone", "-q", url, "clone"); err != nil {
		t.Fatalf("git clone through egress: %v\n%s", err, out)
	}
	clone := filepath.Join(work, "clone")
	if data, err := os.ReadFile(filepath.Join(clone, "README")); err != nil || string(data) != "hello\n" {
		t.Fatalf("cloned README = %q, %v", data, err)
	}
	writeFile(t, filepath.Join(clone, "new"), []byte("x\n"))
	run(t, clone, "git", "add", "new")
	run(t, clone, "git", "commit", "-q", "-m", "second")
	out, err := e.git(clone, "push", "origin", "main")
	if err == nil {
		t.Fatalf("git push over HTTPS through egress succeeded:\n%s", out)
	}
	t.Logf("git push said:\n%s", out)
	if !strings.Contains(out, "git-gate") {
		t.Errorf("push refusal does not point at the git gate:\n%s", out)
	}
	for _, r := range up.requests() {
		if strings.Contains(r.path, "git-receive-pack") || strings.Contains(r.query, "git-receive-pack") {
			t.Errorf("receive-pack reached the upstream: %s %s?%s", r.method, r.path, r.query)
		}
	}
}

func TestPythonURLLibThroughEgress(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed")
	}
	e := newEnv(t, baseRoutes, nil)
	up := e.startUpstream(false, echo, "api.example.test")
	script := `
import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[2])
opener = urllib.request.build_opener(
    urllib.request.ProxyHandler({"https": sys.argv[1]}),
    urllib.request.HTTPSHandler(context=ctx))
req = urllib.request.Request(sys.argv[3], data=b'{"q": 1}', headers={"Authorization": "Bearer placeholder"})
with opener.open(req, timeout=20) as r:
    sys.stdout.write(str(r.status) + "\n" + r.read().decode())
`
	cmd := exec.Command("python3", "-c", script, "http://"+e.addr, e.ca.CertPath, "https://api.example.test:"+up.port+"/v1/py")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "200\nPOST /v1/py") {
		t.Errorf("python output:\n%s", out)
	}
	got := up.requests()
	if len(got) != 1 || got[0].header.Get("Authorization") != "Bearer "+testToken {
		t.Errorf("upstream did not get the injected token: %+v", got)
	}
}
