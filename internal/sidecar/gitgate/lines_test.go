package gitgate

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAddedLines(t *testing.T) {
	for _, tc := range []struct {
		name, old, new string
		want           []bool
	}{
		{"append", "a\nb\n", "a\nb\nc\n", []bool{false, false, true}},
		{"insert", "a\nc\n", "a\nb\nc\n", []bool{false, true, false}},
		{"replace", "a\nb\nc\n", "a\nX\nc\n", []bool{false, true, false}},
		{"no final newline", "a", "a\nb", []bool{true, true}}, // as in git: "a" became "a\n"
		{"delete only", "a\nb\n", "a\n", []bool{false}},
		{"from empty", "", "a\nb\n", []bool{true, true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, addedLines(tc.old, tc.new)); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestChunksCoverEveryLine: long text is cut into pieces whose line
// numbers are right and that together hold every line; a token crossing a
// cut is whole in some piece.
func TestChunksCoverEveryLine(t *testing.T) {
	var b strings.Builder
	for i := 1; b.Len() < 3*chunkSize+12345; i++ {
		fmt.Fprintf(&b, "line %d %s\n", i, strings.Repeat("x", i%200))
	}
	text := b.String()
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	seen := make([]bool, len(lines))
	pieces := 0
	err := chunks(strings.NewReader(text), 1, func(piece string, line int) error {
		pieces++
		if len(piece) > chunkSize {
			t.Fatalf("piece of %d bytes", len(piece))
		}
		for i, l := range strings.Split(strings.TrimSuffix(piece, "\n"), "\n") {
			n := line + i
			if lines[n-1] != l {
				t.Fatalf("piece line %d is %.20q, want %.20q", n, l, lines[n-1])
			}
			seen[n-1] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, ok := range seen {
		if !ok {
			t.Fatalf("line %d never scanned", i+1)
		}
	}
	if pieces < 4 {
		t.Fatalf("%d pieces", pieces)
	}
	// One huge line is cut anyway.
	n := 0
	_ = chunks(strings.NewReader(strings.Repeat("y", 2*chunkSize+5)), 1, func(string, int) error { n++; return nil })
	if n < 3 {
		t.Fatalf("a 2 MiB line gave %d pieces", n)
	}
}

// TestMultiLineSecretAcrossChunkCutFound: a private key whose lines
// straddle a cut between pieces is whole in the next piece, thanks to the
// overlap, and gitleaks finds it there.
func TestMultiLineSecretAcrossChunkCutFound(t *testing.T) {
	body := ""
	for i := range 6 {
		body += strings.Repeat(string(rune('A'+i)), 8) + "mZ3qT8vR1xK5pL0wN7yB2cF4hJ6sD9gQaE1rT5uI8oP3lK7jH2gF6dS4aZ0xC" + "\n"
	}
	key := "-----BEGIN RSA PRIVATE KEY-----\n" + body + "-----END RSA PRIVATE KEY-----\n"
	det, err := detector()
	if err != nil {
		t.Fatal(err)
	}
	if f := det.DetectString(key); len(f) == 0 || f[0].RuleID != "private-key" {
		t.Fatalf("the test key is not a finding on its own: %v", f)
	}
	pad := strings.Repeat("a", 79) + "\n"
	before := strings.Repeat(pad, (chunkSize-200)/len(pad)) // the key starts just before the first cut
	text := before + key + strings.Repeat(pad, 2000)
	whole, cut := false, false
	_ = chunks(strings.NewReader(text), 1, func(piece string, line int) error {
		cut = cut || strings.Contains(piece, "-----BEGIN") && !strings.Contains(piece, key)
		if i := strings.Index(piece, key); i >= 0 {
			whole = true
			if got := line + strings.Count(piece[:i], "\n"); got != strings.Count(before, "\n")+1 {
				t.Errorf("the key is on line %d of the piece's numbering, want %d", got, strings.Count(before, "\n")+1)
			}
		}
		return nil
	})
	if !cut || !whole {
		t.Fatalf("key cut by a piece boundary: %v; some piece holds it whole: %v", cut, whole)
	}
}
