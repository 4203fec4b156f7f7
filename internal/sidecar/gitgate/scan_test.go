package gitgate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rejected asserts out is a push the gate refused for a secret, naming the
// commit, path, line and rule, and not the secret itself.
func rejected(t *testing.T, out, secret string, wants ...string) {
	t.Helper()
	if !strings.Contains(out, "remote: gitgate: push rejected") || !strings.Contains(out, "secret detected") {
		t.Fatalf("push was not rejected for a secret:\n%s", out)
	}
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, secret) || strings.Contains(out, secret[4:20]) {
		t.Fatalf("output shows the secret:\n%s", out)
	}
}

func (f *pushFixture) unchanged(t *testing.T, before string) {
	t.Helper()
	if after := refsOf(t, f.bare); after != before {
		t.Fatalf("upstream refs changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	f.sameRefs(t)
	if strings.Contains(f.g.logs.String(), "ghp_") || strings.Contains(f.g.audit.String(), "ghp_") {
		t.Fatalf("gate log or audit mentions the token:\n%s\n%s", f.g.logs.String(), f.g.audit.String())
	}
}

func TestSecretInFileRejected(t *testing.T) {
	f := newPushFixture(t)
	before := refsOf(t, f.bare)
	tok := fakeToken(1)
	git(t, f.work, "checkout", "--quiet", "-b", "leak")
	c := commitFile(t, f.work, "config/app.yaml", "name: demo\nregion: eu\ntoken: "+tok+"\n", "add config")
	out := gitFails(t, f.work, "push", "origin", "leak")
	rejected(t, out, tok, c[:12], "config/app.yaml line 3", "rule github-pat")
	f.unchanged(t, before)
	if !strings.Contains(f.g.audit.String(), `"decision":"deny"`) || !strings.Contains(f.g.audit.String(), "gitleaks:github-pat") {
		t.Fatalf("audit line:\n%s", f.g.audit.String())
	}
}

func TestSecretInCommitMessageRejected(t *testing.T) {
	f := newPushFixture(t)
	before := refsOf(t, f.bare)
	tok := fakeToken(2)
	commitFile(t, f.work, "x.txt", "harmless\n", "deploy\n\nused token "+tok+" for the deploy")
	out := gitFails(t, f.work, "push", "origin", "main")
	rejected(t, out, tok, "message line 3", "rule github-pat")
	f.unchanged(t, before)
}

func TestSecretInTagMessageRejected(t *testing.T) {
	f := newPushFixture(t)
	before := refsOf(t, f.bare)
	tok := fakeToken(3)
	git(t, f.work, "tag", "-a", "-m", "release\n\ntoken "+tok, "v9")
	out := gitFails(t, f.work, "push", "origin", "v9")
	rejected(t, out, tok, "tag "+git(t, f.work, "rev-parse", "v9")[:12]+" message line 3")
	f.unchanged(t, before)
}

func TestGitleaksAllowCommentDoesNotHideSecret(t *testing.T) {
	f := newPushFixture(t)
	before := refsOf(t, f.bare)
	tok := fakeToken(4)
	commitFile(t, f.work, "x.go", "package x\n\nconst t = \""+tok+"\" // gitleaks:allow\n", "allowed?")
	out := gitFails(t, f.work, "push", "origin", "main")
	rejected(t, out, tok, "x.go line 3")
	f.unchanged(t, before)
}

func TestSecretAddedAndRemovedInOnePushRejected(t *testing.T) {
	f := newPushFixture(t)
	before := refsOf(t, f.bare)
	tok := fakeToken(5)
	c := commitFile(t, f.work, "creds.env", "TOKEN="+tok+"\n", "add creds")
	commitFile(t, f.work, "creds.env", "TOKEN=\n", "remove creds")
	out := gitFails(t, f.work, "push", "origin", "main")
	rejected(t, out, tok, c[:12], "creds.env line 1")
	f.unchanged(t, before)
}

func TestForcePushIntroducingSecretRejected(t *testing.T) {
	f := newPushFixture(t)
	git(t, f.work, "checkout", "--quiet", "-b", "topic")
	commitFile(t, f.work, "a.txt", "a\n", "clean")
	git(t, f.work, "push", "--quiet", "origin", "topic")
	before := refsOf(t, f.bare)
	// Rewrite the branch from an older base: $old..$new would miss the
	// commits on the side, the gate must not.
	tok := fakeToken(6)
	git(t, f.work, "reset", "--quiet", "--hard", "HEAD~2")
	c := commitFile(t, f.work, "b.txt", "key "+tok+"\n", "side commit with a secret")
	commitFile(t, f.work, "b.txt", "key removed\n", "clean again")
	out := gitFails(t, f.work, "push", "--force", "origin", "topic")
	rejected(t, out, tok, c[:12], "b.txt line 1")
	f.unchanged(t, before)
}

// TestHistoricalSecretDoesNotBlockCleanBranch is PRD 0028: a secret that
// is already in the upstream's history must not block every new branch.
func TestHistoricalSecretDoesNotBlockCleanBranch(t *testing.T) {
	u := newSSHUpstream(t)
	bare := u.newRepo(t, "demo")
	tok := fakeToken(7)
	seed(t, bare, map[string]string{"old/fixture.txt": "token " + tok + "\n", "README.md": "hi\n"})
	g := startGate(t, u, []string{"demo"})
	work := g.clone(t, "demo")
	git(t, work, "checkout", "--quiet", "-b", "clean-branch")
	c := commitFile(t, work, "new.txt", "nothing secret here\n", "clean work")
	git(t, work, "push", "--quiet", "origin", "clean-branch")
	if got := git(t, bare, "rev-parse", "refs/heads/clean-branch"); got != c {
		t.Fatalf("upstream clean-branch = %s, want %s", got, c)
	}
	// A new branch at an old commit introduces nothing either.
	git(t, work, "push", "--quiet", "origin", "HEAD~2:refs/heads/at-old-commit")
	// Editing the file that holds the old secret scans only the new lines.
	git(t, work, "checkout", "--quiet", "main")
	commitFile(t, work, "old/fixture.txt", "token "+tok+"\nanother line\n", "touch the fixture")
	git(t, work, "push", "--quiet", "origin", "main")
}

func TestMergeCommitsScanned(t *testing.T) {
	f := newPushFixture(t)
	w := f.work
	git(t, w, "checkout", "--quiet", "-b", "side")
	commitFile(t, w, "side.txt", "side\n", "side work")
	git(t, w, "checkout", "--quiet", "main")
	commitFile(t, w, "main.txt", "main\n", "main work")
	git(t, w, "merge", "--quiet", "--no-edit", "side")
	git(t, w, "push", "--quiet", "origin", "main")

	// An evil merge: content in the merge that neither parent has.
	before := refsOf(t, f.bare)
	git(t, w, "checkout", "--quiet", "-b", "side2", "HEAD~1")
	commitFile(t, w, "side2.txt", "s2\n", "side two")
	git(t, w, "checkout", "--quiet", "main")
	git(t, w, "merge", "--quiet", "--no-commit", "side2")
	tok := fakeToken(8)
	if err := os.WriteFile(filepath.Join(w, "side2.txt"), []byte("s2\nkey "+tok+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, w, "add", "side2.txt")
	git(t, w, "commit", "--quiet", "--no-edit")
	out := gitFails(t, w, "push", "origin", "main")
	rejected(t, out, tok, "side2.txt line 2")
	f.unchanged(t, before)
}

func TestRenamedFileScansOnlyChangedLines(t *testing.T) {
	u := newSSHUpstream(t)
	bare := u.newRepo(t, "demo")
	tok := fakeToken(9)
	content := strings.Repeat("some ordinary line of text\n", 20) + "token " + tok + "\n"
	seed(t, bare, map[string]string{"docs/old-name.md": content})
	g := startGate(t, u, []string{"demo"})
	work := g.clone(t, "demo")
	git(t, work, "mv", "docs/old-name.md", "docs/new-name.md")
	commitFile(t, work, "docs/new-name.md", content+"one more line\n", "rename and extend")
	git(t, work, "push", "--quiet", "origin", "main")
}
