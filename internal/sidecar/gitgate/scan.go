package gitgate

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/utils/diff"
	"github.com/go-git/go-git/v5/utils/merkletrie"
	"github.com/rs/zerolog"
	"github.com/sergi/go-diff/diffmatchpatch"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/logging"
)

// Scanning limits.
const (
	// binarySniff is how much of a blob is checked for a NUL byte, as git
	// and gitleaks do, to call it binary. Binary blobs are not scanned.
	binarySniff = 8000
	// maxDiffBlob is the largest blob diffed line by line; a larger one is
	// scanned whole (every line counts as added).
	maxDiffBlob = 8 << 20
	// diffTimeout bounds one line diff; past it the diff is coarser (more
	// lines count as added), never wrong.
	diffTimeout = 5 * time.Second
	// chunkSize and chunkOverlap: text longer than chunkSize is scanned in
	// pieces cut at line ends, each repeating the complete lines in the
	// last chunkOverlap bytes of the one before, so that a secret across a
	// cut is whole in some piece.
	chunkSize    = 1 << 20
	chunkOverlap = 64 << 10
	// maxRenames bounds rename detection per commit (added × deleted files).
	maxRenames = 1000
)

// detector is gitleaks' detector with the full default ruleset, built once
// per process: building it goes through viper's global state, and a
// detector is safe to share between goroutines.
var detector = sync.OnceValues(func() (*detect.Detector, error) {
	// gitleaks logs through a package-level zerolog logger, with paths and
	// commits; the gate reports findings itself.
	logging.Logger = zerolog.Nop()
	d, err := detect.NewDetectorDefaultConfig()
	if err != nil {
		return nil, fmt.Errorf("load gitleaks rules: %w", err)
	}
	// The agent writes the commits: a "gitleaks:allow" comment must not
	// hide a secret.
	d.IgnoreGitleaksAllow = true
	d.Redact = 100
	// As gitleaks' own CLI: also look inside base64, hex and percent
	// encoding.
	d.MaxDecodeDepth = 5
	return d, nil
})

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
	// Line is the 1-based line in that file or part.
	Line int
	// Rule is the gitleaks rule id.
	Rule string
}

// String describes f for the git client and the log.
func (f finding) String() string {
	var b strings.Builder
	if !f.Commit.IsZero() {
		b.WriteString("commit " + f.Commit.String()[:12])
	} else {
		b.WriteString(f.Object)
	}
	switch f.Where {
	case whereFileNames:
		b.WriteString(": a file or directory name")
	default:
		fmt.Fprintf(&b, " %s line %d", f.Where, f.Line)
	}
	b.WriteString(": rule " + f.Rule)
	return b.String()
}

// Where values for parts that are not files.
const (
	whereMessage    = "message"
	whereIdentities = "author/committer"
	whereFileNames  = "file names"
)

// scanPlan is what a push introduces.
type scanPlan struct {
	commits []*object.Commit // scanned as diffs against their parents
	tags    []*object.Tag    // tag objects: message and tagger
	trees   []plumbing.Hash  // trees a ref or tag points at: their new blobs, whole
	blobs   []plumbing.Hash  // blobs a ref or tag points at, whole
}

