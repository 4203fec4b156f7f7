package gitgate

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/zricethezav/gitleaks/v8/detect"
)

// errScanBudget is a scan that would exceed its budget of bytes.
var errScanBudget = errors.New("over the scan budget")

// finding is one possible secret. It never holds the secret or its line.
type finding struct {
	// Commit is the commit that adds it; zero for a tag or an object a ref
	// points at directly.
	Commit plumbing.Hash
	// Object names a non-commit source ("tag v1.0", "blob 1a2b3c"); "" for
	// commits.
	Object string
	// Where is the file path, or what part of the object ("commit message",
	// "file names", ...).
	Where string
	// File is set when Where is the path of a file the commit adds or
	// changes (a file may be called "message" too).
	File bool
	// Line is the 1-based line in that file or part.
	Line int
	// Rule is the gitleaks rule id.
	Rule string
	// Net marks a finding in the push's net result (a pushed tip against
	// what the gate had), not in one commit's added lines.
	Net bool
	// digest tells findings of different secrets apart (a truncated
	// SHA-256 of the match; never shown).
	digest [8]byte
}

// String describes f for the git client and the log.
func (f finding) String() string {
	var b strings.Builder
	if !f.Commit.IsZero() {
		b.WriteString("commit " + f.Commit.String()[:12])
	} else {
		b.WriteString(f.Object)
	}
	switch {
	case !f.File && f.Where == whereFileNames:
		b.WriteString(": a file or directory name")
	case f.Where == whereRefNames:
		fmt.Fprintf(&b, ": the name of pushed ref %d", f.Line)
	default:
		fmt.Fprintf(&b, " %s line %d", f.Where, f.Line)
	}
	if f.Net {
		b.WriteString(" (as of the pushed tip)")
	}
	b.WriteString(": rule " + f.Rule)
	return b.String()
}

// Where values for parts that are not files.
const (
	whereMessage   = "message"
	whereHeaders   = "headers"
	whereFileNames = "file names"
	whereRefNames  = "ref names"
)

// scanPlan is what a push introduces.
type scanPlan struct {
	refs    []plumbing.ReferenceName // pushed ref names
	commits []*object.Commit         // scanned as diffs against their parents
	// nets are the pushed tips with what the gate had before them: each
	// file's final content is scanned against that, so that a secret
	// assembled over several commits is whole in one fragment.
	nets  []netDiff
	tags  []*object.Tag   // tag objects: scanned whole
	trees []plumbing.Hash // trees a ref or tag points at: their new blobs, whole
	blobs []plumbing.Hash // blobs a ref or tag points at, whole
}

// scanStats says how much was scanned.
type scanStats struct {
	Fragments int
	Bytes     int64
	Binary    int // binary blobs, scanned as their printable text
}

// fragment is one piece of text to scan.
type fragment struct {
	text   string
	path   string // gitleaks' file path: for path rules and allowlists; "" if not a file
	line   int    // number of the first line
	origin finding
}

// scan runs gitleaks over everything plan introduces and returns the
// findings in a stable order. isNew reports whether an object is new to
// the gate (for blobs under pushed trees). Objects are read on this
// goroutine; gitleaks runs on all CPUs.
func scan(ctx context.Context, s storer.EncodedObjectStorer, plan scanPlan, isNew func(plumbing.Hash) bool, budget int64) ([]finding, scanStats, error) {
	det, err := detector()
	if err != nil {
		return nil, scanStats{}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	frags := make(chan fragment, 2*runtime.GOMAXPROCS(0))
	var (
		mu       sync.Mutex // guards found
		found    = map[finding]struct{}{}
		nBytes   atomic.Int64
		nFrags   atomic.Int64
		wg       sync.WaitGroup
		workers  = runtime.GOMAXPROCS(0)
		produced error
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range frags {
				nBytes.Add(int64(len(f.text)))
				nFrags.Add(1)
				// DetectContext is gitleaks' only per-fragment entry point and
				// takes the deprecated alias; DetectSource would accumulate
				// findings inside the shared detector.
				//lint:ignore SA1019 see above
				res := det.DetectContext(ctx, detect.Fragment{Raw: f.text, FilePath: f.path, StartLine: f.line, CommitSHA: commitSHA(f.origin.Commit)})
				if len(res) == 0 {
					continue
				}
				mu.Lock()
				for _, r := range res {
					fd := f.origin
					fd.Rule, fd.Line = r.RuleID, r.StartLine
					sum := sha256.Sum256([]byte(r.RuleID + "\x00" + r.Secret))
					copy(fd.digest[:], sum[:])
					found[fd] = struct{}{}
				}
				mu.Unlock()
			}
		}()
	}
	p := &producer{s: s, isNew: isNew, out: frags, ctx: ctx, budget: budget}
	produced = p.run(plan)
	close(frags)
	wg.Wait()
	stats := scanStats{Fragments: int(nFrags.Load()), Bytes: nBytes.Load(), Binary: p.binary}
	if produced == nil {
		produced = ctx.Err()
	}
	if produced != nil {
		return nil, stats, produced
	}
	// A net finding repeats one of a commit's unless its secret was
	// whole only in the final content.
	type key struct {
		where, rule string
		digest      [8]byte
	}
	inCommits := map[key]bool{}
	for f := range found {
		if !f.Net {
			inCommits[key{f.Where, f.Rule, f.digest}] = true
		}
	}
	out := make([]finding, 0, len(found))
	for f := range found {
		if f.Net && inCommits[key{f.Where, f.Rule, f.digest}] {
			continue
		}
		out = append(out, f)
	}
	order := map[plumbing.Hash]int{}
	for i, c := range plan.commits {
		order[c.Hash] = i
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Commit != b.Commit {
			return order[a.Commit] > order[b.Commit] // oldest commit first
		}
		if a.Object != b.Object {
			return a.Object < b.Object
		}
		if a.Where != b.Where {
			return a.Where < b.Where
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.File != b.File {
			return !a.File
		}
		if a.Net != b.Net {
			return !a.Net
		}
		return a.Rule < b.Rule
	})
	return out, stats, nil
}

func commitSHA(h plumbing.Hash) string {
	if h.IsZero() {
		return ""
	}
	return h.String()
}
