package gitgate

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// pkt encodes one pkt-line.
func pkt(s string) string { return fmt.Sprintf("%04x%s", len(s)+4, s) }

// packOf returns a pack holding exactly the objects ids of the repository
// at dir.
func packOf(t *testing.T, dir string, ids ...string) []byte {
	t.Helper()
	cmd := exec.Command("git", "pack-objects", "--stdout")
	cmd.Dir = dir
	cmd.Env = testGitEnv(dir)
	in := ""
	for _, id := range ids {
		in += id + "\n"
	}
	cmd.Stdin = strings.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pack-objects: %v", err)
	}
	return out
}

// rawPush sends a receive-pack request built by hand and returns the
// response body.
func rawPush(t *testing.T, g *testGate, name string, commands []string, pack []byte) string {
	t.Helper()
	var body bytes.Buffer
	for i, c := range commands {
		if i == 0 {
			c += "\x00report-status side-band-64k agent=test"
		}
		body.WriteString(pkt(c + "\n"))
	}
	body.WriteString("0000")
	body.Write(pack)
	resp, err := http.Post(g.repoURL(name)+"/git-receive-pack", "application/x-git-receive-pack-request", &body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, out)
	}
	return string(out)
}

const zeroID = "0000000000000000000000000000000000000000"

// TestObjectSmugglingRefused: a new branch at an existing commit, with a
// pack carrying an extra blob that nothing references, introduces no
// commit to scan; the blob must not reach the upstream.
func TestObjectSmugglingRefused(t *testing.T) {
	f := newPushFixture(t)
	before := refsOf(t, f.bare)
	tok := fakeToken(10)
	cmd := exec.Command("git", "hash-object", "-w", "--stdin")
	cmd.Dir = f.work
	cmd.Env = testGitEnv(f.work)
	cmd.Stdin = strings.NewReader("token " + tok + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	blob := strings.TrimSpace(string(out))
	head := git(t, f.work, "rev-parse", "HEAD")
	resp := rawPush(t, f.g, "demo", []string{zeroID + " " + head + " refs/heads/smuggle"}, packOf(t, f.work, blob))
	if !strings.Contains(resp, "ng refs/heads/smuggle pack has objects no pushed ref reaches") {
		t.Fatalf("response:\n%q", resp)
	}
	f.unchanged(t, before)
	if out, err := gitRun(f.bare, nil, "cat-file", "-e", blob); err == nil {
		t.Fatalf("smuggled blob reached the upstream: %s", out)
	}
	if out, err := gitRun(f.g.gateDir("demo"), nil, "cat-file", "-e", blob); err == nil {
		t.Fatalf("smuggled blob stayed on the gate: %s", out)
	}
}

// TestStaleOldValueCannotOverwriteRef: a push whose old value is not the
// ref's current value (a lost race, or a crafted client) changes nothing.
func TestStaleOldValueCannotOverwriteRef(t *testing.T) {
	f := newPushFixture(t)
	first := git(t, f.work, "rev-list", "--max-parents=0", "HEAD")
	before := refsOf(t, f.bare)
	commitFile(t, f.work, "n.txt", "n\n", "new")
	c := git(t, f.work, "rev-parse", "HEAD")
	resp := rawPush(t, f.g, "demo", []string{first + " " + c + " refs/heads/main"}, packOf(t, f.work, c, git(t, f.work, "rev-parse", "HEAD^{tree}"), git(t, f.work, "rev-parse", "HEAD:n.txt")))
	if !strings.Contains(resp, "ng refs/heads/main fetch first") {
		t.Fatalf("response:\n%q", resp)
	}
	f.unchanged(t, before)
	// Creating a ref that exists is stale too.
	resp = rawPush(t, f.g, "demo", []string{zeroID + " " + c + " refs/heads/main"}, packOf(t, f.work, c, git(t, f.work, "rev-parse", "HEAD^{tree}"), git(t, f.work, "rev-parse", "HEAD:n.txt")))
	if !strings.Contains(resp, "ng refs/heads/main fetch first") {
		t.Fatalf("response:\n%q", resp)
	}
	f.unchanged(t, before)
}

// TestBranchPointingAtBlobRefused: refs/heads/ takes commits only.
func TestBranchPointingAtBlobRefused(t *testing.T) {
	f := newPushFixture(t)
	before := refsOf(t, f.bare)
	blob := git(t, f.work, "rev-parse", "HEAD:README.md")
	resp := rawPush(t, f.g, "demo", []string{zeroID + " " + blob + " refs/heads/blob"}, packOf(t, f.work))
	if !strings.Contains(resp, "ng refs/heads/blob a branch must point at a commit") {
		t.Fatalf("response:\n%q", resp)
	}
	f.unchanged(t, before)
}

// TestTagPointingAtSecretBlobRejected: a tag can point at a blob; the blob
// is scanned whole.
func TestTagPointingAtSecretBlobRejected(t *testing.T) {
	f := newPushFixture(t)
	before := refsOf(t, f.bare)
	tok := fakeToken(11)
	cmd := exec.Command("git", "hash-object", "-w", "--stdin")
	cmd.Dir = f.work
	cmd.Env = testGitEnv(f.work)
	cmd.Stdin = strings.NewReader("token " + tok + "\n")
	out, _ := cmd.Output()
	blob := strings.TrimSpace(string(out))
	git(t, f.work, "tag", "blobtag", blob)
	o := gitFails(t, f.work, "push", "origin", "blobtag")
	rejected(t, o, tok, "blob "+blob[:12]+" content line 1")
	f.unchanged(t, before)
}

// TestRefNameAttacksRefused: ref names git itself would refuse, and names
// outside refs/, never reach the gate or the upstream.
func TestRefNameAttacksRefused(t *testing.T) {
	f := newPushFixture(t)
	before := refsOf(t, f.bare)
	head := git(t, f.work, "rev-parse", "HEAD")
	for _, name := range []string{"HEAD", "refs/heads/../../config", "refs/heads/a..b", "refs/heads/x.lock", "config", "refs/heads/with space", "refs/heads/"} {
		var body bytes.Buffer
		body.WriteString(pkt(zeroID + " " + head + " " + name + "\x00report-status\n"))
		body.WriteString("0000")
		resp, err := http.Post(f.g.repoURL("demo")+"/git-receive-pack", "application/x-git-receive-pack-request", &body)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("ref %q: status %d, want 400", name, resp.StatusCode)
		}
	}
	f.unchanged(t, before)
}

