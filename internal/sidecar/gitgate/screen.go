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
