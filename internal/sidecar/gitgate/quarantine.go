package gitgate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"golang.org/x/sys/unix"
)

// quarantinePrefix names quarantine directories inside a repository.
const quarantinePrefix = "gitgate-incoming-"

// quarantine holds a pushed pack outside the gate's object store until the
// push is accepted: git index-pack writes it there, reading the gate's
// objects as alternates to complete a thin pack.
type quarantine struct {
	dir  string // a fake git directory: dir/objects/pack/pack-<id>.{pack,idx}
	pack string // "pack-<id>", or "" if the push carried no pack
	// objects lists every object in the pack.
	objects map[plumbing.Hash]struct{}
}

// errPackTooLarge is the unpack failure for a pack over --max-pack.
var errPackTooLarge = errors.New("pack exceeds the size limit")

// errPackMemory is the unpack failure for a pack whose objects need more
// memory than index-pack may use: typically a delta bomb, a few hundred
// bytes of delta instructions that expand to GiBs.
var errPackMemory = errors.New("pack needs more memory than the gate allows")

// unpack indexes the pack read from body into a new quarantine in r. Only
// body's first limit bytes are read; a longer pack fails with
// errPackTooLarge.
//
// index-pack runs with its data segment limited to memLimit bytes
// (RLIMIT_DATA; 0: none): --max-input-size counts compressed bytes, and a
// delta's result must be held whole to be hashed.
func (r *repo) unpack(ctx context.Context, body io.Reader, limit, memLimit int64) (*quarantine, error) {
	dir, err := os.MkdirTemp(r.dir, quarantinePrefix)
	if err != nil {
		return nil, fmt.Errorf("create quarantine: %w", err)
	}
	q := &quarantine{dir: dir, objects: map[plumbing.Hash]struct{}{}}
	objects := filepath.Join(dir, "objects")
	if err := os.MkdirAll(filepath.Join(objects, "pack"), 0o755); err != nil {
		q.remove()
		return nil, fmt.Errorf("create quarantine: %w", err)
	}
	lr := &limitReader{r: body, left: limit}
	out, err := indexPack(ctx, r.dir, lr,
		[]string{"GIT_OBJECT_DIRECTORY=" + objects, "GIT_ALTERNATE_OBJECT_DIRECTORIES=" + filepath.Join(r.dir, "objects")},
		memLimit, "--strict", "--max-input-size="+strconv.FormatInt(limit, 10))
	if lr.exceeded() {
		q.remove()
		return nil, errPackTooLarge
	}
	if err != nil {
		q.remove()
		if msg := err.Error(); memLimit > 0 && (strings.Contains(msg, "Out of memory") || strings.Contains(msg, "Cannot allocate memory")) {
			return nil, fmt.Errorf("%w (%s): %w", errPackMemory, humanBytes(memLimit), err)
		}
		return nil, err
	}
	kind, id, _ := strings.Cut(strings.TrimSpace(string(out)), "\t")
	if kind != "pack" || len(id) != 40 {
		q.remove()
		return nil, fmt.Errorf("index-pack printed %q, not a pack id", clip(out))
	}
	q.pack = "pack-" + id
	if err := q.readIndex(); err != nil {
		q.remove()
		return nil, err
	}
	return q, nil
}

// indexPack runs git index-pack --stdin --fix-thin in dir on the pack read
// from pack and returns its output. It copies the input itself, rather than
// through exec, so that pack is never read after it returns.
//
// A memLimit above zero caps the child's data segment (RLIMIT_DATA, set
// before the first byte of the pack reaches it).
func indexPack(ctx context.Context, dir string, pack io.Reader, env []string, memLimit int64, args ...string) ([]byte, error) {
	args = append([]string{"index-pack", "--stdin", "--fix-thin"}, args...)
	cmd := gitCommand(ctx, dir, env, args...)
	var stdout bytes.Buffer
	stderr := &capBuffer{max: maxStderr}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start git index-pack: %w", err)
	}
	if memLimit > 0 {
		lim := &unix.Rlimit{Cur: uint64(memLimit), Max: uint64(memLimit)}
		if err := unix.Prlimit(cmd.Process.Pid, unix.RLIMIT_DATA, lim, nil); err != nil {
			stdin.Close()
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return nil, fmt.Errorf("limit git index-pack's memory: %w", err)
		}
	}
	_, copyErr := io.Copy(stdin, pack)
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		return nil, gitError(args, err, stderr)
	}
	if copyErr != nil {
		return nil, fmt.Errorf("read pack: %w", copyErr)
	}
	return stdout.Bytes(), nil
}