func TestUpstreamHookRejectionLeavesGateUnchanged(t *testing.T) {
	f := newPushFixture(t)
	hook := "#!/bin/sh\nwhile read old new ref; do\n  case \"$ref\" in refs/heads/protected*) echo \"upstream policy: $ref is protected\" >&2; exit 1;; esac\ndone\n"
	writeExec(t, f.bare+"/hooks/pre-receive", hook)
	before := refsOf(t, f.bare)
	gateBefore := refsOf(t, f.g.gateDir("demo"))
	git(t, f.work, "checkout", "--quiet", "-b", "protected")
	c := commitFile(t, f.work, "p.txt", "p\n", "protected work")
	out := gitFails(t, f.work, "push", "origin", "protected")
	for _, want := range []string{"remote: upstream policy: refs/heads/protected is protected", "[remote rejected] protected -> protected (upstream: pre-receive hook declined)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	f.unchanged(t, before)
	if got := refsOf(t, f.g.gateDir("demo")); got != gateBefore {
		t.Fatalf("gate refs changed:\n%s", got)
	}
	if out, err := gitRun(f.g.gateDir("demo"), nil, "cat-file", "-e", c); err == nil {
		t.Fatalf("the refused commit stayed on the gate: %s", out)
	}
	// Other pushes still work.
	git(t, f.work, "checkout", "--quiet", "main")
	commitFile(t, f.work, "m.txt", "m\n", "main work")
	git(t, f.work, "push", "--quiet", "origin", "main")
	f.sameRefs(t)
}

func TestConcurrentPushes(t *testing.T) {
	f := newPushFixture(t)
	// Two clones push different branches at once: both land.
	works := []string{f.work, f.g.clone(t, "demo")}
	var wg sync.WaitGroup
	outs := make([]string, len(works))
	errs := make([]error, len(works))
	for i, w := range works {
		git(t, w, "checkout", "--quiet", "-b", fmt.Sprintf("b%d", i))
		commitFile(t, w, fmt.Sprintf("f%d.txt", i), "x\n", fmt.Sprintf("work %d", i))
	}
	for i, w := range works {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = gitRun(w, nil, "push", "origin", fmt.Sprintf("b%d", i))
		}()
	}
	wg.Wait()
	for i := range works {
		if errs[i] != nil {
			t.Fatalf("push %d: %v\n%s", i, errs[i], outs[i])
		}
	}
	f.sameRefs(t)

	// Two clones push the same branch at once: one wins, the other is told
	// to fetch first, and the gate and upstream agree.
	for i, w := range works {
		git(t, w, "fetch", "--quiet")
		git(t, w, "checkout", "--quiet", "-B", "main", "origin/main")
		commitFile(t, w, fmt.Sprintf("race%d.txt", i), "x\n", fmt.Sprintf("race %d", i))
	}
	for i, w := range works {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = gitRun(w, nil, "push", "origin", "main")
		}()
	}
	wg.Wait()
	ok := 0
	for i := range works {
		if errs[i] == nil {
			ok++
			if got, want := git(t, f.bare, "rev-parse", "main"), git(t, works[i], "rev-parse", "HEAD"); got != want {
				t.Fatalf("winner's main %s is not upstream's %s", want, got)
			}
		} else if !strings.Contains(outs[i], "fetch first") && !strings.Contains(outs[i], "rejected") {
			t.Fatalf("loser's push failed oddly:\n%s", outs[i])
		}
	}
	if ok != 1 {
		t.Fatalf("%d pushes to the same branch succeeded, want 1:\n%s\n%s", ok, outs[0], outs[1])
	}
	f.sameRefs(t)
}

