package queue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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

// listWithin runs q.List, failing the test if it does not return: a
// reader that blocks on a named pipe never would. The limit is a guard
// against hanging the whole run, not a measure of speed.
func listWithin(t *testing.T, q Queue) ([]*Entry, error) {
	t.Helper()
	type result struct {
		entries []*Entry
		err     error
	}
	done := make(chan result, 1)
	go func() {
		e, err := q.List()
		done <- result{e, err}
	}()
	select {
	case r := <-done:
		return r.entries, r.err
	case <-time.After(time.Minute):
		t.Fatal("List did not return: it is stuck on a queue entry")
		return nil, nil
	}
}

// releaseFIFO opens path for writing without blocking, which lets a
// reader stuck in open(2) on it go on (and fails harmlessly otherwise).
func releaseFIFO(path string) {
	if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
		f.Close()
	}
}

// TestHostileQueueEntriesAreBadEntries plants, next to a good proposal,
// what a writer of the queue directory could use to hang or exhaust the
// operator's CLI: a named pipe, a symbolic link to /dev/zero, a file over
// the size limit (valid JSON, so only the limit refuses it), a directory.
// Each must be reported as a bad entry at once, and the good one listed.
func TestHostileQueueEntriesAreBadEntries(t *testing.T) {
	oversize := func(t *testing.T, path string) {
		data, err := json.Marshal(proposal(t))
		if err != nil {
			t.Fatal(err)
		}
		pad := contract.MaxProposalFileBytes + 1 - len(data)
		data = append(data, []byte(strings.Repeat(" ", pad))...)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		file  string // which file of the bad id is planted
		plant func(t *testing.T, path string)
		want  string
	}{
		{"named pipe as proposal", "proposal", func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { releaseFIFO(path) })
		}, "is a named pipe, not a regular file"},
		{"named pipe as response", "response", func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { releaseFIFO(path) })
		}, "is a named pipe, not a regular file"},
		{"symlink to /dev/zero as proposal", "proposal", func(t *testing.T, path string) {
			if err := os.Symlink("/dev/zero", path); err != nil {
				t.Fatal(err)
			}
		}, "is a symbolic link"},
		{"symlink to /dev/zero as response", "response", func(t *testing.T, path string) {
			if err := os.Symlink("/dev/zero", path); err != nil {
				t.Fatal(err)
			}
		}, "is a symbolic link"},
		{"oversize proposal", "proposal", oversize, fmt.Sprintf("the limit is %d", contract.MaxProposalFileBytes)},
		{"directory as proposal", "proposal", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, "is a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := Queue{Dir: t.TempDir()}
			good := proposal(t)
			if err := q.Put(good); err != nil {
				t.Fatal(err)
			}
			bad := proposal(t)
			name := contract.ProposalFileName(bad.ID)
			if tc.file == "response" {
				if err := q.Put(bad); err != nil {
					t.Fatal(err)
				}
				name = contract.ResponseFileName(bad.ID)
			}
			tc.plant(t, filepath.Join(q.Dir, name))

			entries, err := listWithin(t, q)
			if err == nil || !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("List error = %v; want it to name %s and say %q", err, name, tc.want)
			}
			if len(entries) != 1 || entries[0].Proposal.ID != good.ID {
				t.Errorf("List = %d entries; want only the good proposal %s", len(entries), good.ID)
			}
			if _, err := q.Get(bad.ID); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Get(bad) = %v; want an error saying %q", err, tc.want)
			}
		})
	}
}

