package gitgate

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// Attacks from issue 17 ("the git gate under attack"), one test per
// finding, each named after the attack it stops.

// gitStdin runs the git CLI in dir with stdin and returns its trimmed
// output, failing the test if git fails.
func gitStdin(t testing.TB, dir, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = testGitEnv(dir)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// refusedPush pushes with the git CLI from the fixture's clone and fails
// the test unless the gate refused it for a secret and neither the
// upstream nor the gate moved.
func (f *pushFixture) refusedPush(t *testing.T, secret string, args ...string) string {
	t.Helper()
	before := refsOf(t, f.bare)
	out := gitFails(t, f.work, append([]string{"push", "origin"}, args...)...)
	rejected(t, out, secret)
	f.unchanged(t, before)
	return out
}

// TestSecretInAllowlistedPathRefused (#1): gitleaks' default allowlist
// skips whole paths; the gate must scan them like any file.
func TestSecretInAllowlistedPathRefused(t *testing.T) {
	f := newPushFixture(t)
	main := git(t, f.work, "rev-parse", "HEAD")
	for i, path := range []string{
		"logo.svg",
		"go.sum",
		"package-lock.json",
		"node_modules/left-pad/index.js",
		"vendor/github.com/acme/lib/lib.go",
		"env/lib/python3.12/site.py",
		"gitleaks.toml/notes.txt",
		"docs/manual.pdf",
		"@octokit/auth-token/README.md",
		"creds.txt", // the control
	} {
		t.Run(path, func(t *testing.T) {
			tok := fakeToken(uint64(100 + i))
			git(t, f.work, "checkout", "--quiet", "-B", "leak", main)
			commitFile(t, f.work, path, "token = \""+tok+"\"\n", "add "+path)
			f.refusedPush(t, tok, "leak")
		})
	}
}

// gzipPush posts a gzip-encoded receive-pack body and returns the status
// and response.
func gzipPush(t *testing.T, g *testGate, name string, body []byte) (int, string) {
	t.Helper()
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	if _, err := zw.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, g.repoURL(name)+"/git-receive-pack", &z)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-git-receive-pack-request")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

// TestShallowLineFloodRefused (#7a): shallow lines were kept without a
// bound, and gzip packs 53-byte lines 350:1, so a few MB of request took
// the gate to GiBs. The command section is bounded.
func TestShallowLineFloodRefused(t *testing.T) {
	f := newPushFixture(t)
	head := git(t, f.work, "rev-parse", "HEAD")
	flood := strings.Repeat(pkt("shallow "+head+"\n"), maxShallow+1)
	status, out := gzipPush(t, f.g, "demo", []byte(flood+pkt(zeroID+" "+head+" refs/heads/flood\x00report-status\n")+"0000"))
	if status != http.StatusBadRequest || !strings.Contains(out, "more than 10000 shallow lines") {
		t.Fatalf("status %d: %s", status, out)
	}
	if strings.Contains(refsOf(t, f.bare), "flood") {
		t.Fatal("the push went ahead")
	}
}

// TestRefOutsideBranchesAndTagsRefused (#11): refs/replace/, refs/pull/,
// refs/remotes/ and refs/meta/ were forwarded, and so were branch
// deletions; both now need the gate file's say-so.
func TestRefOutsideBranchesAndTagsRefused(t *testing.T) {
	f := newPushFixture(t)
	head := git(t, f.work, "rev-parse", "HEAD")
	before := refsOf(t, f.bare)
	for _, ref := range []string{"refs/replace/" + head, "refs/pull/1/head", "refs/remotes/origin/main", "refs/meta/config", "refs/notes/commits"} {
		t.Run(ref, func(t *testing.T) {
			out := gitFails(t, f.work, "push", "origin", "HEAD:"+ref)
			for _, want := range []string{"remote: gitgate: push refused: this gate takes pushes to branches (refs/heads/) and tags (refs/tags/) only", "push_refs", "(refused: not a branch or tag)"} {
				if !strings.Contains(out, want) {
					t.Fatalf("output lacks %q:\n%s", want, out)
				}
			}
			f.unchanged(t, before)
		})
	}
	t.Run("delete a branch", func(t *testing.T) {
		git(t, f.work, "push", "--quiet", "origin", "HEAD:refs/heads/doomed")
		before := refsOf(t, f.bare)
		out := gitFails(t, f.work, "push", "origin", "--delete", "doomed")
		if !strings.Contains(out, "allow_branch_delete") || !strings.Contains(out, "(refused: branch deletion is off)") {
			t.Fatalf("output:\n%s", out)
		}
		f.unchanged(t, before)
	})
}

// TestRefPolicyFromGateFile: push_refs and allow_branch_delete let
// through what the operator allowed, and nothing else.
func TestRefPolicyFromGateFile(t *testing.T) {
	f := newPushFixture(t, withRepo("demo", func(r *contract.Repo) {
		r.PushRefs, r.AllowBranchDelete = []string{"refs/notes/"}, true
	}))
	git(t, f.work, "notes", "add", "-m", "a note")
	git(t, f.work, "push", "--quiet", "origin", "refs/notes/commits")
	git(t, f.work, "push", "--quiet", "origin", "HEAD:refs/heads/doomed")
	git(t, f.work, "push", "--quiet", "origin", "--delete", "doomed")
	f.sameRefs(t)
	gitFails(t, f.work, "push", "origin", "HEAD:refs/pull/1/head")
}

// TestAgentStringsNotLogged (#14): the request log had the raw URL path
// and the audit reason the first finding's file path, both chosen by
// the agent.
func TestAgentStringsNotLogged(t *testing.T) {
	f := newPushFixture(t)
	tok := fakeToken(1400)
	resp, err := http.Get(f.g.url + "/" + tok + ".git/info/refs?service=git-upload-pack")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("status %d", resp.StatusCode)
	}
	resp, err = http.Get(f.g.url + "/demo.git/" + tok)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// A directory named after a secret, ahead of a flagged file.
	other := fakeToken(1401)
	git(t, f.work, "checkout", "--quiet", "-b", "dirs")
	commitFile(t, f.work, "a/"+tok+"/creds.txt", "token = \""+other+"\"\n", "creds")
	out := gitFails(t, f.work, "push", "origin", "dirs")
	if !strings.Contains(out, "push rejected") {
		t.Fatalf("push output:\n%s", out)
	}
	for name, log := range map[string]string{"log": f.g.logs.String(), "audit": f.g.audit.String()} {
		if strings.Contains(log, tok) || strings.Contains(log, other) || strings.Contains(log, "ghp_") {
			t.Errorf("the gate's %s holds an agent-chosen secret:\n%s", name, log)
		}
	}
	if !strings.Contains(f.g.audit.String(), "first: rule github-pat [redacted finding sha256:") {
		t.Errorf("audit reason lacks the finding's rule and fingerprint:\n%s", f.g.audit.String())
	}
}

