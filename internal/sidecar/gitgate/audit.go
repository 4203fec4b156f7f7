package gitgate

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// Audit rule ids of push verdicts.
const (
	ruleAccepted     = "accepted"
	ruleSecret       = "gitleaks:" // + the first finding's rule id
	ruleSmuggled     = "unreachable-objects"
	ruleTooLarge     = "pack-too-large"
	ruleBadPack      = "bad-pack"
	ruleRefCheck     = "ref-check"
	ruleUpstream     = "upstream"
	ruleUpstreamDeny = "upstream-rejected"
	ruleInternal     = "internal-error"
	ruleCancelled    = "client-gone"
)

func (s *Server) auditPush(r *http.Request, lg *requestLog, start time.Time, status int, in int64) {
	o := lg.push
	d := contract.DecisionDeny
	switch {
	case o.accepted() > 0:
		d = contract.DecisionAllow
	case strings.HasPrefix(o.decision, ruleUpstream) || o.decision == ruleInternal:
		d = contract.DecisionError
	}
	var refs []string
	for _, ref := range o.order {
		st := o.status[ref]
		if st == "" {
			st = "ok"
		}
		refs = append(refs, scrub(ref)+" "+st)
	}
	reason := o.reason
	if o.excepted > 0 {
		reason += fmt.Sprintf("; %s let through by DLP exceptions", plural(o.excepted, "finding"))
	}
	host := ""
	if rp := s.repos[lg.repo]; rp != nil {
		host = rp.up.url.Host
	}
	s.audit.Write(contract.AuditRecord{
		Time: start.UTC(), Component: contract.ComponentGitGate,
		Method: r.Method, Host: host, Path: lg.path(r),
		Decision: d, Rule: o.decision, Reason: scrub(reason) + "; " + strings.Join(refs, ", "),
		Status: status, BytesIn: in,
		DurationMS: float64(time.Since(start).Microseconds()) / 1000,
	})
}
