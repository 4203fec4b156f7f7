package gitgate

import (
	"fmt"
	mrand "math/rand/v2"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// randomHistory writes a random DAG of n commits (merges included) into a
// new repository with fast-import and returns the repository and the
// commit ids. With skew, committer dates go back and forth.
func randomHistory(t *testing.T, r *mrand.Rand, n int, skew bool) (string, []plumbing.Hash) {
	t.Helper()
	dir := t.TempDir()
	git(t, dir, "init", "--bare", "--quiet", ".")
	var in strings.Builder
	ts := int64(1_700_000_000)
	for i := range n {
		ts += int64(r.IntN(100))
		date := ts
		if skew && r.IntN(5) == 0 {
			date -= int64(r.IntN(5000))
		}
		fmt.Fprintf(&in, "commit refs/heads/c%d\nmark :%d\ncommitter A <a@b.test> %d +0000\ndata %d\nc%d\n", i, i+1, date, len(fmt.Sprint(i))+2, i)
		if i > 0 && r.IntN(8) != 0 { // some roots
			fmt.Fprintf(&in, "from :%d\n", 1+max(0, i-1-r.IntN(min(i, 6))))
			if r.IntN(4) == 0 {
				fmt.Fprintf(&in, "merge :%d\n", 1+r.IntN(i))
			}
		}
		in.WriteString("\n")
	}
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = dir
	cmd.Env = testGitEnv(dir)
	cmd.Stdin = strings.NewReader(in.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("fast-import: %v\n%s", err, out)
	}
	ids := make([]plumbing.Hash, n)
	for i := range n {
		ids[i] = plumbing.NewHash(git(t, dir, "rev-parse", fmt.Sprintf("c%d", i)))
	}
	return dir, ids
}

// TestIntroducedCommitsMatchesRevList compares the walk with git rev-list
// TIPS --not EXCLUDE on random histories: equal with sane dates, a
// superset (never missing a commit) under clock skew.
func TestIntroducedCommitsMatchesRevList(t *testing.T) {
	for _, skew := range []bool{false, true} {
		t.Run(fmt.Sprintf("skew=%v", skew), func(t *testing.T) {
			r := mrand.New(mrand.NewPCG(42, uint64(len(fmt.Sprint(skew)))))
			dir, ids := randomHistory(t, r, 300, skew)
			st := openStorage(dir)
			defer st.Close()
			for q := range 60 {
				pick := func(k int) []plumbing.Hash {
					var out []plumbing.Hash
					for range k {
						out = append(out, ids[r.IntN(len(ids))])
					}
					return out
				}
				tips, exclude := pick(1+r.IntN(3)), pick(r.IntN(5))
				got, err := introducedCommits(st, tips, exclude)
				if err != nil {
					t.Fatal(err)
				}
				args := []string{"rev-list"}
				for _, h := range tips {
					args = append(args, h.String())
				}
				if len(exclude) > 0 {
					args = append(args, "--not")
					for _, h := range exclude {
						args = append(args, h.String())
					}
				}
				var want []string
				if out := git(t, dir, args...); out != "" {
					want = strings.Split(out, "\n")
				}
				var gotIDs []string
				for _, c := range got {
					gotIDs = append(gotIDs, c.Hash.String())
				}
				slices.Sort(want)
				slices.Sort(gotIDs)
				for _, w := range want {
					if _, found := slices.BinarySearch(gotIDs, w); !found {
						t.Fatalf("query %d: walk misses %s that rev-list lists (tips %v, exclude %v)", q, w, tips, exclude)
					}
				}
				if !skew && !slices.Equal(gotIDs, want) {
					t.Fatalf("query %d: walk lists %d commits, rev-list %d", q, len(gotIDs), len(want))
				}
			}
		})
	}
}