// TestRefreshIsRateLimited (#13): every info/refs was one upstream SSH
// login, so the agent could push the operator's key into the
// upstream's rate limits. Within --refresh-interval fetches share the
// last refresh, and a failed one keeps failing them.
func TestRefreshIsRateLimited(t *testing.T) {
	slow := func(c *Config, _ *contract.GateFile) { c.RefreshInterval = time.Hour }
	f := newPushFixture(t, slow)
	logins := f.u.Sessions.Load()
	for range 40 {
		resp, err := http.Get(f.g.repoURL("demo") + "/info/refs?service=git-upload-pack")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if n := f.u.Sessions.Load() - logins; n != 0 {
		t.Fatalf("40 fetches within the interval made %d upstream logins, want 0", n)
	}
	// Pushes still reach the upstream, and the gate keeps up.
	commitFile(t, f.work, "n.txt", "n\n", "new")
	git(t, f.work, "push", "--quiet", "origin", "main")
	f.sameRefs(t)

	// Failing closed: an unreachable upstream fails every fetch, also
	// those within the interval, without a login each.
	g := startGate(t, f.u, nil, slow, func(_ *Config, gf *contract.GateFile) {
		gf.Repos = []contract.Repo{{Name: "demo", URL: "ssh://git@" + closedPort(t) + "/demo.git", Identity: "upstream_key", HostKey: f.u.hostKeyLine()}}
	})
	for range 3 {
		out := gitFails(t, t.TempDir(), "clone", g.repoURL("demo"))
		if !strings.Contains(out, "cannot refresh demo from its upstream") || !strings.Contains(out, "connection refused") {
			t.Fatalf("clone output:\n%s", out)
		}
	}
}

// stalledPush opens a receive-pack request that announces a large body,
// sends the commands and the start of a pack, and then sends nothing.
func stalledPush(t *testing.T, g *testGate, head string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(g.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	body := pkt(zeroID+" "+head+" refs/heads/stalled\x00report-status side-band-64k\n") + "0000" + "PACK\x00\x00\x00\x02\x00\x00\x00\x05"
	fmt.Fprintf(c, "POST /demo.git/git-receive-pack HTTP/1.1\r\nHost: gate\r\nContent-Type: application/x-git-receive-pack-request\r\nContent-Length: 100000000\r\n\r\n%s", body)
	return c
}

// quarantines lists the gate's quarantine directories for demo.
func quarantines(t *testing.T, g *testGate) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(g.gateDir("demo"), quarantinePrefix+"*"))
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

// TestStalledPushesAreBounded (#9): a push body that stops arriving held
// a goroutine, an index-pack and a quarantine for ever, and nothing
// bounded how many. Pushes in progress are capped and a stalled body is
// dropped after BodyIdleTimeout, its quarantine removed.
func TestStalledPushesAreBounded(t *testing.T) {
	f := newPushFixture(t, func(c *Config, _ *contract.GateFile) {
		c.MaxRepoPushes, c.BodyIdleTimeout = 2, 2*time.Second
	})
	head := git(t, f.work, "rev-parse", "HEAD")
	conns := []net.Conn{stalledPush(t, f.g, head), stalledPush(t, f.g, head)}
	// Wait until both hold a quarantine: the gate is working on them.
	deadline := time.Now().Add(30 * time.Second)
	for len(quarantines(t, f.g)) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("stalled pushes hold %d quarantines", len(quarantines(t, f.g)))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A third push is refused at once instead of queueing behind them.
	commitFile(t, f.work, "third.txt", "3\n", "third")
	out := gitFails(t, f.work, "push", "origin", "main")
	if !strings.Contains(out, "503") && !strings.Contains(out, "try again shortly") {
		t.Fatalf("third push:\n%s", out)
	}
	// The stalled ones are dropped, and leave nothing behind.
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
		if _, err := io.ReadAll(c); err != nil {
			t.Fatalf("a stalled push was not dropped: %v", err)
		}
	}
	deadline = time.Now().Add(30 * time.Second)
	for len(quarantines(t, f.g)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("quarantines left: %v", quarantines(t, f.g))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// And pushes work again.
	git(t, f.work, "push", "--quiet", "origin", "main")
	f.sameRefs(t)
}

// keywordText is text that makes gitleaks work hard for each byte (its
// generic rules fire on every line) and that zlib packs tightly.
func keywordText(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "api_key password secret token auth = x%d\n", i%97)
	}
	return b.String()
}

