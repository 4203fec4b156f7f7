package gitgate

import (
	"bytes"
	"context"
	"fmt"
	mrand "math/rand/v2"
	"os/exec"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/zricethezav/gitleaks/v8/detect"
)

// goCode returns n bytes of Go-like source holding no secret.
func goCode(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "func (s *CacheService) handleToken%d(w http.ResponseWriter, r *http.Request) error {\n\tclient, err := s.bucket.Lookup(r.Context(), \"client-%d\")\n\t// stream keeps the reader warm for the next %d calls.\n", i, i, i)
	}
	return b.String()
}

// BenchmarkDetect is gitleaks on one fragment, by fragment size.
func BenchmarkDetect(b *testing.B) {
	det, _ := detector()
	for _, size := range []int{200, 2000, 20000, 1 << 20} {
		text := goCode(size)
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				//lint:ignore SA1019 DetectContext takes the deprecated alias (see scan)
				det.DetectContext(context.Background(), detect.Fragment{Raw: text, FilePath: "src/x.go", StartLine: 1, CommitSHA: "1234567890123456789012345678901234567890"})
			}
		})
	}
}

// BenchmarkScanHistory scans a 500-commit history of growing Go files:
// diffs, fragments and gitleaks, as a push does; MB/s is of patch text.
func BenchmarkScanHistory(b *testing.B) {
	dir := b.TempDir()
	git(b, dir, "init", "--bare", "--quiet", ".")
	var in strings.Builder
	files := map[string]string{}
	for i := 0; i < 500; i++ {
		msg := fmt.Sprintf("change %d\n", i)
		fmt.Fprintf(&in, "commit refs/heads/main\ncommitter A <a@b.test> %d +0000\ndata %d\n%s", 1700000000+i*60, len(msg), msg)
		for k := 0; k < 2; k++ {
			p := fmt.Sprintf("pkg%02d/file%d.go", (i*7+k)%20, (i*3+k)%40)
			files[p] += goCode(1500)
			fmt.Fprintf(&in, "M 100644 inline %s\ndata %d\n%s\n", p, len(files[p]), files[p])
		}
	}
	cmd := execGit(dir, in.String(), "fast-import", "--quiet")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%v %s", err, out)
	}
	head := git(b, dir, "rev-parse", "main")
	st := openStorage(dir)
	defer st.Close()
	for b.Loop() {
		commits, err := introducedCommits(st, []plumbing.Hash{plumbing.NewHash(head)}, nil)
		if err != nil {
			b.Fatal(err)
		}
		_, stats, err := scan(context.Background(), st, scanPlan{commits: commits}, func(plumbing.Hash) bool { return false }, DefaultScanBytes)
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(stats.Bytes)
	}
}

// execGit prepares git in dir with stdin.
func execGit(dir, stdin string, args ...string) *exec.Cmd {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = testGitEnv(dir)
	cmd.Stdin = strings.NewReader(stdin)
	return cmd
}

// BenchmarkPrintable is the text extraction of a binary blob: random
// bytes (little text) and UTF-16 text (all text).
func BenchmarkPrintable(b *testing.B) {
	random := make([]byte, 4<<20)
	_, _ = mrand.NewChaCha8([32]byte{1}).Read(random)
	for name, data := range map[string][]byte{"random": random, "utf16": utf16Bytes(goCode(2<<20), false)} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := printable(bytes.NewReader(data)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
