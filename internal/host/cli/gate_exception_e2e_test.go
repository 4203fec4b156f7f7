package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/bot-bottle/bot-bottle/internal/scaffold/gitsshd"
	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
	"github.com/bot-bottle/bot-bottle/internal/sidecar/supervise"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// TestDLPBlockForRepoApprovedByOperatorLetsThatOnePushThrough is the whole
// git gate exception loop without Docker: a real gitgate process refuses a
// push for a secret and prints the finding's fingerprint; the agent quotes
// it in dlp-block over MCP; the operator approves with the CLI, which
// writes the bottle's gate file; the same push then lands upstream through
// the same gitgate process, and a different secret is still refused.
func TestDLPBlockForRepoApprovedByOperatorLetsThatOnePushThrough(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs gitgate")
	}
	for _, tool := range []string{"go", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	home := t.TempDir()
	state := string(testutil.BottleDir(t, home, "dev"))
	secrets := contract.BottleDir(state).Path(contract.BottleSecretsDir)
	gateFile := testutil.BottleDir(t, home, "dev").GateFile()
	for _, d := range []string{secrets, filepath.Dir(gateFile)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}

	// The upstream, over SSH, with one repository.
	upRoot := t.TempDir()
	up, err := gitsshd.Start(upRoot)
	if err != nil {
		t.Fatal(err)
	}
	up.Env = gitEnv(upRoot)
	t.Cleanup(func() { _ = up.Close() })
	bare := filepath.Join(upRoot, "demo.git")
	gitOK(t, upRoot, "init", "--bare", "--quiet", bare)
	seedWork := t.TempDir()
	gitOK(t, seedWork, "init", "--quiet", ".")
	commitFile(t, seedWork, "README.md", "hello\n")
	gitOK(t, seedWork, "push", "--quiet", bare, "HEAD:refs/heads/main")

	// The bottle's gate file and key, as render writes them.
	if err := os.WriteFile(filepath.Join(secrets, "demo_key"), up.ClientKeyPEM, 0o400); err != nil {
		t.Fatal(err)
	}
	gf := &contract.GateFile{Version: contract.Version, Repos: []contract.Repo{
		{Name: "demo", URL: up.URL("demo"), Identity: "demo_key", HostKey: up.HostKeyLine()}}}
	data, err := gf.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(gateFile, data, 0o644); err != nil {
		t.Fatal(err)
	}

	// A real gitgate process.
	bin := testutil.BuildCommand(t, "github.com/bot-bottle/bot-bottle/cmd/gitgate")
	gitAddr, adminAddr := testutil.FreeAddrT(t), testutil.FreeAddrT(t)
	var gateLog testutil.SyncBuffer
	gg := exec.Command(bin, "--config", gateFile, "--data", t.TempDir(), "--secrets-dir", secrets,
		"--listen", gitAddr, "--admin", adminAddr)
	gg.Env = []string{"PATH=" + os.Getenv("PATH")}
	gg.Stderr, gg.Stdout = &gateLog, io.Discard
	if err := gg.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = gg.Process.Signal(syscall.SIGTERM)
		_ = gg.Wait()
		if t.Failed() {
			t.Logf("gitgate log:\n%s", gateLog.String())
		}
	})
	waitUntil(t, func() bool {
		resp, err := http.Get("http://" + adminAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	}, "gitgate to start")

	// The agent clones through the gate and commits a test fixture that
	// looks like a token.
	work := filepath.Join(t.TempDir(), "demo")
	gitOK(t, filepath.Dir(work), "clone", "--quiet", "http://"+gitAddr+"/demo.git", work)
	tok := fakeGitHubToken(1)
	gitOK(t, work, "checkout", "--quiet", "-b", "fixture")
	c := commitFile(t, work, "config/app.yaml", "name: demo\nregion: eu\ntoken: "+tok+"\n")
	out, err := gitRun(work, "push", "origin", "fixture")
	wantFP := c + ":config/app.yaml:github-pat:3"
	if err == nil || !strings.Contains(out, "remote: gitgate:     fingerprint "+wantFP) || !strings.Contains(out, `repo "demo"`) {
		t.Fatalf("first push: err %v, want a refusal printing fingerprint %s:\n%s", err, wantFP, out)
	}
	if strings.Contains(out, tok) || strings.Contains(gateLog.String(), tok) {
		t.Fatal("the gate showed the token")
	}
	fp := regexp.MustCompile(`fingerprint (\S+)`).FindStringSubmatch(out)[1]

	// supervise, serving the bottle's queue; the agent asks over MCP.
	sup := supervise.NewServer(supervise.Config{Queue: testutil.BottleDir(t, home, "dev").QueueDir(), Bottle: "dev",
		EgressAdmin: "http://127.0.0.1:1", ResponseTimeout: 20 * time.Second, Poll: 20 * time.Millisecond},
		slog.New(slog.NewJSONHandler(io.Discard, nil)))
	supLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = sup.Serve(ctx, supLn) }()
	mc, err := client.NewStreamableHttpClient("http://" + supLn.Addr().String() + "/mcp")
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Close()
	if err := mc.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ClientInfo = mcp.Implementation{Name: "agent", Version: "1"}
	if _, err := mc.Initialize(t.Context(), init); err != nil {
		t.Fatal(err)
	}
	result := make(chan *mcp.CallToolResult, 1)
	go func() {
		req := mcp.CallToolRequest{}
		req.Params.Name = "dlp-block"
		req.Params.Arguments = map[string]any{"repo": "demo", "fingerprint": fp, "reason": "config/app.yaml holds a made-up token for the parser tests"}
		res, err := mc.CallTool(context.Background(), req)
		if err != nil {
			t.Errorf("dlp-block: %v", err)
		}
		result <- res
	}()

	// The operator reads what approving grants, and approves.
	var id string
	waitUntil(t, func() bool {
		r := run(t, "/", nil, "--home", home, "proposals", "list", "--json")
		var list []struct{ ID, Tool, Status string }
		_ = json.Unmarshal([]byte(r.stdout), &list)
		if len(list) == 1 && list[0].Tool == "dlp-block" && list[0].Status == "pending" {
			id = list[0].ID
		}
		return id != ""
	}, "the proposal to be listed")
	show := run(t, "/", nil, "--home", home, "proposals", "show", id)
	grants := fmt.Sprintf(`approving it lets this one finding (rule github-pat in path "config/app.yaml" at commit %s line 3) through the git gate for repo demo`, c)
	if !strings.Contains(show.stdout, grants) {
		t.Errorf("show does not say what approving grants:\n%s", show.stdout)
	}
	if r := run(t, "/", nil, "--home", home, "proposals", "approve", id, "--note", "ok, it is a fixture"); r.code != 0 {
		t.Fatalf("approve: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if res := <-result; res == nil || res.IsError || !strings.Contains(fmt.Sprint(res.Content), "status: approved") {
		t.Fatalf("agent's call = %+v", res)
	}

	// The same push now lands upstream, through the same gate process.
	out = gitOK(t, work, "push", "origin", "fixture")
	if !strings.Contains(out, "1 finding let through by the operator's DLP exceptions") {
		t.Errorf("push output does not mention the exception:\n%s", out)
	}
	if got := gitOK(t, bare, "rev-parse", "refs/heads/fixture"); got != c {
		t.Fatalf("upstream fixture = %s, want %s", got, c)
	}
	if gg.ProcessState != nil {
		t.Fatal("gitgate restarted")
	}

	// A different secret in the same repository is still refused.
	for _, tc := range []struct{ name, content string }{
		{"on another line", "name: demo\nregion: eu\ntoken: " + tok + "\nbackup: " + fakeGitHubToken(2) + "\n"},
		{"on the same line", "name: demo\nregion: eu\ntoken: " + fakeGitHubToken(3) + "\n"},
	} {
		t.Run("still refused "+tc.name, func(t *testing.T) {
			gitOK(t, work, "reset", "--quiet", "--hard", c)
			c2 := commitFile(t, work, "config/app.yaml", tc.content)
			out, err := gitRun(work, "push", "origin", "fixture")
			if err == nil || !strings.Contains(out, "push rejected") || !strings.Contains(out, "fingerprint "+c2+":config/app.yaml:github-pat:") {
				t.Fatalf("push of another secret: err %v, want a refusal naming commit %s:\n%s", err, c2, out)
			}
			if got := gitOK(t, bare, "rev-parse", "refs/heads/fixture"); got != c {
				t.Fatalf("upstream fixture moved to %s", got)
			}
		})
	}
}

