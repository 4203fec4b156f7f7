package gitgate

import (
	"strings"
	"testing"
)

// rawCommit writes a commit object built by hand (headers and message
// verbatim) into the repository at dir and returns its id.
func rawCommit(t *testing.T, dir, headers, msg string) string {
	t.Helper()
	tree := git(t, dir, "rev-parse", "HEAD^{tree}")
	head := git(t, dir, "rev-parse", "HEAD")
	obj := "tree " + tree + "\nparent " + head + "\n" +
		"author Agent <agent@bottle.test> 1700000000 +0000\n" +
		"committer Agent <agent@bottle.test> 1700000000 +0000\n" +
		headers + "\n" + msg
	return gitStdin(t, dir, obj, "hash-object", "-t", "commit", "-w", "--stdin")
}

// TestSecretInCommitHeaderRefused (#2): gpgsig, mergetag, encoding and
// unknown headers reach the upstream verbatim; they are scanned.
func TestSecretInCommitHeaderRefused(t *testing.T) {
	f := newPushFixture(t)
	for i, tc := range []struct{ name, header string }{
		{"gpgsig", "gpgsig -----BEGIN PGP SIGNATURE-----\n \n %s\n -----END PGP SIGNATURE-----\n"},
		{"unknown header", "x-deploy-token %s\n"},
		{"encoding", "encoding %s\n"},
		{"mergetag", "mergetag object 0000000000000000000000000000000000000000\n type commit\n tag v1\n tagger A <a@b> 1700000000 +0000\n \n %s\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := fakeToken(uint64(200 + i))
			c := rawCommit(t, f.work, strings.ReplaceAll(tc.header, "%s", tok), "an ordinary message\n")
			git(t, f.work, "update-ref", "refs/heads/hdr", c)
			f.refusedPush(t, tok, "hdr")
		})
	}
}

// TestSecretInTagSignatureOrNameRefused (#3): go-git splits a tag message
// at a signature line; what follows, and the tag's own name, are
// scanned too.
func TestSecretInTagSignatureOrNameRefused(t *testing.T) {
	f := newPushFixture(t)
	head := git(t, f.work, "rev-parse", "HEAD")
	t.Run("after a PGP signature line", func(t *testing.T) {
		tok := fakeToken(300)
		git(t, f.work, "tag", "-a", "v1", "-m", "notes\n-----BEGIN PGP SIGNATURE-----\n"+tok)
		f.refusedPush(t, tok, "v1")
	})
	t.Run("after an SSH signature line", func(t *testing.T) {
		tok := fakeToken(301)
		git(t, f.work, "tag", "-a", "v2", "-m", "notes\n-----BEGIN SSH SIGNATURE-----\n"+tok)
		f.refusedPush(t, tok, "v2")
	})
	t.Run("in the tag object's name", func(t *testing.T) {
		tok := fakeToken(302)
		tag := gitStdin(t, f.work, "object "+head+"\ntype commit\ntag "+tok+"\ntagger Agent <agent@bottle.test> 1700000000 +0000\n\nrelease\n", "mktag")
		git(t, f.work, "update-ref", "refs/tags/v3", tag)
		f.refusedPush(t, tok, "v3")
	})
}

func TestSplitObject(t *testing.T) {
	id := strings.Repeat("a", 40)
	for _, tc := range []struct{ name, raw, headers, message string }{
		{"commit", "tree " + id + "\nparent " + id + "\nauthor A\n\nmsg\n", "\n\nauthor A\n", "msg\n"},
		{"folded header", "tree " + id + "\ngpgsig -----BEGIN\n abc\n -----END\n\nm", "\ngpgsig -----BEGIN\nabc\n-----END\n", "m"},
		{"parent that is no id", "parent secret\n\n", "parent secret\n", ""},
		{"no message", "tree " + id, "\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, m := splitObject(tc.raw, "tree", "parent")
			if h != tc.headers || m != tc.message {
				t.Fatalf("splitObject = %q, %q; want %q, %q", h, m, tc.headers, tc.message)
			}
		})
	}
}

func FuzzSplitObject(f *testing.F) {
	f.Add("tree " + strings.Repeat("a", 40) + "\ngpgsig x\n y\n\nmessage\n")
	f.Fuzz(func(t *testing.T, raw string) {
		h, m := splitObject(raw, "tree", "parent")
		if strings.Count(h, "\n") != strings.Count(raw, "\n")-strings.Count(m, "\n")-1 && strings.Contains(raw, "\n\n") {
			t.Fatalf("line count changed: %q -> %q + %q", raw, h, m)
		}
		if !strings.HasSuffix(raw, m) {
			t.Fatalf("message %q is not the end of %q", m, raw)
		}
	})
}
