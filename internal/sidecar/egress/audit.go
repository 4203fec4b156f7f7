package egress

import (
	"io"
	"sync"
	"time"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// auditor writes one JSON line per decision. Lines never hold a query
// string, a header value or a body.
type auditor struct {
	mu sync.Mutex // serialises lines
	w  io.Writer
}

func newAuditor(w io.Writer) *auditor { return &auditor{w: w} }

func (a *auditor) write(rec contract.AuditRecord) {
	line, err := rec.MarshalLine()
	if err != nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	_, _ = a.w.Write(line)
}

// auditRecord collects one request's facts as it is handled.
type auditRecord struct {
	method, host, path string
	start              time.Time
}

func (r auditRecord) done(status int, rule Rule, reason string, in, out int64) contract.AuditRecord {
	d := contract.DecisionDeny
	switch {
	case rule.allows():
		d = contract.DecisionAllow
	case status == 0 || status >= 500:
		d = contract.DecisionError
	}
	return contract.AuditRecord{
		Time: r.start.UTC(), Component: contract.ComponentEgress,
		Method: r.method, Host: r.host, Path: r.path,
		Decision: d, Rule: rule.String(), Reason: reason, Status: status,
		BytesIn: in, BytesOut: out,
		DurationMS: float64(time.Since(r.start).Microseconds()) / 1000,
	}
}