// gitEnv is the git CLI's environment in tests: no system or user config,
// a test identity.
func gitEnv(home string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home,
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Agent", "GIT_AUTHOR_EMAIL=agent@bottle.test",
		"GIT_COMMITTER_NAME=Agent", "GIT_COMMITTER_EMAIL=agent@bottle.test",
		"GIT_CONFIG_COUNT=1", "GIT_CONFIG_KEY_0=init.defaultBranch", "GIT_CONFIG_VALUE_0=main",
		"LC_ALL=C",
	}
}

func gitRun(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir, cmd.Env = dir, gitEnv(dir)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func gitOK(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := gitRun(dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(out)
}

// commitFile writes content to path in the work tree dir, commits it and
// returns the commit id.
func commitFile(t *testing.T, dir, path, content string) string {
	t.Helper()
	full := filepath.Join(dir, path)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	gitOK(t, dir, "add", "-A")
	gitOK(t, dir, "commit", "--quiet", "-m", "edit "+path)
	return gitOK(t, dir, "rev-parse", "HEAD")
}

// fakeGitHubToken returns a GitHub-token-shaped string gitleaks flags,
// built at run time so that no secret-shaped literal sits in this
// repository.
func fakeGitHubToken(seed uint64) string {
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	r := mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, 36)
	for i := range b {
		b[i] = alnum[r.IntN(len(alnum))]
	}
	return "ghp" + "_" + string(b)
}
