// Package queue is the proposal queue shared by the supervise sidecar and
// the operator's CLI: one directory per bottle holding <id>.proposal.json
// files (written by supervise) and <id>.response.json files (written by the
// operator). Files are written atomically (temporary file, fsync, rename),
// mode 0600, so a reader never sees half a record and a crash loses
// nothing that was acknowledged. Files are read as untrusted: only regular
// files, never through a symbolic link, and at most
// contract.MaxProposalFileBytes or contract.MaxResponseFileBytes, so a
// named pipe, a link to /dev/zero or a huge file planted in the directory
// is one bad entry, not a hung or exhausted reader.
package queue

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/shared/fileinfo"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// ErrNotFound means no proposal has the given id.
var ErrNotFound = errors.New("no such proposal")

// ErrDecided means the proposal already has a response.
var ErrDecided = errors.New("proposal already decided")

// Queue is one bottle's queue directory.
type Queue struct {
	// Dir is the directory; it is created (0700) on first write.
	Dir string
}

// Entry is a proposal and, once decided, its response.
type Entry struct {
	Proposal *contract.Proposal
	// Response is nil while the proposal is pending.
	Response *contract.Response
}

// Status is the entry's status: pending until a response exists.
func (e Entry) Status() contract.Status {
	if e.Response == nil {
		return contract.StatusPending
	}
	return e.Response.Status
}

// Put validates and writes a new proposal.
func (q Queue) Put(p *contract.Proposal) error {
	if err := p.Validate(); err != nil {
		return fmt.Errorf("invalid proposal: %w", err)
	}
	data, err := encode(p, contract.MaxProposalFileBytes)
	if err != nil {
		return fmt.Errorf("invalid proposal: %w", err)
	}
	// Write only what reads back: the reader parses the file, not p.
	if _, err := contract.ParseProposal(data); err != nil {
		return fmt.Errorf("invalid proposal once encoded: %w", err)
	}
	return q.writeNew(contract.ProposalFileName(p.ID), data)
}

// Respond validates and writes the response to a pending proposal.
func (q Queue) Respond(r *contract.Response) error {
	if err := r.Validate(); err != nil {
		return fmt.Errorf("invalid response: %w", err)
	}
	if _, err := q.Get(r.ID); err != nil {
		return err
	}
	data, err := encode(r, contract.MaxResponseFileBytes)
	if err != nil {
		return fmt.Errorf("invalid response: %w", err)
	}
	if _, err := contract.ParseResponse(data); err != nil {
		return fmt.Errorf("invalid response once encoded: %w", err)
	}
	if err := q.writeNew(contract.ResponseFileName(r.ID), data); errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w: %s", ErrDecided, r.ID)
	} else if err != nil {
		return err
	}
	return nil
}

// encode writes a record as indented JSON of at most limit bytes. '<',
// '>' and '&' stay as they are (json.Marshal would make each six bytes),
// which keeps the files readable and their size near the fields' limits.
func encode(v any, limit int) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if b.Len() > limit {
		return nil, fmt.Errorf("it encodes to %d bytes; the limit is %d", b.Len(), limit)
	}
	return b.Bytes(), nil
}

// Get reads one entry.
func (q Queue) Get(id string) (*Entry, error) {
	if err := contract.ValidProposalID(id); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	data, err := readRecord(filepath.Join(q.Dir, contract.ProposalFileName(id)), contract.MaxProposalFileBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("read proposal %s: %w", id, err)
	}
	p, err := contract.ParseProposal(data)
	if err != nil {
		return nil, fmt.Errorf("proposal file %s: %w", id, err)
	}
	e := &Entry{Proposal: p}
	data, err = readRecord(filepath.Join(q.Dir, contract.ResponseFileName(id)), contract.MaxResponseFileBytes)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("read response %s: %w", id, err)
	default:
		if e.Response, err = contract.ParseResponse(data); err != nil {
			return nil, fmt.Errorf("response file %s: %w", id, err)
		}
	}
	return e, nil
}

// List returns every entry, oldest first. A missing directory is empty.
// Unreadable or invalid files are reported together after the good ones.
func (q Queue) List() ([]*Entry, error) { return q.list(false) }

