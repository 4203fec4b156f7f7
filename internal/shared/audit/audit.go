// Package audit writes a sidecar's decisions as JSON lines (one
// contract.AuditRecord per line), the record the operator reads back with
// `bot-bottle logs --audit`. Egress and the git gate share it.
//
// An audit line is never dropped silently. A record that cannot be
// encoded or written is counted (Dropped, served on the admin port), and
// the first failure of a burst is logged at error level with the reason;
// further failures stay quiet until a write succeeds again, which is
// logged with how many lines were lost. A full disk so never floods the
// daemon's own log, and never goes unnoticed.
package audit

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// Log writes audit records to an io.Writer, one Write per line.
type Log struct {
	log     *slog.Logger
	dropped atomic.Int64

	mu   sync.Mutex // serialises lines; guards w and lost
	w    io.Writer
	lost int64 // lines lost in the current burst of failures; 0: none
}

// New returns a Log writing to w; failures are reported on log.
func New(w io.Writer, log *slog.Logger) *Log { return &Log{w: w, log: log} }

// Write appends rec as one line.
func (l *Log) Write(rec contract.AuditRecord) {
	line, err := rec.MarshalLine()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err == nil {
		_, err = l.w.Write(line)
	}
	if err != nil {
		l.dropped.Add(1)
		if l.lost == 0 {
			l.log.Error("audit line lost; further losses are counted quietly until a write succeeds",
				"component", rec.Component, "rule", rec.Rule, "err", err.Error())
		}
		l.lost++
		return
	}
	if l.lost > 0 {
		l.log.Warn("audit lines are written again", "lost", l.lost)
		l.lost = 0
	}
}

// Dropped is how many lines were lost since the Log was made.
func (l *Log) Dropped() int64 { return l.dropped.Load() }

// StatsHandler serves GET /stats on a sidecar's admin port:
// {"audit_dropped": N}, the lines lost since start.
func (l *Log) StatsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(struct {
			AuditDropped int64 `json:"audit_dropped"`
		}{l.Dropped()})
	})
}
