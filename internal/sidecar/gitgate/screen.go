package gitgate

import (
	"context"
	"fmt"
	"time"
)

// maxFindingsShown bounds the finding lines a rejected push prints.
const maxFindingsShown = 50

// screen refuses the push if its pack smuggles objects no pushed ref
// reaches, or if what it introduces holds a possible secret. It reports
// whether the push may go on to the upstream.
func (p *pushContext) screen(ctx context.Context) bool {
	// Everything the pack carries is scanned, also for refs refused by
	// checkCommand (a stale client's pack still reaches the upstream with
	// the rest), so that only objects no pushed ref reaches count as
	// smuggled.
	var walk []command
	for _, c := range p.req.Commands {
		if !c.isDelete() && p.st.HasEncodedObject(c.New) == nil {
			walk = append(walk, c)
		}
	}
	plan, smuggled, isNew, err := p.introduced(walk)
	if err != nil {
		p.internalFailure(err)
		return false
	}
	o, reply := p.out, p.reply
	if smuggled > 0 {
		o.rejectAll("pack has objects no pushed ref reaches")
		o.decision, o.reason = ruleSmuggled, fmt.Sprintf("%d objects unreachable from the pushed refs", smuggled)
		reply.say("push refused: the pack holds %d objects that none of the pushed refs reach.", smuggled)
		reply.say("Every object pushed must be part of a pushed branch or tag, so that the gate scans it.")
		return false
	}
	if len(plan.commits)+len(plan.tags)+len(plan.trees)+len(plan.blobs) > 0 {
		reply.say("scanning %s for secrets", plural(len(plan.commits), "new commit"))
	}
	start := time.Now()
	findings, stats, err := scan(ctx, p.st, plan, isNew)
	if err != nil {
		p.internalFailure(fmt.Errorf("scan: %w", err))
		return false
	}
	p.log.Info("push scanned", "repo", p.repo.name, "commits", len(plan.commits), "fragments", stats.Fragments,
		"bytes", stats.Bytes, "binary_skipped", stats.Binary, "findings", len(findings),
		"duration_ms", time.Since(start).Milliseconds())
	if len(findings) == 0 {
		return true
	}
	reply.say("push rejected: %s in what this push adds:", plural(len(findings), "possible secret"))
	for i, f := range findings {
		if i == maxFindingsShown {
			reply.say("  ... and %d more", len(findings)-i)
			break
		}
		reply.say("  %s", f)
	}
	reply.say("Remove them from those commits (git rebase -i, git commit --amend) and push again.")
	reply.say("If one is not a secret, ask the operator for a DLP exception with the dlp-block tool (supervise).")
	o.rejectAll("secret detected; see the remote: lines above")
	o.decision = ruleSecret + findings[0].Rule
	o.reason = fmt.Sprintf("%d findings, first: %s", len(findings), findings[0])
	return false
}