// ListPending returns the entries with no response yet, oldest first. It
// reads only their files: a decided proposal costs a name in the listing.
func (q Queue) ListPending() ([]*Entry, error) { return q.list(true) }

func (q Queue) list(pendingOnly bool) ([]*Entry, error) {
	ids, answered, err := q.names()
	if err != nil {
		return nil, err
	}
	var out []*Entry
	var errs []error
	for _, id := range ids {
		if pendingOnly && answered[id] {
			continue
		}
		e, err := q.Get(id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Proposal.CreatedAt.Before(out[j].Proposal.CreatedAt) })
	return out, errors.Join(errs...)
}

// Pending counts the proposals that have no response yet. It only lists
// the directory's names and reads no file, so it is cheap enough to run
// before every new proposal. Every name ending in ".proposal.json" counts,
// even one that would not read as a proposal: a broken entry still takes
// a place until the operator removes it. A missing directory has none.
func (q Queue) Pending() (int, error) {
	ids, answered, err := q.names()
	if err != nil {
		return 0, err
	}
	pending := 0
	for _, id := range ids {
		if !answered[id] {
			pending++
		}
	}
	return pending, nil
}

// names lists the queue's proposal ids and which of them have a response,
// from the directory's names alone. A missing directory is empty.
func (q Queue) names() (ids []string, answered map[string]bool, err error) {
	d, err := os.Open(q.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("list queue %s: %w", q.Dir, err)
	}
	defer d.Close()
	all, err := d.Readdirnames(-1)
	if err != nil {
		return nil, nil, fmt.Errorf("list queue %s: %w", q.Dir, err)
	}
	answered = make(map[string]bool)
	for _, n := range all {
		if id, ok := strings.CutSuffix(n, responseSuffix); ok {
			answered[id] = true
		} else if id, ok := strings.CutSuffix(n, proposalSuffix); ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids, answered, nil
}

// Wait polls for the response to id until ctx ends; it returns nil, nil
// if the context ended first (the proposal stays pending).
func (q Queue) Wait(ctx context.Context, id string, poll time.Duration) (*contract.Response, error) {
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		e, err := q.Get(id)
		if err != nil {
			return nil, err
		}
		if e.Response != nil {
			return e.Response, nil
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-t.C:
		}
	}
}

// The suffixes of the names contract.ProposalFileName and
// contract.ResponseFileName give.
var (
	proposalSuffix = contract.ProposalFileName("")
	responseSuffix = contract.ResponseFileName("")
)

// readRecord reads the queue file at path, of at most limit bytes. The
// queue directory is shared with the supervise sidecar, so whatever is at
// path may have been put there to hurt the reader: fileinfo.ReadRegular
// takes only a regular file (no symbolic link, named pipe or device) no
// larger than limit. A missing file is an error matching fs.ErrNotExist.
func readRecord(path string, limit int64) ([]byte, error) {
	return fileinfo.ReadRegular(path, limit)
}

// writeNew writes name atomically; it fails with fs.ErrExist if name
// exists (a decision is never overwritten).
func (q Queue) writeNew(name string, data []byte) error {
	if err := os.MkdirAll(q.Dir, 0o700); err != nil {
		return fmt.Errorf("create queue %s: %w", q.Dir, err)
	}
	tmp, err := os.CreateTemp(q.Dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if err := ownLikeDir(tmp, q.Dir); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// Link, not rename: linking fails if the name exists, so two writers
	// can never both "win".
	if err := os.Link(tmp.Name(), filepath.Join(q.Dir, name)); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%s: %w", name, fs.ErrExist)
		}
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// ownLikeDir gives f to the owner of the queue directory when the writer is
// root. The queue is shared through a bind mount: supervise writes in it
// as the sidecar user, the operator's CLI as whoever runs it. A 0600 answer
// written by root would be unreadable to supervise, so root hands its files
// to the directory's owner (whom render made the sidecar user). A
// non-root writer already is that owner, or cannot give files away.
func ownLikeDir(f *os.File, dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 {
		return nil
	}
	if err := f.Chown(int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("give %s to the queue's owner (uid %d): %w", f.Name(), st.Uid, err)
	}
	return nil
}
