package gitgate

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// scanBudget bounds the scan of one push.
type scanBudget struct {
	bytes int64         // of text handed to gitleaks
	time  time.Duration // wall time
}

// walked are the commands whose new objects are walked: everything the
// pack carries is scanned, also for refs refused by checkCommand (a
// stale client's pack still reaches the upstream with the rest), so
// that only objects no pushed ref reaches count as smuggled.
func (p *pushContext) walked() []command {
	var walk []command
	for _, c := range p.req.Commands {
		if !c.isDelete() && p.st.HasEncodedObject(c.New) == nil {
			walk = append(walk, c)
		}
	}
	return walk
}

// recheck runs under the repository's lock, after a scan made without
// it: if the gate's refs moved meanwhile (a refresh, another push), the
// commands are checked again against them, and what the push introduces
// now must be no more than what was scanned; otherwise the push is
// refused, to be pushed again.
func (p *pushContext) recheck() bool {
	refs, err := p.repo.refs()
	if err != nil {
		p.internalFailure(err)
		return false
	}
	if maps.Equal(refs, p.refs) {
		return true
	}
	p.close()
	if !p.open() {
		p.gate = nil
		return false
	}
	p.valid = nil
	for _, c := range p.req.Commands {
		p.out.status[c.Name.String()] = ""
	}
	if !p.checkCommands() {
		return false
	}
	plan, smuggled, _, err := p.introduced(p.walked())
	if err != nil {
		p.internalFailure(err)
		return false
	}
	if smuggled > 0 || !plan.within(p.plan) {
		p.out.rejectAll("the gate's refs moved during the scan; push again")
		p.out.decision, p.out.reason = ruleRefCheck, "refs moved during the scan"
		p.reply.say("push refused: the gate's refs changed while this push was scanned; fetch and push again.")
		return false
	}
	return true
}

// within reports whether everything a introduces is also in b.
func (a scanPlan) within(b scanPlan) bool {
	have := map[plumbing.Hash]bool{}
	for _, c := range b.commits {
		have[c.Hash] = true
	}
	for _, t := range b.tags {
		have[t.Hash] = true
	}
	for _, h := range append(b.trees, b.blobs...) {
		have[h] = true
	}
	nets := map[netDiff]bool{}
	for _, n := range b.nets {
		nets[n] = true
	}
	for _, c := range a.commits {
		if !have[c.Hash] {
			return false
		}
	}
	for _, t := range a.tags {
		if !have[t.Hash] {
			return false
		}
	}
	for _, h := range append(a.trees, a.blobs...) {
		if !have[h] {
			return false
		}
	}
	for _, n := range a.nets {
		if !nets[n] {
			return false
		}
	}
	return true
}

// maxFindingsShown bounds the finding lines a rejected push prints.
const maxFindingsShown = 50

// screen refuses the push if its pack smuggles objects no pushed ref
// reaches, or if what it introduces holds a possible secret. It reports
// whether the push may go on to the upstream.
func (p *pushContext) screen(ctx context.Context) bool {
	plan, smuggled, isNew, err := p.introduced(p.walked())
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
	p.log.Info("push scan started", "repo", p.repo.name, "commits", len(plan.commits))
	sctx, cancel := context.WithTimeout(ctx, p.budget.time)
	defer cancel()
	findings, stats, err := scan(sctx, p.st, plan, isNew, p.budget.bytes)
	switch {
	case err == nil:
		p.plan = plan
	case ctx.Err() != nil:
		// The client went away: nobody waits for the verdict.
		o.rejectAll("client went away")
		o.decision, o.reason = ruleCancelled, "the client closed the connection during the scan"
		return false
	case errors.Is(err, errScanBudget), errors.Is(err, context.DeadlineExceeded):
		o.rejectAll("too large to scan")
		o.decision, o.reason = ruleTooLarge, fmt.Sprintf("over the scan budget (%s of text, %s)", humanBytes(p.budget.bytes), p.budget.time)
		reply.say("push refused: scanning it for secrets would take more than this gate allows (%s of text, %s);", humanBytes(p.budget.bytes), p.budget.time)
		reply.say("push fewer or smaller commits at a time.")
		return false
	default:
		p.internalFailure(fmt.Errorf("scan: %w", err))
		return false
	}
	p.log.Info("push scanned", "repo", p.repo.name, "commits", len(plan.commits), "fragments", stats.Fragments,
		"bytes", stats.Bytes, "binary_skipped", stats.Binary, "findings", len(findings),
		"duration_ms", time.Since(start).Milliseconds())
	if len(findings) == 0 {
		return true
	}
	findings = p.applyExceptions(findings)
	if len(findings) == 0 {
		return true
	}
	p.reportFindings(findings)
	return false
}

// applyExceptions returns the findings the operator has not let through,
// and tells the client and the log about those it has.
func (p *pushContext) applyExceptions(findings []finding) []finding {
	allowed := p.exceptions.forRepo(p.repo.name)
	var let []string
	kept := findings[:0:0]
	for _, f := range findings {
		if fp, ok := f.fingerprint(); ok && allowed[fp] {
			let = append(let, fp.String())
			continue
		}
		kept = append(kept, f)
	}
	if len(let) > 0 {
		p.out.excepted = len(let)
		p.log.Info("findings let through by DLP exceptions", "repo", p.repo.name, "fingerprints", let, "still_refused", len(kept))
		p.reply.say("%s let through by the operator's DLP exceptions", plural(len(let), "finding"))
	}
	return kept
}

// reportFindings refuses the push for findings and tells the client which,
// with the fingerprint to quote when asking for an exception.
func (p *pushContext) reportFindings(findings []finding) {
	o, reply := p.out, p.reply
	reply.say("push rejected: %s in what this push adds:", plural(len(findings), "possible secret"))
	unexceptable := 0
	for i, f := range findings {
		fp, ok := f.fingerprint()
		if !ok {
			unexceptable++
		}
		if i >= maxFindingsShown {
			continue
		}
		reply.say("  %s", f)
		if ok {
			reply.say("    fingerprint %s", fp)
		}
	}
	if len(findings) > maxFindingsShown {
		reply.say("  ... and %d more", len(findings)-maxFindingsShown)
	}
	reply.say("Remove them from those commits (git rebase -i, git commit --amend) and push again.")
	if unexceptable < len(findings) {
		reply.say("If one is not a secret, ask the operator to let that one finding through: call the dlp-block tool")
		reply.say("(supervise) with repo %q and the finding's fingerprint, exactly as printed above.", p.repo.name)
	}
	if unexceptable > 0 {
		reply.say("A finding without a fingerprint (in a commit message, identity, file name, tag, or a file whose")
		reply.say("name is not printable text) cannot be let through: change it.")
	}
	o.rejectAll("secret detected; see the remote: lines above")
	o.decision = ruleSecret + findings[0].Rule
	// The finding's text holds agent-chosen paths: the audit line has its
	// rule and a fingerprint only.
	o.reason = fmt.Sprintf("%d findings, first: rule %s %s", len(findings), findings[0].Rule, redacted("finding", findings[0].String()))
}