// TestScanBudgetRefusesLargePush (#8): a push's scan had no bound; a
// small pack of keyword-dense text kept the CPUs busy for minutes.
func TestScanBudgetRefusesLargePush(t *testing.T) {
	for _, tc := range []struct {
		name   string
		budget func(*Config)
	}{
		{"bytes", func(c *Config) { c.ScanBytes = 1 << 20 }},
		{"time", func(c *Config) { c.ScanTimeout = time.Millisecond }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newPushFixture(t, func(c *Config, _ *contract.GateFile) { tc.budget(c) })
			before := refsOf(t, f.bare)
			commitFile(t, f.work, "big.txt", keywordText(4<<20), "big")
			out := gitFails(t, f.work, "push", "origin", "main")
			if !strings.Contains(out, "push refused: scanning it for secrets would take more than this gate allows") ||
				!strings.Contains(out, "(too large to scan)") {
				t.Fatalf("push output:\n%s", out)
			}
			f.unchanged(t, before)
		})
	}
}

// TestScanDoesNotBlockFetchesAndStopsWithItsClient (#8): the scan held
// the repository's lock, so every fetch waited for it, and it went on
// after the client had gone.
func TestScanDoesNotBlockFetchesAndStopsWithItsClient(t *testing.T) {
	f := newPushFixture(t)
	before := refsOf(t, f.bare)
	commitFile(t, f.work, "big.txt", keywordText(32<<20), "big")
	cmd := exec.Command("git", "push", "origin", "main")
	cmd.Dir = f.work
	cmd.Env = testGitEnv(f.work)
	var out testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group: git-remote-http, which holds the connection,
	// goes with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	// Wait until the push is being scanned.
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(f.g.logs.String(), `"msg":"push scan started"`) && !strings.Contains(out.String(), "for secrets") {
		select {
		case <-done:
			t.Fatalf("the push ended before its scan could be observed:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the push never reached its scan")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A fetch does not wait for the scan.
	ls := exec.Command("git", "ls-remote", f.g.repoURL("demo"))
	ls.Env = testGitEnv(t.TempDir())
	lsDone := make(chan error, 1)
	go func() { lsDone <- ls.Run() }()
	select {
	case err := <-lsDone:
		if err != nil {
			t.Fatalf("ls-remote during a scan: %v", err)
		}
	case <-done:
		t.Fatalf("ls-remote waited for the scan to finish:\n%s", out.String())
	}
	// The client leaves; its scan stops and nothing reaches the upstream.
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	<-done
	deadline = time.Now().Add(60 * time.Second)
	for !strings.Contains(f.g.audit.String(), `"rule":"client-gone"`) {
		if time.Now().After(deadline) {
			t.Fatalf("the scan went on after its client left:\n%s", f.g.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.unchanged(t, before)
}

// purgedUpstream is a fixture whose upstream once had, and then purged
// (branch deleted, gc --prune=now), a commit holding a secret that the
// gate had mirrored and the agent's clone still has.
type purgedUpstream struct {
	*pushFixture
	tok          string
	commit, blob string
}

func newPurgedUpstream(t *testing.T) *purgedUpstream {
	t.Helper()
	f := newPushFixture(t)
	tok := fakeToken(1000)
	up := t.TempDir()
	git(t, up, "clone", "--quiet", f.bare, ".")
	git(t, up, "checkout", "--quiet", "-b", "leak")
	c := commitFile(t, up, "creds.txt", "token = \""+tok+"\"\n", "oops")
	blob := git(t, up, "rev-parse", "HEAD:creds.txt")
	git(t, up, "push", "--quiet", "origin", "leak")
	git(t, f.work, "fetch", "--quiet", "origin") // the gate mirrors it, the clone has it
	if _, err := gitRun(f.g.gateDir("demo"), nil, "cat-file", "-e", blob); err != nil {
		t.Fatalf("the gate did not mirror the leak: %v", err)
	}
	// The operator purges it upstream.
	git(t, f.bare, "update-ref", "-d", "refs/heads/leak")
	git(t, f.bare, "gc", "--quiet", "--prune=now")
	if out, err := gitRun(f.bare, nil, "cat-file", "-e", blob); err == nil {
		t.Fatalf("the upstream still has the blob: %s", out)
	}
	return &purgedUpstream{pushFixture: f, tok: tok, commit: c, blob: blob}
}

// TestPurgedObjectCannotRideBack (#10): the smuggling check counted an
// object as known if the gate held it, and the gate never dropped what
// the upstream purged: any push could carry the secret back up.
func TestPurgedObjectCannotRideBack(t *testing.T) {
	f := newPurgedUpstream(t)
	git(t, f.work, "ls-remote", "origin") // a client's first request: the gate refreshes
	git(t, f.work, "checkout", "--quiet", "main")
	c := commitFile(t, f.work, "clean.txt", "clean\n", "clean")
	before := refsOf(t, f.bare)
	main := git(t, f.bare, "rev-parse", "main")
	pack := packOf(t, f.work, c, git(t, f.work, "rev-parse", "HEAD^{tree}"), git(t, f.work, "rev-parse", "HEAD:clean.txt"), f.blob)
	resp := rawPush(t, f.g, "demo", []string{main + " " + c + " refs/heads/main"}, pack)
	if !strings.Contains(resp, "ng refs/heads/main pack has objects no pushed ref reaches") {
		t.Fatalf("response:\n%q", resp)
	}
	f.unchanged(t, before)
	if out, err := gitRun(f.bare, nil, "cat-file", "-e", f.blob); err == nil {
		t.Fatalf("the purged blob is back on the upstream: %s", out)
	}
}

// TestPurgedObjectNotServedByID (#12): the mirror kept objects the
// upstream purged, and protocol v2 serves any object by id.
func TestPurgedObjectNotServedByID(t *testing.T) {
	f := newPurgedUpstream(t)
	for _, version := range []string{"2", "0"} {
		t.Run("protocol v"+version, func(t *testing.T) {
			fresh := t.TempDir()
			git(t, fresh, "init", "--quiet", ".")
			out, err := gitRun(fresh, nil, "-c", "protocol.version="+version, "fetch", f.g.repoURL("demo"), f.commit)
			if err == nil {
				t.Fatalf("fetched the purged commit by id:\n%s", out)
			}
			if out, err := gitRun(fresh, nil, "cat-file", "-e", f.blob); err == nil {
				t.Fatalf("the purged blob was served: %s", out)
			}
		})
	}
}
