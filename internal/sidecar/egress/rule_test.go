package egress

import (
	"testing"
	"time"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// The rule ids are the audit log's vocabulary: whoever reads the log
// matches on them, so each is pinned here, with the decision its record
// carries.
func TestRuleIDsAreStableInTheAuditRecord(t *testing.T) {
	for _, c := range []struct {
		rule     Rule
		status   int
		wire     string
		decision contract.Decision
	}{
		{RuleAllow, 200, "allow", contract.DecisionAllow},
		{RuleNoRoute, 403, "no-route", contract.DecisionDeny},
		{RuleBadHost, 400, "bad-host", contract.DecisionDeny},
		{RuleHostMismatch, 421, "host-mismatch", contract.DecisionDeny},
		{RuleAuthNeedsTLS, 403, "auth-needs-tls", contract.DecisionDeny},
		{RuleBadPath, 400, "bad-path", contract.DecisionDeny},
		{RuleGitReceivePack, 403, "git-receive-pack", contract.DecisionDeny},
		{RulePathNotAllowed, 403, "path-not-allowed", contract.DecisionDeny},
		{RuleMethodNotAllowed, 405, "method-not-allowed", contract.DecisionDeny},
		{RulePortNotAllowed, 403, "port-not-allowed", contract.DecisionDeny},
		{RulePassthrough, 200, "passthrough", contract.DecisionAllow},
		{RuleTunnelCap, 503, "tunnel-cap", contract.DecisionError},
		{RuleUpstream, 502, "upstream", contract.DecisionError},
		{RuleSSRF, 403, "ssrf", contract.DecisionDeny},
		{RuleDLPBudget, 403, "dlp-budget", contract.DecisionDeny},
		{RuleEncoding, 415, "unscannable-encoding", contract.DecisionDeny},
		{RuleTooLarge, 413, "body-too-large", contract.DecisionDeny},
		{DLPRule("github-pat"), 403, "dlp:github-pat", contract.DecisionDeny},
	} {
		t.Run(c.wire, func(t *testing.T) {
			if c.rule.String() != c.wire {
				t.Fatalf("%q.String() = %q, want %q", c.rule, c.rule.String(), c.wire)
			}
			rec := auditRecord{method: "GET", host: "h.test", start: time.Now()}.done(c.status, c.rule, "", 0, 0)
			if rec.Rule != c.wire || rec.Decision != c.decision {
				t.Fatalf("audit record rule %q, decision %s; want %q, %s", rec.Rule, rec.Decision, c.wire, c.decision)
			}
		})
	}
}
