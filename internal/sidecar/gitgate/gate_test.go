package gitgate

import (
	"strings"
	"sync"
	"testing"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

func TestCloneFetchPullLsRemote(t *testing.T) {
	u := newSSHUpstream(t)
	bare := u.newRepo(t, "demo")
	seed(t, bare, map[string]string{"README.md": "hello\n"})
	g := startGate(t, u, []string{"demo"})

	work := g.clone(t, "demo")
	if got := git(t, work, "log", "--format=%s"); got != "add README.md" {
		t.Fatalf("cloned log = %q", got)
	}
	if got, want := git(t, work, "ls-remote", "origin", "refs/heads/main"), git(t, bare, "rev-parse", "main"); !strings.HasPrefix(got, want) {
		t.Fatalf("ls-remote = %q, want %s", got, want)
	}
	// A commit lands on the upstream behind the gate's back; fetch and pull see it.
	seed2 := t.TempDir()
	git(t, seed2, "clone", "--quiet", bare, ".")
	commitFile(t, seed2, "b.txt", "b\n", "upstream commit")
	git(t, seed2, "push", "--quiet", "origin", "main")
	git(t, work, "pull", "--quiet", "--ff-only")
	if got := git(t, work, "log", "-1", "--format=%s"); got != "upstream commit" {
		t.Fatalf("after pull, HEAD is %q", got)
	}
}

// pushFixture is an upstream repository with a few commits, served by a
// gate, and a clone through the gate.
type pushFixture struct {
	u    *sshUpstream
	bare string
	g    *testGate
	work string
}

func newPushFixture(t *testing.T, opts ...gateOption) *pushFixture {
	t.Helper()
	u := newSSHUpstream(t)
	f := &pushFixture{u: u, bare: u.newRepo(t, "demo")}
	seed(t, f.bare, map[string]string{"README.md": "hello\n", "src/main.go": "package main\n"})
	f.g = startGate(t, u, []string{"demo"}, opts...)
	f.work = f.g.clone(t, "demo")
	return f
}

// sameRefs fails unless the gate and the upstream hold the same refs.
func (f *pushFixture) sameRefs(t *testing.T) {
	t.Helper()
	if gate, up := refsOf(t, f.g.gateDir("demo")), refsOf(t, f.bare); gate != up {
		t.Fatalf("gate and upstream refs differ:\ngate:\n%s\nupstream:\n%s", gate, up)
	}
}

func TestPushBranchesAndTags(t *testing.T) {
	f := newPushFixture(t, withRepo("demo", func(r *contract.Repo) { r.AllowBranchDelete = true }))
	w := f.work

	// A new branch.
	git(t, w, "checkout", "--quiet", "-b", "feature")
	c1 := commitFile(t, w, "feature.txt", "one\n", "feature one")
	git(t, w, "push", "--quiet", "origin", "feature")
	if got := git(t, f.bare, "rev-parse", "refs/heads/feature"); got != c1 {
		t.Fatalf("upstream feature = %s, want %s", got, c1)
	}
	f.sameRefs(t)

	// A fast-forward.
	c2 := commitFile(t, w, "feature.txt", "one\ntwo\n", "feature two")
	git(t, w, "push", "--quiet", "origin", "feature")
	if got := git(t, f.bare, "rev-parse", "refs/heads/feature"); got != c2 {
		t.Fatalf("upstream feature = %s, want %s", got, c2)
	}

	// A force push rewriting the branch.
	git(t, w, "reset", "--quiet", "--hard", "HEAD~1")
	c3 := commitFile(t, w, "other.txt", "rewritten\n", "rewrite")
	git(t, w, "push", "--quiet", "--force", "origin", "feature")
	if got := git(t, f.bare, "rev-parse", "refs/heads/feature"); got != c3 {
		t.Fatalf("after force push upstream feature = %s, want %s", got, c3)
	}
	f.sameRefs(t)

	// A lightweight and an annotated tag.
	git(t, w, "tag", "light")
	git(t, w, "tag", "-a", "-m", "release one", "v1")
	git(t, w, "push", "--quiet", "origin", "light", "v1")
	if got := git(t, f.bare, "cat-file", "-t", "refs/tags/v1"); got != "tag" {
		t.Fatalf("upstream v1 is a %s, want an annotated tag", got)
	}
	if got := git(t, f.bare, "rev-parse", "refs/tags/light"); got != c3 {
		t.Fatalf("upstream light = %s, want %s", got, c3)
	}
	f.sameRefs(t)

	// Deletions: a branch and a tag.
	git(t, w, "push", "--quiet", "origin", "--delete", "feature", "light")
	if out, err := gitRun(f.bare, nil, "rev-parse", "--verify", "--quiet", "refs/heads/feature"); err == nil {
		t.Fatalf("feature still on the upstream: %s", out)
	}
	f.sameRefs(t)

	// Another clone sees everything the pushes made.
	other := f.g.clone(t, "demo")
	if got := git(t, other, "tag", "-l"); got != "v1" {
		t.Fatalf("tags in a new clone = %q", got)
	}
}

func TestNonFastForwardWithoutForceRefused(t *testing.T) {
	f := newPushFixture(t)
	before := refsOf(t, f.bare)
	git(t, f.work, "reset", "--quiet", "--hard", "HEAD~1")
	commitFile(t, f.work, "diverge.txt", "x\n", "diverge")
	out := gitFails(t, f.work, "push", "origin", "main")
	if !strings.Contains(out, "non-fast-forward") && !strings.Contains(out, "fetch first") {
		t.Fatalf("push output does not say why:\n%s", out)
	}
	if after := refsOf(t, f.bare); after != before {
		t.Fatalf("upstream changed:\n%s", after)
	}
	f.sameRefs(t)
}

func TestProtocolVersionsAndShallowClone(t *testing.T) {
	f := newPushFixture(t)
	for _, v := range []string{"0", "1", "2"} {
		t.Run("v"+v, func(t *testing.T) {
			dir := f.g.clone(t, "demo", "-c", "protocol.version="+v)
			git(t, dir, "-c", "protocol.version="+v, "fetch", "--quiet")
			if got := git(t, dir, "-c", "protocol.version="+v, "ls-remote", "--heads", "origin"); !strings.Contains(got, "refs/heads/main") {
				t.Fatalf("ls-remote: %s", got)
			}
		})
	}
	t.Run("depth 1 then push", func(t *testing.T) {
		dir := f.g.clone(t, "demo", "--depth", "1")
		if n := git(t, dir, "rev-list", "--count", "HEAD"); n != "1" {
			t.Fatalf("shallow clone has %s commits", n)
		}
		git(t, dir, "checkout", "--quiet", "-b", "from-shallow")
		c := commitFile(t, dir, "s.txt", "shallow\n", "from a shallow clone")
		git(t, dir, "push", "--quiet", "origin", "from-shallow")
		if got := git(t, f.bare, "rev-parse", "refs/heads/from-shallow"); got != c {
			t.Fatalf("upstream from-shallow = %s, want %s", got, c)
		}
	})
	t.Run("partial clone", func(t *testing.T) {
		dir := f.g.clone(t, "demo", "--filter=blob:none")
		if got := git(t, dir, "show", "HEAD:README.md"); got != "hello" {
			t.Fatalf("README = %q", got)
		}
	})
}

func TestPushToEmptyUpstream(t *testing.T) {
	u := newSSHUpstream(t)
	bare := u.newRepo(t, "empty")
	g := startGate(t, u, []string{"empty"})
	dir := t.TempDir()
	out := git(t, dir, "clone", g.repoURL("empty"), "empty")
	if !strings.Contains(out, "empty repository") {
		t.Logf("clone said: %s", out)
	}
	work := dir + "/empty"
	c := commitFile(t, work, "first.txt", "first\n", "first commit")
	git(t, work, "push", "--quiet", "origin", "HEAD:main")
	if got := git(t, bare, "rev-parse", "main"); got != c {
		t.Fatalf("upstream main = %s, want %s", got, c)
	}
}

func TestMirrorFollowsUpstream(t *testing.T) {
	u := newSSHUpstream(t)
	bare := u.newRepo(t, "demo")
	seed(t, bare, map[string]string{"README.md": "hello\n"})
	git(t, bare, "branch", "old", "main")
	g := startGate(t, u, []string{"demo"})
	work := g.clone(t, "demo")
	if !strings.Contains(git(t, work, "branch", "-r"), "origin/old") {
		t.Fatal("clone lacks branch old")
	}
	// The upstream drops old, adds dev and makes it HEAD.
	git(t, bare, "branch", "-D", "old")
	git(t, bare, "branch", "dev", "main")
	git(t, bare, "symbolic-ref", "HEAD", "refs/heads/dev")
	git(t, work, "fetch", "--quiet", "--prune")
	if got := git(t, work, "branch", "-r"); strings.Contains(got, "origin/old") || !strings.Contains(got, "origin/dev") {
		t.Fatalf("after fetch --prune: %s", got)
	}
	if got := git(t, g.clone(t, "demo"), "rev-parse", "--abbrev-ref", "HEAD"); got != "dev" {
		t.Fatalf("a new clone checks out %s, want dev", got)
	}
	if gate, up := refsOf(t, g.gateDir("demo")), refsOf(t, bare); gate != up {
		t.Fatalf("gate refs:\n%s\nupstream refs:\n%s", gate, up)
	}
}

func TestConcurrentFetches(t *testing.T) {
	f := newPushFixture(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	outs := make([]string, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dir := t.TempDir()
			outs[i], errs[i] = gitRun(dir, nil, "clone", "--quiet", f.g.repoURL("demo"), "c")
		}()
	}
	// A push runs alongside.
	commitFile(t, f.work, "during.txt", "x\n", "pushed during clones")
	git(t, f.work, "push", "--quiet", "origin", "main")
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("clone %d: %v\n%s", i, err, outs[i])
		}
	}
	f.sameRefs(t)
}

func TestAtomicPush(t *testing.T) {
	f := newPushFixture(t)
	w := f.work
	git(t, w, "branch", "a")
	git(t, w, "branch", "b")
	git(t, w, "push", "--quiet", "--atomic", "origin", "a", "b")
	if got := refsOf(t, f.bare); !strings.Contains(got, "refs/heads/a") || !strings.Contains(got, "refs/heads/b") {
		t.Fatalf("upstream refs:\n%s", got)
	}
	// One ref with a secret refuses both.
	before := refsOf(t, f.bare)
	git(t, w, "checkout", "--quiet", "a")
	commitFile(t, w, "a.txt", "fine\n", "fine")
	git(t, w, "checkout", "--quiet", "b")
	commitFile(t, w, "b.txt", "key "+fakeToken(30)+"\n", "not fine")
	gitFails(t, w, "push", "--atomic", "origin", "a", "b")
	f.unchanged(t, before)
}