// readIndex lists the pack's objects from its index.
func (q *quarantine) readIndex() error {
	f, err := os.Open(q.packPath(".idx"))
	if err != nil {
		return fmt.Errorf("open pack index: %w", err)
	}
	defer f.Close()
	idx := idxfile.NewMemoryIndex()
	if err := idxfile.NewDecoder(f).Decode(idx); err != nil {
		return fmt.Errorf("read pack index: %w", err)
	}
	entries, err := idx.Entries()
	if err != nil {
		return fmt.Errorf("read pack index: %w", err)
	}
	defer entries.Close()
	for {
		e, err := entries.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read pack index: %w", err)
		}
		q.objects[e.Hash] = struct{}{}
	}
}

func (q *quarantine) packPath(ext string) string {
	return filepath.Join(q.dir, "objects", "pack", q.pack+ext)
}

// storage opens the quarantine's objects layered over the gate's.
func (q *quarantine) storage(gate *filesystem.Storage) *layered {
	return &layered{top: openStorage(q.dir), topHas: q.objects, base: gate}
}

// migrate moves the pack into the gate's object store, the index last so
// that no reader sees an index without its pack.
func (q *quarantine) migrate(repoDir string) error {
	if q.pack == "" {
		return nil
	}
	files, err := filepath.Glob(filepath.Join(q.dir, "objects", "pack", q.pack+".*"))
	if err != nil {
		return err
	}
	sort.Slice(files, func(i, j int) bool {
		return !strings.HasSuffix(files[i], ".idx") && strings.HasSuffix(files[j], ".idx")
	})
	for _, f := range files {
		if err := os.Rename(f, filepath.Join(repoDir, "objects", "pack", filepath.Base(f))); err != nil {
			return fmt.Errorf("move pack into the gate: %w", err)
		}
	}
	return nil
}

func (q *quarantine) remove() { _ = os.RemoveAll(q.dir) }

// limitReader reads at most left bytes from r; reading more fails.
type limitReader struct {
	r    io.Reader
	left int64
	n    int64
	over bool
}

// exceeded reports whether r holds more than the limit: once the limit is
// used up, it tries to read one more byte.
func (l *limitReader) exceeded() bool {
	if !l.over && l.left <= 0 {
		var one [1]byte
		n, _ := io.ReadFull(l.r, one[:])
		l.over = n > 0
	}
	return l.over
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		if l.exceeded() {
			return 0, errPackTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	l.n += int64(n)
	return n, err
}

// layered reads objects from a quarantine first, then from the gate. It is
// read-only.
type layered struct {
	top    *filesystem.Storage
	topHas map[plumbing.Hash]struct{}
	base   *filesystem.Storage
}

var _ storer.EncodedObjectStorer = (*layered)(nil)

var errReadOnly = errors.New("gitgate: object storage is read-only")

func (l *layered) NewEncodedObject() plumbing.EncodedObject { return &plumbing.MemoryObject{} }
func (l *layered) SetEncodedObject(plumbing.EncodedObject) (plumbing.Hash, error) {
	return plumbing.ZeroHash, errReadOnly
}
func (l *layered) AddAlternate(string) error { return errReadOnly }
func (l *layered) IterEncodedObjects(plumbing.ObjectType) (storer.EncodedObjectIter, error) {
	return nil, errReadOnly
}

func (l *layered) inTop(h plumbing.Hash) bool {
	_, ok := l.topHas[h]
	return ok
}

func (l *layered) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	if l.inTop(h) {
		return l.top.EncodedObject(t, h)
	}
	return l.base.EncodedObject(t, h)
}

func (l *layered) HasEncodedObject(h plumbing.Hash) error {
	if l.inTop(h) {
		return nil
	}
	return l.base.HasEncodedObject(h)
}

func (l *layered) EncodedObjectSize(h plumbing.Hash) (int64, error) {
	if l.inTop(h) {
		return l.top.EncodedObjectSize(h)
	}
	return l.base.EncodedObjectSize(h)
}

func (l *layered) Close() {
	l.top.Close()
}
