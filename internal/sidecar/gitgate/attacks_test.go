package gitgate

import (
	"os/exec"
	"strings"
	"testing"
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
