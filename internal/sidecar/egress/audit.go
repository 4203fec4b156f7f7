package egress

import (
	"time"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

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
