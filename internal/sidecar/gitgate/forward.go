package gitgate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// deliver forwards the valid commands to the upstream, then moves on the
// gate exactly the refs the upstream accepted. It reports whether the
// upstream accepted any ref, so that the gate's objects changed.
func (p *pushContext) deliver(ctx context.Context) bool {
	rp, o, reply := p.repo, p.out, p.reply
	if o.excepted > 0 {
		reply.say("no other possible secrets found; pushing to the upstream")
	} else {
		reply.say("no secrets found; pushing to the upstream")
	}
	up, err := rp.forward(ctx, p.valid, p.q, p.req.has("atomic"), reply)
	if err != nil {
		p.log.Warn("forward push", "repo", rp.name, "upstream", rp.up, "err", logError(err))
		reply.say("push not delivered: %s", oneLine(err.Error()))
		o.rejectAll("upstream: " + shortReason(err))
		o.decision, o.reason = ruleUpstream, oneLine(err.Error())
		return false
	}
	var updates []refUpdate
	for _, c := range p.valid {
		reason, ok := up[c.Name.String()]
		switch {
		case !ok:
			o.status[c.Name.String()] = "upstream did not report this ref"
		case reason != "":
			o.status[c.Name.String()] = "upstream: " + reason
		default:
			updates = append(updates, refUpdate{Name: c.Name, Old: c.Old, New: c.New})
		}
	}
	if len(updates) == 0 {
		o.decision, o.reason = ruleUpstreamDeny, "upstream refused every ref"
		return false
	}
	err = nil
	if p.q != nil {
		err = p.q.migrate(rp.dir)
	}
	if err == nil {
		err = rp.updateRefs(ctx, updates)
	}
	if err != nil {
		// The upstream has the push; the next refresh brings the gate level.
		p.log.Error("upstream accepted a push the gate could not record", "repo", rp.name, "err", logError(err))
		reply.say("the upstream accepted the push, but the gate could not record it; fetch to resync")
		rp.lastRefresh, rp.lastAttempt = time.Time{}, time.Time{}
	} else {
		o.updated = len(updates)
		// A force push or a deletion leaves objects the upstream may drop
		// at its next gc.
		if rp.rewinds(ctx, updates) {
			if err := rp.prune(ctx); err != nil {
				p.log.Error("prune after a push", "repo", rp.name, "err", logError(err))
			}
		}
	}
	if n := o.accepted(); n == len(o.order) {
		o.decision, o.reason = ruleAccepted, fmt.Sprintf("%s updated", plural(n, "ref"))
	} else {
		o.decision, o.reason = ruleAccepted, fmt.Sprintf("%d of %d refs updated", n, len(o.order))
	}
	return true
}

// forward sends cmds and the quarantined pack to the upstream and returns
// its verdict per ref: "" for accepted, else its reason. Upstream messages
// (hook output, errors) are relayed to progress.
func (r *repo) forward(ctx context.Context, cmds []command, q *quarantine, atomic bool, progress io.Writer) (map[string]string, error) {
	sess, err := r.up.open(ctx, transport.ReceivePackServiceName)
	if err != nil {
		return nil, err
	}
	defer sess.Close()
	rps := sess.Session.(transport.ReceivePackSession)
	adv, err := rps.AdvertisedReferencesContext(ctx)
	if err != nil {
		return nil, r.upstreamFailed("list its refs", err)
	}
	caps := adv.Capabilities
	if !caps.Supports(capability.ReportStatus) {
		return nil, &upstreamError{msg: fmt.Sprintf("upstream %s does not report push status", r.up.url)}
	}
	req := packp.NewReferenceUpdateRequestFromCapabilities(caps)
	for _, c := range []capability.Capability{capability.Sideband64k, capability.Quiet, capability.OFSDelta, capability.DeleteRefs} {
		if caps.Supports(c) {
			_ = req.Capabilities.Set(c)
		}
	}
	if !caps.Supports(capability.Sideband64k) && caps.Supports(capability.Sideband) {
		_ = req.Capabilities.Set(capability.Sideband)
	}
	if atomic {
		if !caps.Supports(capability.Atomic) {
			return nil, &upstreamError{msg: fmt.Sprintf("upstream %s does not support atomic pushes", r.up.url)}
		}
		_ = req.Capabilities.Set(capability.Atomic)
	}
	out := map[string]string{}
	needPack := false
	for _, c := range cmds {
		if c.isDelete() && !caps.Supports(capability.DeleteRefs) {
			out[c.Name.String()] = "the upstream does not allow deleting refs"
			continue
		}
		needPack = needPack || !c.isDelete()
		req.Commands = append(req.Commands, &packp.Command{Name: c.Name, Old: c.Old, New: c.New})
	}
	if len(req.Commands) == 0 {
		return out, nil
	}
	if needPack {
		f, err := os.Open(q.packPath(".pack"))
		if err != nil {
			return nil, fmt.Errorf("open quarantined pack: %w", err)
		}
		req.Packfile = f // closed by the encoder
	}
	req.Progress = progress
	report, err := rps.ReceivePack(ctx, req)
	if report == nil {
		if err == nil {
			err = errors.New("no report")
		}
		return nil, r.upstreamFailed("report on the push", err)
	}
	if report.UnpackStatus != "ok" {
		for _, c := range req.Commands {
			out[c.Name.String()] = "unpack failed: " + report.UnpackStatus
		}
		return out, nil
	}
	for _, cs := range report.CommandStatuses {
		if cs.Status == "ok" {
			out[cs.ReferenceName.String()] = ""
		} else {
			out[cs.ReferenceName.String()] = cs.Status
		}
	}
	return out, nil
}

// shortReason is the part of an upstream error fit for a ref's status.
func shortReason(err error) string {
	var ue *upstreamError
	if errors.As(err, &ue) {
		if _, after, ok := strings.Cut(ue.msg, ": "); ok {
			return oneLine(after)
		}
	}
	return oneLine(err.Error())
}