func TestUndeclaredRepoIs404(t *testing.T) {
	f := newPushFixture(t)
	for _, path := range []string{
		"/other.git/info/refs?service=git-upload-pack",
		"/DEMO.git/info/refs?service=git-upload-pack",
		"/demo/info/refs?service=git-upload-pack",
		"/../demo.git/info/refs?service=git-upload-pack",
		"/demo.git/HEAD",
		"/demo.git/objects/info/packs",
		"/demo.git/info/refs",
		"/",
	} {
		resp, err := http.Get(f.g.url + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404 (%s)", path, resp.StatusCode, body)
		}
	}
	out := gitFails(t, t.TempDir(), "clone", f.g.repoURL("other"))
	if !strings.Contains(out, `remote: gitgate: no repository "other" here; this gate serves: demo`) {
		t.Fatalf("clone of an undeclared repo:\n%s", out)
	}
}

func TestPushOverCapRefusedCleanly(t *testing.T) {
	f := newPushFixture(t, withMaxPack(1<<20))
	before := refsOf(t, f.bare)
	writeRandom(t, f.work+"/big.bin", 8<<20)
	git(t, f.work, "add", "big.bin")
	git(t, f.work, "commit", "--quiet", "-m", "big")
	out := gitFails(t, f.work, "push", "origin", "main")
	for _, want := range []string{
		"remote: gitgate: push refused: the pack is larger than this gate accepts (1 MiB)",
		"! [remote rejected] main -> main (pack too large)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("push output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "RPC failed") {
		t.Errorf("the client saw a transport error, not a clean refusal:\n%s", out)
	}
	f.unchanged(t, before)
}

// Failing closed: a fetch whose refresh fails is refused with a message
// the client prints, within the 15 s the issue allows.
func TestRefreshFailuresFailClosed(t *testing.T) {
	u := newSSHUpstream(t)
	u.newRepo(t, "demo")
	other := newSSHUpstream(t) // a different host key
	refused := closedPort(t)
	silent := silentListener(t)
	cases := []struct {
		name, url, hostKey, want string
	}{
		{"wrong host key", u.url("demo"), other.hostKeyLine(), "its SSH host key does not match host_key"},
		{"connection refused", "ssh://git@" + refused + "/demo.git", u.hostKeyLine(), "connection refused"},
		{"silent upstream", "ssh://git@" + silent + "/demo.git", u.hostKeyLine(), "the SSH handshake did not finish within 10s"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := startGate(t, u, nil, func(_ *Config, gf *contract.GateFile) {
				gf.Repos = []contract.Repo{{Name: "demo", URL: tc.url, Identity: "upstream_key", HostKey: tc.hostKey}}
			})
			start := time.Now()
			out := gitFails(t, t.TempDir(), "clone", g.repoURL("demo"))
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("failing took %s", d)
			}
			if !strings.Contains(out, "remote: gitgate: cannot refresh demo from its upstream") || !strings.Contains(out, tc.want) {
				t.Fatalf("clone output:\n%s", out)
			}
		})
	}
}