// scanStats says how much was scanned.
type scanStats struct {
	Fragments int
	Bytes     int64
	Binary    int // binary blobs skipped
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
func scan(ctx context.Context, s storer.EncodedObjectStorer, plan scanPlan, isNew func(plumbing.Hash) bool) ([]finding, scanStats, error) {
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
					found[fd] = struct{}{}
				}
				mu.Unlock()
			}
		}()
	}
	p := &producer{s: s, isNew: isNew, out: frags, ctx: ctx}
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
	out := make([]finding, 0, len(found))
	for f := range found {
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

// producer turns a scan plan into fragments.
type producer struct {
	s      storer.EncodedObjectStorer
	isNew  func(plumbing.Hash) bool
	out    chan<- fragment
	ctx    context.Context
	binary int
}

func (p *producer) emit(f fragment) error {
	if f.text == "" {
		return nil
	}
	select {
	case p.out <- f:
		return nil
	case <-p.ctx.Done():
		return p.ctx.Err()
	}
}

// emitText emits text, in pieces if it is long (see chunkSize).
func (p *producer) emitText(text string, first int, path string, origin finding) error {
	if len(text) <= chunkSize {
		return p.emit(fragment{text: text, path: path, line: first, origin: origin})
	}
	return p.emitReader(strings.NewReader(text), first, path, origin)
}

// emitReader emits what r holds in pieces.
func (p *producer) emitReader(r io.Reader, first int, path string, origin finding) error {
	return chunks(r, first, func(text string, line int) error {
		return p.emit(fragment{text: text, path: path, line: line, origin: origin})
	})
}

func (p *producer) run(plan scanPlan) error {
	for _, c := range plan.commits {
		if err := p.commit(c); err != nil {
			return fmt.Errorf("scan commit %s: %w", c.Hash, err)
		}
	}
	for _, t := range plan.tags {
		origin := finding{Object: "tag " + t.Name}
		if err := p.emitText(t.Message, 1, "", withWhere(origin, whereMessage)); err != nil {
			return err
		}
		if err := p.emit(fragment{text: "tagger " + t.Tagger.String() + "\n", line: 1, origin: withWhere(origin, whereIdentities)}); err != nil {
			return err
		}
	}
	for _, h := range plan.trees {
		if err := p.tree(h, ""); err != nil {
			return fmt.Errorf("scan tree %s: %w", h, err)
		}
	}
	for _, h := range plan.blobs {
		origin := finding{Object: "blob " + h.String()[:12], Where: "content"}
		if err := p.wholeBlob(h, "", origin); err != nil {
			return fmt.Errorf("scan blob %s: %w", h, err)
		}
	}
	return nil
}

func withWhere(f finding, where string) finding {
	f.Where = where
	return f
}

// tree scans the new blobs under the pushed tree h, whole.
func (p *producer) tree(h plumbing.Hash, prefix string) error {
	if !p.isNew(h) {
		return nil
	}
	t, err := object.GetTree(p.s, h)
	if err != nil {
		return err
	}
	for _, e := range t.Entries {
		path := prefix + e.Name
		switch {
		case e.Mode == filemode.Submodule:
		case e.Mode == filemode.Dir:
			if err := p.tree(e.Hash, path+"/"); err != nil {
				return err
			}
		case p.isNew(e.Hash):
			origin := finding{Object: "tree " + h.String()[:12], Where: path}
			if err := p.wholeBlob(e.Hash, path, origin); err != nil {
				return err
			}
		}
	}
	return nil
}

// commit scans what c adds: its message and identities, the names of the
// files it changes, and every line it adds to them.
func (p *producer) commit(c *object.Commit) error {
	origin := finding{Commit: c.Hash}
	if err := p.emitText(c.Message, 1, "", withWhere(origin, whereMessage)); err != nil {
		return err
	}
	ids := "author " + c.Author.String() + "\ncommitter " + c.Committer.String() + "\n"
	if err := p.emit(fragment{text: ids, line: 1, origin: withWhere(origin, whereIdentities)}); err != nil {
		return err
	}
	tree, err := c.Tree()
	if err != nil {
		return err
	}
	var parents []*object.Tree
	for _, ph := range c.ParentHashes {
		pc, err := object.GetCommit(p.s, ph)
		if err != nil {
			return err
		}
		pt, err := pc.Tree()
		if err != nil {
			return err
		}
		parents = append(parents, pt)
	}
	var files []changedFile
	if len(parents) <= 1 {
		var from *object.Tree
		if len(parents) == 1 {
			from = parents[0]
		}
		files, err = p.changes(from, tree)
	} else {
		files, err = p.mergeChanges(parents, tree)
	}
	if err != nil {
		return err
	}
	var names strings.Builder
	for _, f := range files {
		names.WriteString(f.path + "\n")
	}
	if err := p.emit(fragment{text: names.String(), line: 1, origin: withWhere(origin, whereFileNames)}); err != nil {
		return err
	}
	for _, f := range files {
		if err := p.file(f, withWhere(origin, f.path)); err != nil {
			return err
		}
	}
	return nil
}

// changedFile is a file a commit adds or changes, with the versions it was
// compared with: none for a new file; one per parent for a merge.
type changedFile struct {
	path string
	to   plumbing.Hash
	from []plumbing.Hash // zero hash: the file is new relative to that parent
}

// changes lists the files tree adds or changes relative to from (nil: an
// empty tree), renames detected.
func (p *producer) changes(from, to *object.Tree) ([]changedFile, error) {
	chs, err := object.DiffTreeWithOptions(p.ctx, from, to, &object.DiffTreeOptions{
		DetectRenames: true, RenameScore: 60, RenameLimit: maxRenames,
	})
	if err != nil {
		return nil, err
	}
	var out []changedFile
	for _, ch := range chs {
		action, err := ch.Action()
		if err != nil {
			return nil, err
		}
		if action == merkletrie.Delete || !isScannedFile(ch.To.TreeEntry.Mode) {
			continue
		}
		f := changedFile{path: ch.To.Name, to: ch.To.TreeEntry.Hash, from: []plumbing.Hash{plumbing.ZeroHash}}
		if action == merkletrie.Modify && isScannedFile(ch.From.TreeEntry.Mode) {
			f.from[0] = ch.From.TreeEntry.Hash
		}
		out = append(out, f)
	}
	return out, nil
}

// mergeChanges lists the files a merge's tree holds in a version that no
// parent has: content inherited from a parent is already on the gate or
// scanned with that parent's commits. No rename detection: a path is
// compared with the same path in each parent.
func (p *producer) mergeChanges(parents []*object.Tree, to *object.Tree) ([]changedFile, error) {
	byPath := map[string]*changedFile{}
	var order []string
	for i, pt := range parents {
		chs, err := object.DiffTreeWithOptions(p.ctx, pt, to, nil)
		if err != nil {
			return nil, err
		}
		for _, ch := range chs {
			action, err := ch.Action()
			if err != nil {
				return nil, err
			}
			if action == merkletrie.Delete || !isScannedFile(ch.To.TreeEntry.Mode) {
				continue
			}
			f := byPath[ch.To.Name]
			if f == nil {
				if i > 0 {
					continue // the same as parent 0's version
				}
				f = &changedFile{path: ch.To.Name, to: ch.To.TreeEntry.Hash}
				byPath[f.path] = f
				order = append(order, f.path)
			}
			from := plumbing.ZeroHash
			if action == merkletrie.Modify && isScannedFile(ch.From.TreeEntry.Mode) {
				from = ch.From.TreeEntry.Hash
			}
			f.from = append(f.from, from)
		}
	}
	var out []changedFile
	for _, path := range order {
		if f := byPath[path]; len(f.from) == len(parents) {
			out = append(out, *f)
		}
	}
	return out, nil
}

func isScannedFile(m filemode.FileMode) bool {
	return m == filemode.Regular || m == filemode.Executable || m == filemode.Deprecated || m == filemode.Symlink
}

// file scans the lines f's new version adds relative to every version it
// was compared with.
func (p *producer) file(f changedFile, origin finding) error {
	blob, err := object.GetBlob(p.s, f.to)
	if err != nil {
		return err
	}
	if binary, err := isBinary(blob); err != nil || binary {
		if binary {
			p.binary++
		}
		return err
	}
	if blob.Size > maxDiffBlob {
		return p.wholeBlob(f.to, f.path, origin)
	}
	var added []bool // added[i]: line i+1 is added relative to every version so far
	var text string
	for _, fromHash := range f.from {
		if fromHash.IsZero() {
			continue // every line is new relative to nothing
		}
		old, err := object.GetBlob(p.s, fromHash)
		if err != nil {
			return err
		}
		if binary, err := isBinary(old); err != nil {
			return err
		} else if binary || old.Size > maxDiffBlob {
			continue
		}
		if text == "" {
			if text, err = blobText(blob); err != nil {
				return err
			}
		}
		oldText, err := blobText(old)
		if err != nil {
			return err
		}
		a := addedLines(oldText, text)
		if added == nil {
			added = a
		} else {
			for i := range added {
				added[i] = added[i] && a[i]
			}
		}
	}
	if added == nil {
		return p.wholeBlob(f.to, f.path, origin)
	}
	starts := lineStarts(text)
	for i := 0; i < len(added); {
		if !added[i] {
			i++
			continue
		}
		j := i
		for j < len(added) && added[j] {
			j++
		}
		end := len(text)
		if j < len(starts) {
			end = starts[j]
		}
		if err := p.emitText(text[starts[i]:end], i+1, f.path, origin); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// wholeBlob scans every line of the blob h unless it is binary.
func (p *producer) wholeBlob(h plumbing.Hash, path string, origin finding) error {
	blob, err := object.GetBlob(p.s, h)
	if err != nil {
		return err
	}
	if binary, err := isBinary(blob); err != nil || binary {
		if binary {
			p.binary++
		}
		return err
	}
	if blob.Size <= chunkSize {
		text, err := blobText(blob)
		if err != nil {
			return err
		}
		return p.emitText(text, 1, path, origin)
	}
	r, err := blob.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	return p.emitReader(r, 1, path, origin)
}

func isBinary(b *object.Blob) (bool, error) {
	r, err := b.Reader()
	if err != nil {
		return false, err
	}
	defer r.Close()
	head := make([]byte, binarySniff)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return false, err
	}
	return bytes.IndexByte(head[:n], 0) >= 0, nil
}

func blobText(b *object.Blob) (string, error) {
	r, err := b.Reader()
	if err != nil {
		return "", err
	}
	defer r.Close()
	var sb strings.Builder
	sb.Grow(int(b.Size))
	_, err = io.Copy(&sb, r)
	return sb.String(), err
}

// addedLines reports, per line of new, whether a line diff from old marks
// it added.
func addedLines(old, new string) []bool {
	added := make([]bool, len(lineStarts(new)))
	line := 0
	for _, d := range diff.DoWithTimeout(old, new, diffTimeout) {
		n := countLines(d.Text)
		switch d.Type {
		case diffmatchpatch.DiffInsert:
			for i := line; i < line+n && i < len(added); i++ {
				added[i] = true
			}
			line += n
		case diffmatchpatch.DiffEqual:
			line += n
		}
	}
	return added
}

// lineStarts returns the offset of each line of s.
func lineStarts(s string) []int {
	if s == "" {
		return nil
	}
	starts := []int{0}
	for i := 0; i < len(s)-1; i++ {
		if s[i] == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

func countLines(s string) int {
	n := strings.Count(s, "\n")
	if s != "" && !strings.HasSuffix(s, "\n") {
		n++
	}
	return n
}

// chunks reads r and calls emit with its text in pieces of at most
// chunkSize bytes, cut after a newline where there is one in the second
// half, each piece after the first repeating the complete lines in the
// last chunkOverlap bytes of the one before. line is the number of the
// piece's first line, counting from first.
func chunks(r io.Reader, first int, emit func(text string, line int) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	buf := make([]byte, 0, chunkSize)
	line := first
	carried := 0 // bytes at the start of buf already emitted
	for {
		eof := false
		for len(buf) < chunkSize {
			n, err := br.Read(buf[len(buf):chunkSize])
			buf = buf[:len(buf)+n]
			if errors.Is(err, io.EOF) {
				eof = true
				break
			}
			if err != nil {
				return err
			}
		}
		if eof {
			if len(buf) == carried {
				return nil
			}
			return emit(string(buf), line)
		}
		cut := len(buf)
		if i := bytes.LastIndexByte(buf, '\n'); i >= chunkSize/2 {
			cut = i + 1
		}
		if err := emit(string(buf[:cut]), line); err != nil {
			return err
		}
		keep := cut - chunkOverlap
		if i := bytes.IndexByte(buf[keep:cut], '\n'); i >= 0 && keep+i+1 < cut {
			keep += i + 1
		}
		line += bytes.Count(buf[:keep], []byte("\n"))
		buf = buf[:copy(buf, buf[keep:])]
		carried = cut - keep
	}
}
