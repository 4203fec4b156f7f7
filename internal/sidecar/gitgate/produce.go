package gitgate

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/utils/merkletrie"
)

// Limits on turning objects into text to scan.
const (
	// maxDiffBlob is the largest blob diffed line by line; a larger one is
	// scanned whole (every line counts as added).
	maxDiffBlob = 8 << 20
	// maxRenames bounds rename detection per commit (added × deleted files).
	maxRenames = 1000
)

// producer turns a scan plan into fragments.
type producer struct {
	s      storer.EncodedObjectStorer
	isNew  func(plumbing.Hash) bool
	out    chan<- fragment
	ctx    context.Context
	binary int
	// named holds the new trees whose entry names were scanned.
	named map[plumbing.Hash]bool
	// budget is what may still be emitted, in bytes.
	budget int64
	// diffed holds the versions of a file (old, new) already scanned
	// against each other, so that the net result skips what a commit
	// covered.
	diffed map[[2]plumbing.Hash]bool
}

func (p *producer) emit(f fragment) error {
	if f.text == "" {
		return nil
	}
	if p.budget -= int64(len(f.text)); p.budget < 0 {
		return errScanBudget
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
	p.named = map[plumbing.Hash]bool{}
	p.diffed = map[[2]plumbing.Hash]bool{}
	var refs strings.Builder
	for _, r := range plan.refs {
		refs.WriteString(r.String() + "\n")
	}
	if err := p.emitText(refs.String(), 1, "", finding{Object: "push", Where: whereRefNames}); err != nil {
		return err
	}
	for _, c := range plan.commits {
		if err := p.commit(c); err != nil {
			return fmt.Errorf("scan commit %s: %w", c.Hash, err)
		}
	}
	for _, t := range plan.tags {
		// Named by id: the name inside the tag is the agent's, and may be
		// what is flagged.
		if err := p.object(t.Hash, finding{Object: "tag " + t.Hash.String()[:12]}, "object"); err != nil {
			return fmt.Errorf("scan tag %s: %w", t.Hash, err)
		}
	}
	for _, n := range plan.nets {
		if err := p.net(n); err != nil {
			return fmt.Errorf("scan the pushed tip %s: %w", n.tip, err)
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

// tree scans the new blobs under the pushed tree h, whole, and the
// entry names of its new trees.
func (p *producer) tree(h plumbing.Hash, prefix string) error {
	if !p.isNew(h) {
		return nil
	}
	t, err := object.GetTree(p.s, h)
	if err != nil {
		return err
	}
	var names strings.Builder
	for _, e := range t.Entries {
		names.WriteString(prefix + e.Name + "\n")
	}
	if err := p.emitText(names.String(), 1, "", finding{Object: "tree " + h.String()[:12], Where: whereFileNames}); err != nil {
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

// object scans the commit or tag object h as git stores it: every header
// (author, committer, tagger, the tag's name, gpgsig, mergetag, encoding,
// any unknown one) and the whole message, signature blocks included.
// Headers named in ids hold only object ids and are left out.
func (p *producer) object(h plumbing.Hash, origin finding, ids ...string) error {
	raw, err := p.rawObject(h)
	if err != nil {
		return err
	}
	headers, message := splitObject(raw, ids...)
	if err := p.emitText(headers, 1, "", withWhere(origin, whereHeaders)); err != nil {
		return err
	}
	return p.emitText(message, 1, "", withWhere(origin, whereMessage))
}

// maxObjectText bounds a commit or tag object, which is read whole.
const maxObjectText = 64 << 20

// rawObject returns the content of the object h.
func (p *producer) rawObject(h plumbing.Hash) (string, error) {
	obj, err := p.s.EncodedObject(plumbing.AnyObject, h)
	if err != nil {
		return "", err
	}
	if obj.Size() > maxObjectText {
		return "", fmt.Errorf("%s object %s is larger than %s", obj.Type(), h, humanBytes(maxObjectText))
	}
	r, err := obj.Reader()
	if err != nil {
		return "", err
	}
	defer r.Close()
	var sb strings.Builder
	sb.Grow(int(obj.Size()))
	_, err = io.Copy(&sb, r)
	return sb.String(), err
}

// splitObject splits a commit or tag object at its first empty line. In
// the headers, continuation lines lose their leading space (so that a
// folded PEM block reads as one), and lines of the headers named in skip
// are emptied if they hold an object id; line numbers stay those of the
// object.
func splitObject(raw string, skip ...string) (headers, message string) {
	head, message, _ := strings.Cut(raw, "\n\n")
	var b strings.Builder
	b.Grow(len(head) + 1)
	for line := range strings.SplitSeq(head, "\n") {
		if rest, ok := strings.CutPrefix(line, " "); ok {
			b.WriteString(rest)
		} else if name, id, _ := strings.Cut(line, " "); !slices.Contains(skip, name) || !isObjectID(id) {
			b.WriteString(line)
		}
		b.WriteByte('\n')
	}
	return b.String(), message
}

func isObjectID(s string) bool {
	_, err := parseHash([]byte(s))
	return err == nil
}

// commit scans what c adds: the commit object (headers and message), the
// names of the files it changes, and every line it adds to them.
func (p *producer) commit(c *object.Commit) error {
	origin := finding{Commit: c.Hash}
	if err := p.object(c.Hash, origin, "tree", "parent"); err != nil {
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
	// Every entry of every new tree, also gitlinks and directories
	// holding no file (an empty tree).
	if err := p.treeNames(c.TreeHash, "", &names); err != nil {
		return err
	}
	if err := p.emitText(names.String(), 1, "", withWhere(origin, whereFileNames)); err != nil {
		return err
	}
	for _, f := range files {
		inFile := withWhere(origin, f.path)
		inFile.File = true
		if err := p.file(f, inFile); err != nil {
			return err
		}
	}
	return nil
}

// treeNames writes the paths of the entries of h and of the new trees
// under it that no commit of this push listed yet. A tree the gate holds
// was scanned when it arrived.
func (p *producer) treeNames(h plumbing.Hash, prefix string, names *strings.Builder) error {
	if p.named[h] || !p.isNew(h) {
		return nil
	}
	p.named[h] = true
	t, err := object.GetTree(p.s, h)
	if err != nil {
		return err
	}
	for _, e := range t.Entries {
		names.WriteString(prefix + e.Name + "\n")
		if e.Mode == filemode.Dir {
			if err := p.treeNames(e.Hash, prefix+e.Name+"/", names); err != nil {
				return err
			}
		}
	}
	return nil
}

// netDiff is a pushed tip and the commit it is compared with: the ref's
// old value, else the nearest first-parent ancestor the gate had; zero
// for none.
type netDiff struct {
	base, tip plumbing.Hash
}

// net scans the lines the tip's files add relative to the base: the
// push's net result. Each commit's added lines are scanned too, but a
// secret split over commits is whole only here.
func (p *producer) net(n netDiff) error {
	tip, err := object.GetCommit(p.s, n.tip)
	if err != nil {
		return err
	}
	to, err := tip.Tree()
	if err != nil {
		return err
	}
	var from *object.Tree
	if !n.base.IsZero() {
		base, err := object.GetCommit(p.s, n.base)
		if err != nil {
			return err
		}
		if from, err = base.Tree(); err != nil {
			return err
		}
	}
	files, err := p.changes(from, to)
	if err != nil {
		return err
	}
	for _, f := range files {
		if p.diffed[[2]plumbing.Hash{f.from[0], f.to}] {
			continue // the same change as one commit's
		}
		origin := finding{Commit: n.tip, Where: f.path, File: true, Net: true}
		if err := p.file(f, origin); err != nil {
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
	if len(f.from) == 1 {
		p.diffed[[2]plumbing.Hash{f.from[0], f.to}] = true
	}
	blob, err := p.blob(f.to)
	if err != nil {
		return err
	}
	if binary, err := isBinary(blob); err != nil {
		return err
	} else if binary {
		return p.binaryBlob(blob, f.path, origin)
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

// blob returns the blob h, refusing one larger than what is left of the
// scan budget before any of it is read.
func (p *producer) blob(h plumbing.Hash) (*object.Blob, error) {
	if size, err := p.s.EncodedObjectSize(h); err == nil && size > p.budget {
		return nil, errScanBudget
	}
	return object.GetBlob(p.s, h)
}

// binaryBlob scans a binary blob whole, as its printable text (see
// printable), with its path so that gitleaks' path rules (keystores such
// as *.p12) apply even when it holds no text at all.
func (p *producer) binaryBlob(blob *object.Blob, path string, origin finding) error {
	p.binary++
	r, err := blob.Reader()
	if err != nil {
		return err
	}
	defer r.Close()
	text, err := printable(r)
	if err != nil {
		return err
	}
	if text == "" {
		text = "\n"
	}
	return p.emitText(text, 1, path, origin)
}

// wholeBlob scans every line of the blob h, or its printable text if it
// is binary.
func (p *producer) wholeBlob(h plumbing.Hash, path string, origin finding) error {
	blob, err := p.blob(h)
	if err != nil {
		return err
	}
	if binary, err := isBinary(blob); err != nil {
		return err
	} else if binary {
		return p.binaryBlob(blob, path, origin)
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