func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// silentListener accepts connections and never says a word.
func silentListener(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

func TestUploadPackRequestOverCapRefused(t *testing.T) {
	f := newPushFixture(t, withMaxPack(64<<10))
	// A well-formed negotiation, so git upload-pack reads on until the
	// cap cuts it off instead of quitting at a protocol error first.
	head := git(t, f.work, "rev-parse", "HEAD")
	body := pkt("want "+head+"\n") + "0000" + strings.Repeat(pkt("have "+head+"\n"), 4000) // 200 KB
	resp, err := http.Post(f.g.repoURL("demo")+"/git-upload-pack", "application/x-git-upload-pack-request", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
}

// TestMaliciousTreeRefused: index-pack --strict refuses objects git's fsck
// flags, such as a tree entry named .git (the CVE-2018-11235 family).
func TestMaliciousTreeRefused(t *testing.T) {
	f := newPushFixture(t)
	before := refsOf(t, f.bare)
	blob := git(t, f.work, "rev-parse", "HEAD:README.md")
	cmd := exec.Command("git", "mktree")
	cmd.Dir = f.work
	cmd.Env = testGitEnv(f.work)
	cmd.Stdin = strings.NewReader("100644 blob " + blob + "\t.git\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	tree := strings.TrimSpace(string(out))
	commit := git(t, f.work, "commit-tree", "-m", "evil", "-p", "HEAD", tree)
	resp := rawPush(t, f.g, "demo", []string{zeroID + " " + commit + " refs/heads/evil"}, packOf(t, f.work, commit, tree))
	if !strings.Contains(resp, "unpack unpacker error") || !strings.Contains(resp, "ng refs/heads/evil unpacker error") {
		t.Fatalf("response:\n%q", resp)
	}
	f.unchanged(t, before)
}

func TestKnownHostsSecret(t *testing.T) {
	u := newSSHUpstream(t)
	seed(t, u.newRepo(t, "demo"), map[string]string{"README.md": "hi\n"})
	hostPort := strings.Replace(u.addr, "127.0.0.1:", "[127.0.0.1]:", 1)
	for _, tc := range []struct {
		name, line string
		ok         bool
	}{
		{"listed", hostPort + " " + u.hostKeyLine() + "\n", true},
		{"other host", "[192.0.2.1]:22 " + u.hostKeyLine() + "\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := startGate(t, u, nil, func(c *Config, gf *contract.GateFile) {
				if err := os.WriteFile(filepath.Join(c.SecretsDir, "upstream_hosts"), []byte(tc.line), 0o400); err != nil {
					t.Fatal(err)
				}
				gf.Repos = []contract.Repo{{Name: "demo", URL: u.url("demo"), Identity: "upstream_key", HostKey: "upstream_hosts"}}
			})
			out, err := gitRun(t.TempDir(), nil, "clone", g.repoURL("demo"))
			if tc.ok != (err == nil) {
				t.Fatalf("clone: %v\n%s", err, out)
			}
			if !tc.ok && !strings.Contains(out, "the known_hosts secret lists no key for") {
				t.Fatalf("clone output:\n%s", out)
			}
		})
	}
}

// TestStaleRefDoesNotBlockTheOthers: in a push of two refs where one is
// stale, the other goes ahead.
func TestStaleRefDoesNotBlockTheOthers(t *testing.T) {
	f := newPushFixture(t)
	first := git(t, f.work, "rev-list", "--max-parents=0", "HEAD")
	commitFile(t, f.work, "n.txt", "n\n", "new")
	c := git(t, f.work, "rev-parse", "HEAD")
	pack := packOf(t, f.work, c, git(t, f.work, "rev-parse", "HEAD^{tree}"), git(t, f.work, "rev-parse", "HEAD:n.txt"))
	resp := rawPush(t, f.g, "demo", []string{first + " " + c + " refs/heads/main", zeroID + " " + c + " refs/heads/fresh"}, pack)
	if !strings.Contains(resp, "ng refs/heads/main fetch first") || !strings.Contains(resp, "ok refs/heads/fresh") {
		t.Fatalf("response:\n%q", resp)
	}
	if got := git(t, f.bare, "rev-parse", "refs/heads/fresh"); got != c {
		t.Fatalf("upstream fresh = %s", got)
	}
	f.sameRefs(t)
}
