package gitgate

import (
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// fingerprint returns the fingerprint that names f in a dlp-block proposal
// and in the gate file's dlp_exceptions. Only a line of a file in a commit
// has one: a commit message, an identity, a file name, a tag or an object
// a ref points at directly is the agent's to change (reword, rename,
// retag), never the operator's to let through. Nor does a file whose path
// no fingerprint can carry (see contract.ValidFingerprintPath).
func (f finding) fingerprint() (contract.Fingerprint, bool) {
	if !f.File || f.Commit.IsZero() {
		return contract.Fingerprint{}, false
	}
	fp := contract.Fingerprint{Commit: f.Commit.String(), Path: f.Where, Rule: f.Rule, Line: f.Line}
	return fp, fp.Validate() == nil
}

// exceptionSet is one repository's DLP exceptions.
type exceptionSet map[contract.Fingerprint]bool

// exceptions hands out the operator's DLP exceptions per repository.
//
// The operator approves an exception on the host while the gate runs, by
// rewriting the gate file (atomically, in the config directory the gate
// sees). The gate rereads that file whenever a push has findings, before
// it decides: no signal, watcher or restart is involved, a push without
// findings costs nothing, and the decision always uses the file as it is
// at that moment. Only dlp_exceptions are taken from the reread file;
// repositories, upstreams and keys stay as they were at start. A file that
// cannot be read or does not validate is logged and the exceptions last
// read stand, as egress keeps its last good routes.
type exceptions struct {
	path string // the gate file; "": keep the exceptions given at start
	log  *slog.Logger

	mu   sync.Mutex              // guards last and serialises rereads
	last map[string]exceptionSet // repo → exceptions, from the last gate file that validated
}

func newExceptions(path string, gate *contract.GateFile, log *slog.Logger) *exceptions {
	return &exceptions{path: path, log: log, last: exceptionsOf(gate)}
}

func exceptionsOf(gate *contract.GateFile) map[string]exceptionSet {
	out := map[string]exceptionSet{}
	for _, r := range gate.Repos {
		set := exceptionSet{}
		for _, fp := range r.DLPExceptions {
			set[fp] = true
		}
		out[r.Name] = set
	}
	return out
}

// forRepo rereads the gate file and returns repo's exceptions.
func (e *exceptions) forRepo(repo string) exceptionSet {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.path != "" {
		if gate, err := readGateFile(e.path); err != nil {
			e.log.Warn("reread gate file for DLP exceptions; keeping the ones read before", "file", e.path, "err", err)
		} else {
			e.last = exceptionsOf(gate)
		}
	}
	return e.last[repo]
}

// readGateFile reads and validates the gate file at path.
func readGateFile(path string) (*contract.GateFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read gate file: %w", err)
	}
	gate, err := contract.ParseGate(data)
	if err != nil {
		return nil, fmt.Errorf("gate file %s: %w", path, err)
	}
	return gate, nil
}
