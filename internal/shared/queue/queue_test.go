package queue

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

func proposal(t *testing.T) *contract.Proposal {
	t.Helper()
	return &contract.Proposal{Version: 1, ID: contract.NewProposalID(), Bottle: "dev", Tool: contract.ToolEgressBlock,
		Payload: json.RawMessage(`{"host":"api.example.test"}`), Justification: "need the API", CreatedAt: time.Now().UTC()}
}

func TestPutGetRespondWait(t *testing.T) {
	q := Queue{Dir: filepath.Join(t.TempDir(), "queue", "dev")}
	p := proposal(t)
	if err := q.Put(p); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(q.Dir, contract.ProposalFileName(p.ID)))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("proposal file mode %v (%v), want 0600", info.Mode(), err)
	}
	if dir, _ := os.Stat(q.Dir); dir.Mode().Perm() != 0o700 {
		t.Errorf("queue dir mode %v, want 0700", dir.Mode().Perm())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if r, err := q.Wait(ctx, p.ID, 5*time.Millisecond); r != nil || err != nil {
		t.Fatalf("Wait on a pending proposal = %v, %v; want nil, nil", r, err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	var got *contract.Response
	go func() {
		defer wg.Done()
		got, _ = q.Wait(t.Context(), p.ID, 5*time.Millisecond)
	}()
	resp := &contract.Response{Version: 1, ID: p.ID, Status: contract.StatusApproved, DecidedAt: time.Now().UTC()}
	if err := q.Respond(resp); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if got == nil || got.Status != contract.StatusApproved {
		t.Fatalf("Wait = %+v", got)
	}
	if err := q.Respond(resp); !errors.Is(err, ErrDecided) {
		t.Errorf("second response = %v, want ErrDecided", err)
	}
	entries, err := q.List()
	if err != nil || len(entries) != 1 || entries[0].Status() != contract.StatusApproved {
		t.Errorf("List = %+v, %v", entries, err)
	}
}

func TestRefusesInvalidRecordsAndUnknownIDs(t *testing.T) {
	q := Queue{Dir: t.TempDir()}
	bad := proposal(t)
	bad.Justification = ""
	if err := q.Put(bad); err == nil {
		t.Fatal("proposal without a justification accepted")
	}
	if _, err := q.Get("../../etc/passwd"); !errors.Is(err, ErrNotFound) {
		t.Errorf("path-like id = %v, want ErrNotFound", err)
	}
	r := &contract.Response{Version: 1, ID: contract.NewProposalID(), Status: contract.StatusApproved, DecidedAt: time.Now()}
	if err := q.Respond(r); !errors.Is(err, ErrNotFound) {
		t.Errorf("response to nothing = %v, want ErrNotFound", err)
	}
	if names, _ := os.ReadDir(q.Dir); len(names) != 0 {
		t.Errorf("refused writes left files: %v", names)
	}
}

func TestConcurrentResponsesOnlyOneWins(t *testing.T) {
	q := Queue{Dir: t.TempDir()}
	p := proposal(t)
	if err := q.Put(p); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := contract.StatusApproved
			notes := ""
			if i%2 == 1 {
				st, notes = contract.StatusRejected, "no"
			}
			if q.Respond(&contract.Response{Version: 1, ID: p.ID, Status: st, Notes: notes, DecidedAt: time.Now()}) == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d responses were written, want exactly 1", wins)
	}
}

// TestRootWritesAsTheQueueOwner: the operator's CLI run as root answers a
// proposal in a queue owned by the sidecar user (render gives it to
// 65532); the answer must belong to that user, who reads it at 0600.
func TestRootWritesAsTheQueueOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to hand files to another user")
	}
	const sidecar = 65532
	q := Queue{Dir: filepath.Join(t.TempDir(), "queue")}
	if err := os.Mkdir(q.Dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(q.Dir, sidecar, sidecar); err != nil {
		t.Fatal(err)
	}
	p := proposal(t)
	if err := q.Put(p); err != nil {
		t.Fatal(err)
	}
	if err := q.Respond(&contract.Response{Version: 1, ID: p.ID, Status: contract.StatusApproved, DecidedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{contract.ProposalFileName(p.ID), contract.ResponseFileName(p.ID)} {
		info, err := os.Stat(filepath.Join(q.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		st := info.Sys().(*syscall.Stat_t)
		if st.Uid != sidecar || st.Gid != sidecar || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: owner %d:%d mode %v, want %d:%d 0600", name, st.Uid, st.Gid, info.Mode().Perm(), sidecar, sidecar)
		}
	}
	// A queue root owns keeps root's files.
	own := Queue{Dir: filepath.Join(t.TempDir(), "own")}
	if err := own.Put(proposal(t)); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(own.Dir)
	for _, e := range entries {
		info, _ := e.Info()
		if st := info.Sys().(*syscall.Stat_t); st.Uid != 0 {
			t.Errorf("%s in root's queue is owned by %d", e.Name(), st.Uid)
		}
	}
}
