package gitgate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/storage/filesystem"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// repo is one declared repository: the gate's bare mirror of its upstream.
type repo struct {
	name string
	dir  string // <data>/<name>.git
	up   *upstream
	// conf is the repository's gate-file entry, as read at start: its ref
	// policy (push_refs, allow_branch_delete).
	conf contract.Repo

	// lock is held (a token in the one-slot channel) while the gate's refs
	// or HEAD may change: by a refresh or by a push. Fetches take it only
	// for their refresh and serve upload-pack without it.
	lock chan struct{}
	// lastRefresh is when the last successful refresh started; guarded by
	// lock.
	lastRefresh time.Time
	// lastAttempt is when the last refresh started and lastErr how it
	// ended; guarded by lock. Zero: refresh at the next fetch.
	lastAttempt time.Time
	lastErr     error
	// pushes holds a token per push in progress (Server.pushSlot).
	pushes chan struct{}
	// needPrune is set when a prune failed, so that the next refresh
	// prunes; guarded by lock.
	needPrune bool
}

func newRepo(name, dataDir string, up *upstream) *repo {
	return &repo{name: name, dir: filepath.Join(dataDir, name+".git"), up: up, lock: make(chan struct{}, 1),
		pushes: make(chan struct{}, DefaultMaxRepoPushes)}
}

// acquire takes r's lock, or gives up when ctx ends.
func (r *repo) acquire(ctx context.Context) error {
	select {
	case r.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for %s: %w", r.name, ctx.Err())
	}
}

func (r *repo) release() { <-r.lock }

// ensureInit creates r's bare repository if it does not exist yet. Called
// with r's lock held.
func (r *repo) ensureInit(ctx context.Context) error {
	if _, err := os.Stat(filepath.Join(r.dir, "objects")); err == nil {
		return nil
	}
	tmp, err := os.MkdirTemp(filepath.Dir(r.dir), "."+r.name+".init-")
	if err != nil {
		return fmt.Errorf("create repository: %w", err)
	}
	defer os.RemoveAll(tmp)
	if _, err := runGit(ctx, tmp, nil, nil, "init", "--bare", "--quiet", "."); err != nil {
		return fmt.Errorf("create repository: %w", err)
	}
	if err := os.Rename(tmp, r.dir); err != nil {
		return fmt.Errorf("create repository: %w", err)
	}
	return nil
}

// removeStaleQuarantines deletes quarantines a crashed gate left behind.
func (r *repo) removeStaleQuarantines() {
	dirs, _ := filepath.Glob(filepath.Join(r.dir, quarantinePrefix+"*"))
	for _, d := range dirs {
		_ = os.RemoveAll(d)
	}
}

// objectCacheSize bounds go-git's object cache per storage.
const objectCacheSize = 8 * cache.MiByte

// largeObject is the size above which go-git streams an object from its
// pack instead of holding it in memory.
const largeObject = 1 << 20

// openStorage opens the go-git storage of the git directory dir. Each
// caller gets its own (go-git's storage is not safe for concurrent use)
// and must Close it: pack files stay open for its lifetime, instead of
// being reopened for every object read.
func openStorage(dir string) *filesystem.Storage {
	return filesystem.NewStorageWithOptions(osfs.New(dir), cache.NewObjectLRU(objectCacheSize),
		filesystem.Options{LargeObjectThreshold: largeObject, KeepDescriptors: true})
}

// refs returns the gate's refs (everything under refs/, symbolic refs
// excluded), as name → object.
func (r *repo) refs() (map[plumbing.ReferenceName]plumbing.Hash, error) {
	st := openStorage(r.dir)
	defer st.Close()
	iter, err := st.IterReferences()
	if err != nil {
		return nil, fmt.Errorf("read refs: %w", err)
	}
	out := map[plumbing.ReferenceName]plumbing.Hash{}
	err = iter.ForEach(func(ref *plumbing.Reference) error {
		if ref.Type() == plumbing.HashReference && strings.HasPrefix(ref.Name().String(), "refs/") {
			out[ref.Name()] = ref.Hash()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read refs: %w", err)
	}
	return out, nil
}

// refUpdate moves one ref from Old to New; a zero Old means the ref must not
// exist, a zero New deletes it.
type refUpdate struct {
	Name     plumbing.ReferenceName
	Old, New plumbing.Hash
}

// updateRefs applies all updates in one transaction, or none: git
// update-ref locks every ref and checks its old value first.
func (r *repo) updateRefs(ctx context.Context, updates []refUpdate) error {
	if len(updates) == 0 {
		return nil
	}
	sort.Slice(updates, func(i, j int) bool { return updates[i].Name < updates[j].Name })
	var in bytes.Buffer
	for _, u := range updates {
		switch {
		case u.New.IsZero():
			fmt.Fprintf(&in, "delete %s\x00%s\x00", u.Name, u.Old)
		case u.Old.IsZero():
			fmt.Fprintf(&in, "create %s\x00%s\x00", u.Name, u.New)
		default:
			fmt.Fprintf(&in, "update %s\x00%s\x00%s\x00", u.Name, u.New, u.Old)
		}
	}
	if _, err := runGit(ctx, r.dir, &in, nil, "update-ref", "--stdin", "-z"); err != nil {
		return fmt.Errorf("update refs: %w", err)
	}
	return nil
}

// setHead points HEAD at target if it does not already.
func (r *repo) setHead(ctx context.Context, target plumbing.ReferenceName) error {
	if target.Validate() != nil || !target.IsBranch() {
		return nil
	}
	cur, err := os.ReadFile(filepath.Join(r.dir, "HEAD"))
	if err == nil && strings.TrimSpace(string(cur)) == "ref: "+target.String() {
		return nil
	}
	if _, err := runGit(ctx, r.dir, nil, nil, "symbolic-ref", "HEAD", target.String()); err != nil {
		return fmt.Errorf("set HEAD: %w", err)
	}
	return nil
}

// hasObject reports whether the gate's object store holds h.
func hasObject(st *filesystem.Storage, h plumbing.Hash) (bool, error) {
	err := st.HasEncodedObject(h)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, plumbing.ErrObjectNotFound):
		return false, nil
	default:
		return false, err
	}
}

// rewinds reports whether updates delete a ref or move one to a commit
// that does not contain its old value: then objects the upstream may have
// dropped can stay on the gate. Unknown counts as a rewind.
func (r *repo) rewinds(ctx context.Context, updates []refUpdate) bool {
	for _, u := range updates {
		switch {
		case u.New.IsZero():
			return true
		case u.Old.IsZero():
			continue
		}
		if _, err := runGit(ctx, r.dir, nil, nil, "merge-base", "--is-ancestor", u.Old.String(), u.New.String()); err != nil {
			return true
		}
	}
	return false
}

// prune drops every object no ref of the gate reaches, packed or loose,
// so that the gate holds only what the upstream's refs reach: an object
// the upstream purged is then new again to a push (scanned, or refused
// as smuggled) and no longer served to fetches by id. Called with r's
// lock held.
func (r *repo) prune(ctx context.Context) error {
	// With --prune=now, gc repacks with -a (not -A): unreachable packed
	// objects are dropped, not loosened.
	if _, err := runGit(ctx, r.dir, nil, nil, "-c", "gc.reflogExpire=now", "-c", "gc.reflogExpireUnreachable=now",
		"gc", "--prune=now", "--quiet"); err != nil {
		r.needPrune = true
		return fmt.Errorf("prune unreachable objects: %w", err)
	}
	r.needPrune = false
	return nil
}
