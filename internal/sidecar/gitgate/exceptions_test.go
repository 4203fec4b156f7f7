package gitgate

import (
	"regexp"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/google/go-cmp/cmp"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// fingerprintLine is how a refused push prints a finding's fingerprint.
var fingerprintLine = regexp.MustCompile(`(?m)^remote: gitgate:     fingerprint (.*?)\s*$`)

// printedFingerprints returns the fingerprints a push's output lists.
func printedFingerprints(out string) []string {
	var fps []string
	for _, m := range fingerprintLine.FindAllStringSubmatch(out, -1) {
		fps = append(fps, m[1])
	}
	return fps
}

// TestDLPExceptionLetsOnlyThatFindingThrough is the gate's half of a
// dlp-block for a repository: the refused push prints the finding's
// fingerprint; an exception naming anything but exactly that finding in
// that repository changes nothing; the exact one, written to the gate file
// while the gate runs, lets the same push through; and every other secret
// in the repository is still refused.
func TestDLPExceptionLetsOnlyThatFindingThrough(t *testing.T) {
	u := newSSHUpstream(t)
	bare := u.newRepo(t, "demo")
	seed(t, bare, map[string]string{"README.md": "hello\n"})
	seed(t, u.newRepo(t, "other"), map[string]string{"README.md": "other\n"})
	g := startGate(t, u, []string{"demo", "other"})
	f := &pushFixture{u: u, bare: bare, g: g, work: g.clone(t, "demo")}
	w := f.work

	tok := fakeToken(40)
	const config = "name: demo\nregion: eu\ntoken: "
	git(t, w, "checkout", "--quiet", "-b", "feature")
	parent := git(t, w, "rev-parse", "HEAD")
	c := commitFile(t, w, "config/app.yaml", config+tok+"\n", "add config")
	want := contract.Fingerprint{Commit: c, Path: "config/app.yaml", Rule: "github-pat", Line: 3}
	before := refsOf(t, bare)

	out := gitFails(t, w, "push", "origin", "feature")
	rejected(t, out, tok, "dlp-block", `repo "demo"`)
	if diff := cmp.Diff([]string{want.String()}, printedFingerprints(out)); diff != "" {
		t.Fatalf("printed fingerprints (-want +got):\n%s\n%s", diff, out)
	}
	f.unchanged(t, before)

	near := func(change func(*contract.Fingerprint)) contract.Fingerprint {
		fp := want
		change(&fp)
		return fp
	}
	for _, tc := range []struct {
		name string
		repo string
		fp   contract.Fingerprint
	}{
		{"another line", "demo", near(func(fp *contract.Fingerprint) { fp.Line = 2 })},
		{"another rule", "demo", near(func(fp *contract.Fingerprint) { fp.Rule = "generic-api-key" })},
		{"another path", "demo", near(func(fp *contract.Fingerprint) { fp.Path = "config/app.yml" })},
		{"the parent commit", "demo", near(func(fp *contract.Fingerprint) { fp.Commit = parent })},
		{"the same finding in another repo", "other", want},
	} {
		t.Run("not excepted by "+tc.name, func(t *testing.T) {
			g.setExceptions(t, map[string][]contract.Fingerprint{tc.repo: {tc.fp}})
			out := gitFails(t, w, "push", "origin", "feature")
			rejected(t, out, tok, want.String())
			f.unchanged(t, before)
		})
	}

	// The exact exception, approved while the gate runs.
	g.setExceptions(t, map[string][]contract.Fingerprint{"demo": {want}})
	out = git(t, w, "push", "origin", "feature")
	if !strings.Contains(out, "1 finding let through by the operator's DLP exceptions") {
		t.Errorf("push output does not say a finding was let through:\n%s", out)
	}
	if got := git(t, bare, "rev-parse", "refs/heads/feature"); got != c {
		t.Fatalf("upstream feature = %s, want %s", got, c)
	}
	f.sameRefs(t)
	if audit := g.audit.String(); !strings.Contains(audit, `"decision":"allow"`) || !strings.Contains(audit, "1 finding let through by DLP exceptions") {
		t.Errorf("audit does not record the exception:\n%s", audit)
	}

	// Every other secret is still refused, the exception standing.
	tok2 := fakeToken(41)
	type edit struct{ path, content string }
	for _, tc := range []struct {
		name  string
		edits []edit               // one commit each
		want  contract.Fingerprint // Commit is filled in: the last commit
	}{
		{"another secret on the same line", []edit{{"config/app.yaml", config + tok2 + "\n"}},
			contract.Fingerprint{Path: "config/app.yaml", Rule: "github-pat", Line: 3}},
		{"another line of the same file", []edit{{"config/app.yaml", config + tok + "\nbackup: " + tok2 + "\n"}},
			contract.Fingerprint{Path: "config/app.yaml", Rule: "github-pat", Line: 4}},
		{"the same secret in another file", []edit{{"config/copy.yaml", "token: " + tok + "\n"}},
			contract.Fingerprint{Path: "config/copy.yaml", Rule: "github-pat", Line: 1}},
		{"the same secret re-added by a new commit", []edit{{"config/app.yaml", config + "\n"}, {"config/app.yaml", config + tok + "\n"}},
			contract.Fingerprint{Path: "config/app.yaml", Rule: "github-pat", Line: 3}},
	} {
		t.Run("still refused: "+tc.name, func(t *testing.T) {
			git(t, w, "reset", "--quiet", "--hard", c)
			var last string
			for i, e := range tc.edits {
				last = commitFile(t, w, e.path, e.content, "edit "+string(rune('a'+i)))
			}
			before := refsOf(t, bare)
			out := gitFails(t, w, "push", "origin", "feature")
			secret := tok2
			if !strings.Contains(tc.edits[len(tc.edits)-1].content, tok2) {
				secret = tok
			}
			fp := tc.want
			fp.Commit = last
			rejected(t, out, secret, fp.String())
			f.unchanged(t, before)
		})
	}
}

// TestBrokenGateFileKeepsTheExceptionsReadBefore: a gate file that no
// longer validates neither drops the exceptions the gate holds nor stops
// pushes; the gate logs why.
func TestBrokenGateFileKeepsTheExceptionsReadBefore(t *testing.T) {
	u := newSSHUpstream(t)
	bare := u.newRepo(t, "demo")
	seed(t, bare, map[string]string{"README.md": "hello\n"})
	work := t.TempDir()
	git(t, work, "clone", "--quiet", bare, ".")
	tok := fakeToken(42)
	c := commitFile(t, work, "fixture.txt", "token "+tok+"\n", "test fixture")
	fp := contract.Fingerprint{Commit: c, Path: "fixture.txt", Rule: "github-pat", Line: 1}
	g := startGate(t, u, []string{"demo"}, withExceptions("demo", fp))

	g.writeGateBytes(t, []byte("version: 1\nrepos: [\n"))
	git(t, work, "push", "--quiet", g.repoURL("demo"), "HEAD:refs/heads/fixture")
	if got := git(t, bare, "rev-parse", "refs/heads/fixture"); got != c {
		t.Fatalf("upstream fixture = %s, want %s", got, c)
	}
	if !strings.Contains(g.logs.String(), "keeping the ones read before") {
		t.Errorf("the gate did not log the broken gate file:\n%s", g.logs.String())
	}
}

func TestFindingFingerprint(t *testing.T) {
	commit := plumbing.NewHash("4f1c9a0e7b2d3c5a6e8f90a1b2c3d4e5f6a7b8c9")
	for _, tc := range []struct {
		name string
		f    finding
		want string // "" for none
	}{
		{"a line of a file", finding{Commit: commit, Where: "config/app.yaml", File: true, Line: 3, Rule: "github-pat"},
			"4f1c9a0e7b2d3c5a6e8f90a1b2c3d4e5f6a7b8c9:config/app.yaml:github-pat:3"},
		{"a file called message", finding{Commit: commit, Where: "message", File: true, Line: 1, Rule: "github-pat"},
			"4f1c9a0e7b2d3c5a6e8f90a1b2c3d4e5f6a7b8c9:message:github-pat:1"},
		{"a path with colons and spaces", finding{Commit: commit, Where: "a b/c:d.txt", File: true, Line: 9, Rule: "generic-api-key"},
			"4f1c9a0e7b2d3c5a6e8f90a1b2c3d4e5f6a7b8c9:a b/c:d.txt:generic-api-key:9"},
		{"the commit message", finding{Commit: commit, Where: whereMessage, Line: 3, Rule: "github-pat"}, ""},
		{"the headers", finding{Commit: commit, Where: whereHeaders, Line: 1, Rule: "github-pat"}, ""},
		{"the file names", finding{Commit: commit, Where: whereFileNames, Line: 1, Rule: "github-pat"}, ""},
		{"a tag message", finding{Object: "tag v1", Where: whereMessage, Line: 3, Rule: "github-pat"}, ""},
		{"a blob under a pushed tree", finding{Object: "tree 4f1c9a0e7b2d", Where: "x.txt", Line: 1, Rule: "github-pat"}, ""},
		{"a path with a line break", finding{Commit: commit, Where: "a\nb.txt", File: true, Line: 1, Rule: "github-pat"}, ""},
		{"a path with a terminal escape", finding{Commit: commit, Where: "a\x1b[2Jb.txt", File: true, Line: 1, Rule: "github-pat"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fp, ok := tc.f.fingerprint()
			got := ""
			if ok {
				got = fp.String()
			}
			if got != tc.want {
				t.Fatalf("fingerprint = %q, %v; want %q", got, ok, tc.want)
			}
		})
	}
}

// TestEveryRuleIDFitsAFingerprint: every rule of the gate's ruleset can be
// named in a fingerprint, so no finding in a file is left without one.
func TestEveryRuleIDFitsAFingerprint(t *testing.T) {
	det, err := detector()
	if err != nil {
		t.Fatal(err)
	}
	if len(det.Config.Rules) < 100 {
		t.Fatalf("only %d rules loaded", len(det.Config.Rules))
	}
	for id := range det.Config.Rules {
		if err := contract.ValidRuleID(id); err != nil {
			t.Errorf("rule %q: %v", id, err)
		}
	}
}
