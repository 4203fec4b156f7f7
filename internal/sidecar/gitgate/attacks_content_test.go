package gitgate

import (
	"encoding/base64"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf16"
)

// commitBytes writes content to path in the work tree dir and commits it.
func commitBytes(t *testing.T, dir, path string, content []byte, msg string) string {
	t.Helper()
	full := filepath.Join(dir, path)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(full, content, 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "--quiet", "-m", msg)
	return git(t, dir, "rev-parse", "HEAD")
}

func utf16Bytes(s string, bigEndian bool) []byte {
	var out []byte
	for _, u := range utf16.Encode([]rune(s)) {
		if bigEndian {
			out = append(out, byte(u>>8), byte(u))
		} else {
			out = append(out, byte(u), byte(u>>8))
		}
	}
	return out
}

// TestSecretInBinaryBlobRefused (#4): a NUL byte or a UTF-16 encoding
// made a blob "binary", and binary blobs were not scanned; nor did
// gitleaks' keystore path rules ever see them.
func TestSecretInBinaryBlobRefused(t *testing.T) {
	f := newPushFixture(t)
	main := git(t, f.work, "rev-parse", "HEAD")
	random := make([]byte, 2048)
	r := mrand.NewChaCha8([32]byte{4})
	_, _ = r.Read(random)
	for i, tc := range []struct {
		name, path string
		content    func(tok string) []byte
	}{
		{"NUL first", "notes.txt", func(tok string) []byte { return []byte("\x00token = \"" + tok + "\"\n") }},
		{"UTF-16LE", "notes16.txt", func(tok string) []byte {
			return append([]byte{0xff, 0xfe}, utf16Bytes("token = \""+tok+"\"\n", false)...)
		}},
		{"UTF-16BE", "notes16be.txt", func(tok string) []byte {
			return append([]byte{0xfe, 0xff}, utf16Bytes("token = \""+tok+"\"\n", true)...)
		}},
		{"inside random bytes", "blob.bin", func(tok string) []byte {
			return append(append(append([]byte{}, random...), "token = \""+tok+"\"\n"...), random...)
		}},
		{"a PKCS#12 keystore", "deploy/keystore.p12", func(string) []byte { return random }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := fakeToken(uint64(400 + i))
			git(t, f.work, "checkout", "--quiet", "-B", "bin", main)
			commitBytes(t, f.work, tc.path, tc.content(tok), "add "+tc.path)
			f.refusedPush(t, tok, "bin")
		})
	}
}

func TestPrintable(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"ascii runs", []byte("ab\x00abcdefgh\x01efghijkl"), "abcdefgh\nefghijkl\n"},
		{"utf16le", utf16Bytes("hello world", false), "hello world\n"},
		{"utf16be", utf16Bytes("hello world", true), "hello world\n"},
		{"short runs dropped", []byte("a\x00b\x00c\x00"), ""},
		{"empty", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := printable(strings.NewReader(string(tc.in)))
			if err != nil {
				t.Fatal(err)
			}
			// Runs of one kind may repeat those of the other; the wanted
			// lines must all be there.
			for line := range strings.SplitSeq(strings.TrimSuffix(tc.want, "\n"), "\n") {
				if line != "" && !strings.Contains(got, line+"\n") {
					t.Errorf("printable(%q) = %q, lacks %q", tc.in, got, line)
				}
			}
			if tc.want == "" && got != "" {
				t.Errorf("printable(%q) = %q, want nothing", tc.in, got)
			}
		})
	}
}

func FuzzPrintable(f *testing.F) {
	f.Add([]byte("ab\x00abcd\x01efghij"))
	f.Add(utf16Bytes("hello world", false))
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := printable(strings.NewReader(string(in)))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > 2*len(in)+2 {
			t.Fatalf("printable grew %d bytes to %d", len(in), len(got))
		}
		for i := 0; i < len(got); i++ {
			if c := got[i]; c != '\n' && c != '\t' && (c < 0x20 || c >= 0x7f) {
				t.Fatalf("printable returned byte %#x", c)
			}
		}
	})
}