// TestLargestProposalsAndResponsesFit: the file size limits hold the
// largest records the contract allows, encoded as the queue writes them,
// and what the queue writes reads back.
func TestLargestProposalsAndResponsesFit(t *testing.T) {
	q := Queue{Dir: t.TempDir()}
	// The largest capability-block supervise can make: 64 apt packages
	// and 64 Dockerfile lines (the most list entries, so the most
	// indentation), the lines as long as the payload limit allows as
	// json.Marshal writes them, and a justification of characters JSON
	// writes as 6 bytes each.
	pl := &contract.CapabilityBlockPayload{}
	for i := range 64 {
		pl.AptPackages = append(pl.AptPackages, fmt.Sprintf("p%d", i))
	}
	var raw []byte
	for n := 1000; ; {
		pl.DockerfileLines = make([]string, 64)
		for i := range pl.DockerfileLines {
			pl.DockerfileLines[i] = "RUN " + strings.Repeat("é", n-4)
		}
		var err error
		if raw, err = json.Marshal(pl); err != nil {
			t.Fatal(err)
		}
		over := len(raw) - contract.MaxPayloadBytes
		if over <= 0 {
			break
		}
		n -= (over + 127) / 128 // each character is 2 bytes in 64 lines
	}
	if len(raw) < contract.MaxPayloadBytes-256 {
		t.Fatalf("the test payload is only %d bytes", len(raw))
	}
	big := proposal(t)
	big.Tool, big.Payload = contract.ToolCapabilityBlock, raw
	big.Justification = strings.Repeat("🙂", contract.MaxJustificationLen)
	if err := q.Put(big); err != nil {
		t.Fatalf("largest proposal: %v", err)
	}
	info, err := os.Stat(filepath.Join(q.Dir, contract.ProposalFileName(big.ID)))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("largest proposal file: %d bytes of %d", info.Size(), contract.MaxProposalFileBytes)
	// Quotes are written as two bytes each.
	diff := strings.Repeat(`"`, contract.MaxAppliedDiffBytes)
	edited := `{"apt_packages":["` + strings.Repeat(`\"`, (contract.MaxPayloadBytes-21)/2) + `"]}`
	resp := &contract.Response{Version: 1, ID: big.ID, Status: contract.StatusEdited, Notes: strings.Repeat("🙂", contract.MaxNotesLen),
		Payload: json.RawMessage(edited), AppliedDiff: diff, DecidedAt: time.Now().UTC()}
	if err := q.Respond(resp); err != nil {
		t.Fatalf("largest response: %v", err)
	}
	e, err := q.Get(big.ID)
	if err != nil || e.Response == nil || e.Response.AppliedDiff != diff {
		t.Fatalf("reading the largest records back: %v", err)
	}
}

func TestPendingCountsNamesOnly(t *testing.T) {
	q := Queue{Dir: filepath.Join(t.TempDir(), "q")}
	if n, err := q.Pending(); n != 0 || err != nil {
		t.Fatalf("Pending of a missing queue = %d, %v", n, err)
	}
	open1, open2, decided := proposal(t), proposal(t), proposal(t)
	for _, p := range []*contract.Proposal{open1, open2, decided} {
		if err := q.Put(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Respond(&contract.Response{Version: 1, ID: decided.ID, Status: contract.StatusApproved, DecidedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{
		"garbage.proposal.json": "not json", // unreadable, but it takes a place
		"orphan.response.json":  "{}",       // answers nothing
		".tmp-123":              "partial",
		"notes.txt":             "x",
	} {
		if err := os.WriteFile(filepath.Join(q.Dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := q.Pending(); n != 3 || err != nil {
		t.Errorf("Pending = %d, %v; want 3 (two open proposals and the garbage one)", n, err)
	}
}

// TestListPendingReadsOnlyPendingFiles: a decided proposal costs
// ListPending a name, never a read, so a damaged decided file does not
// show there; List, which reads everything, reports it.
func TestListPendingReadsOnlyPendingFiles(t *testing.T) {
	q := Queue{Dir: filepath.Join(t.TempDir(), "queue")}
	pending, decided := proposal(t), proposal(t)
	for _, p := range []*contract.Proposal{pending, decided} {
		if err := q.Put(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Respond(&contract.Response{Version: 1, ID: decided.ID, Status: contract.StatusRejected, Notes: "no", DecidedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(q.Dir, contract.ProposalFileName(decided.ID)), []byte("not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := q.ListPending()
	if err != nil || len(got) != 1 || got[0].Proposal.ID != pending.ID {
		t.Fatalf("ListPending = %d entries, %v; want just %s and no error", len(got), err, pending.ID)
	}
	if all, err := q.List(); err == nil || len(all) != 1 {
		t.Fatalf("List = %d entries, %v; want the pending one and an error for the damaged file", len(all), err)
	}
}
