package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// flakyWriter fails while broken is set.
type flakyWriter struct {
	mu     sync.Mutex
	broken bool
	buf    bytes.Buffer
}

func (f *flakyWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.broken {
		return 0, errors.New("no space left on device")
	}
	return f.buf.Write(p)
}

func (f *flakyWriter) set(broken bool) {
	f.mu.Lock()
	f.broken = broken
	f.mu.Unlock()
}

func record(rule string) contract.AuditRecord {
	return contract.AuditRecord{Time: time.Unix(1, 0).UTC(), Component: contract.ComponentEgress,
		Decision: contract.DecisionAllow, Rule: rule}
}

func logLines(t *testing.T, b *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// TestLostLinesAreCountedAndReportedOncePerBurst: a burst of write
// failures logs one error, every lost line is counted, and recovery is
// logged with the number lost.
func TestLostLinesAreCountedAndReportedOncePerBurst(t *testing.T) {
	var logBuf bytes.Buffer
	w := &flakyWriter{}
	l := New(w, slog.New(slog.NewJSONHandler(&logBuf, nil)))

	l.Write(record("a"))
	w.set(true)
	for range 5 {
		l.Write(record("lost"))
	}
	if got := l.Dropped(); got != 5 {
		t.Fatalf("Dropped = %d, want 5", got)
	}
	lines := logLines(t, &logBuf)
	if len(lines) != 1 || lines[0]["level"] != "ERROR" || !strings.Contains(lines[0]["err"].(string), "no space") {
		t.Fatalf("after one burst the log has %v, want one error naming the cause", lines)
	}
	w.set(false)
	l.Write(record("b"))
	lines = logLines(t, &logBuf)
	if len(lines) != 2 || lines[1]["level"] != "WARN" || lines[1]["lost"] != float64(5) {
		t.Fatalf("after recovery the log has %v, want a warning with lost=5", lines)
	}
	w.set(true)
	l.Write(record("again"))
	if lines = logLines(t, &logBuf); len(lines) != 3 || lines[2]["level"] != "ERROR" {
		t.Fatalf("a second burst was not reported: %v", lines)
	}
	if got := strings.Count(w.buf.String(), "\n"); got != 2 {
		t.Errorf("%d lines written, want 2", got)
	}
}

// TestUnencodableRecordIsCounted: a record JSON cannot carry is lost
// loudly too, not silently.
func TestUnencodableRecordIsCounted(t *testing.T) {
	var logBuf bytes.Buffer
	w := &flakyWriter{}
	l := New(w, slog.New(slog.NewJSONHandler(&logBuf, nil)))
	rec := record("nan")
	rec.DurationMS = math.NaN()
	l.Write(rec)
	if l.Dropped() != 1 || w.buf.Len() != 0 || !strings.Contains(logBuf.String(), "audit line lost") {
		t.Fatalf("Dropped=%d written=%q log=%q", l.Dropped(), w.buf.String(), logBuf.String())
	}
}

// TestConcurrentLinesStayWhole: lines written at once never interleave.
func TestConcurrentLinesStayWhole(t *testing.T) {
	w := &flakyWriter{}
	l := New(w, slog.New(slog.DiscardHandler))
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.Write(record(strings.Repeat("x", i)))
		}()
	}
	wg.Wait()
	for _, line := range strings.Split(strings.TrimSpace(w.buf.String()), "\n") {
		var rec contract.AuditRecord
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("line %q is not one record: %v", line, err)
		}
	}
}