// remoteLines returns the lines the gate printed to the client.
func remoteLines(out string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(line, "remote:") {
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// TestSecretInNamesRefused (#5): ref names, gitlink names and the names
// of directories holding no file are agent-chosen text that reaches
// every clone.
func TestSecretInNamesRefused(t *testing.T) {
	f := newPushFixture(t)
	main := git(t, f.work, "rev-parse", "HEAD")
	check := func(t *testing.T, tok, out string) {
		t.Helper()
		if !strings.Contains(out, "remote: gitgate: push rejected") {
			t.Fatalf("push was not rejected for a secret:\n%s", out)
		}
		if strings.Contains(remoteLines(out), tok) {
			t.Fatalf("the gate printed the secret:\n%s", out)
		}
		if strings.Contains(refsOf(t, f.bare), tok) {
			t.Fatalf("the name reached the upstream:\n%s", refsOf(t, f.bare))
		}
		if strings.Contains(f.g.logs.String(), tok) || strings.Contains(f.g.audit.String(), tok) {
			t.Fatalf("gate log or audit holds the secret")
		}
	}
	t.Run("branch name", func(t *testing.T) {
		tok := fakeToken(500)
		check(t, tok, gitFails(t, f.work, "push", "origin", "HEAD:refs/heads/"+tok))
	})
	t.Run("gitlink name", func(t *testing.T) {
		tok := fakeToken(501)
		git(t, f.work, "checkout", "--quiet", "-B", "names", main)
		git(t, f.work, "update-index", "--add", "--cacheinfo", "160000,"+main+","+tok)
		git(t, f.work, "commit", "--quiet", "-m", "a submodule")
		check(t, tok, gitFails(t, f.work, "push", "origin", "names"))
		if out, err := gitRun(f.bare, nil, "rev-parse", "--verify", "--quiet", "refs/heads/names"); err == nil {
			t.Fatalf("names reached the upstream: %s", out)
		}
	})
	t.Run("empty directory name", func(t *testing.T) {
		tok := fakeToken(502)
		empty := gitStdin(t, f.work, "", "hash-object", "-t", "tree", "-w", "--stdin")
		readme := git(t, f.work, "rev-parse", main+":README.md")
		tree := gitStdin(t, f.work, "100644 blob "+readme+"\tREADME.md\n040000 tree "+empty+"\t"+tok+"\n", "mktree")
		c := git(t, f.work, "commit-tree", "-p", main, "-m", "an empty directory", tree)
		git(t, f.work, "update-ref", "refs/heads/names", c)
		check(t, tok, gitFails(t, f.work, "push", "origin", "names"))
	})
}

// testKey returns a PEM private key block gitleaks' private-key rule
// flags, made at run time from seed.
func testKey(seed uint64) (begin, body, end string) {
	r := mrand.NewChaCha8([32]byte{byte(seed)})
	raw := make([]byte, 600)
	_, _ = r.Read(raw)
	enc := base64.StdEncoding.EncodeToString(raw)
	var b strings.Builder
	for len(enc) > 64 {
		b.WriteString(enc[:64] + "\n")
		enc = enc[64:]
	}
	b.WriteString(enc + "\n")
	return "-----BEGIN RSA " + "PRIVATE KEY-----\n", b.String(), "-----END RSA " + "PRIVATE KEY-----\n"
}

// TestSecretSplitAcrossCommitsRefused (#6): a private key whose BEGIN
// line comes in one commit and the rest in the next is whole on the
// upstream after one push.
func TestSecretSplitAcrossCommitsRefused(t *testing.T) {
	f := newPushFixture(t)
	main := git(t, f.work, "rev-parse", "HEAD")
	begin, body, end := testKey(6)
	secret := strings.Split(body, "\n")[1]
	t.Run("one commit (control)", func(t *testing.T) {
		git(t, f.work, "checkout", "--quiet", "-B", "key", main)
		commitFile(t, f.work, "deploy/id_rsa", begin+body+end, "key")
		f.refusedPush(t, secret, "key")
	})
	t.Run("BEGIN line first, the rest next", func(t *testing.T) {
		git(t, f.work, "checkout", "--quiet", "-B", "key", main)
		commitFile(t, f.work, "deploy/id_rsa", begin, "begin")
		commitFile(t, f.work, "deploy/id_rsa", begin+body+end, "the rest")
		out := f.refusedPush(t, secret, "key")
		if !strings.Contains(out, "(as of the pushed tip)") {
			t.Fatalf("finding not named as the push's net result:\n%s", out)
		}
	})
	t.Run("frame first, body next", func(t *testing.T) {
		git(t, f.work, "checkout", "--quiet", "-B", "key", main)
		commitFile(t, f.work, "deploy/id_rsa", begin+end, "frame")
		commitFile(t, f.work, "deploy/id_rsa", begin+body+end, "body")
		f.refusedPush(t, secret, "key")
	})
}

// TestRefToTreeAccepted (#15): a ref pointing straight at a tree was
// always refused as smuggling; a clean one goes through, and one with a
// secret, in a file or a name, is refused.
func TestRefToTreeAccepted(t *testing.T) {
	f := newPushFixture(t)
	mk := func(entries string) (string, []string) {
		tree := gitStdin(t, f.work, entries, "mktree")
		return tree, []string{tree}
	}
	blob := gitStdin(t, f.work, "plain text\n", "hash-object", "-w", "--stdin")
	tree, ids := mk("100644 blob " + blob + "\tplain.txt\n")
	resp := rawPush(t, f.g, "demo", []string{zeroID + " " + tree + " refs/tags/tree"}, packOf(t, f.work, append(ids, blob)...))
	if !strings.Contains(resp, "ok refs/tags/tree") {
		t.Fatalf("clean tree refused:\n%q", resp)
	}
	if got := git(t, f.bare, "rev-parse", "refs/tags/tree"); got != tree {
		t.Fatalf("upstream refs/tags/tree = %s, want %s", got, tree)
	}
	f.sameRefs(t)

	tok := fakeToken(15)
	before := refsOf(t, f.bare)
	secretTree, ids := mk("100644 blob " + blob + "\t" + tok + "\n")
	resp = rawPush(t, f.g, "demo", []string{zeroID + " " + secretTree + " refs/tags/tree2"}, packOf(t, f.work, ids...))
	if !strings.Contains(resp, "ng refs/tags/tree2 secret detected") || strings.Contains(resp, tok) {
		t.Fatalf("tree with a secret name:\n%q", resp)
	}
	f.unchanged(t, before)
}
