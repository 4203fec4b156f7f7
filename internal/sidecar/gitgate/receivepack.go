package gitgate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/sideband"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/filesystem"
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
)

// maxFindingsShown bounds the finding lines a rejected push prints.
const maxFindingsShown = 50

// pushOutcome is the verdict on one push: a status per ref, and what the
// audit line says.
type pushOutcome struct {
	unpack   string            // "ok" or why the pack was refused
	status   map[string]string // ref → "" (ok) or the reason it was refused
	order    []string          // refs in the client's order
	decision string            // audit rule id
	reason   string
	// updated counts the refs that moved on the gate.
	updated int
}

func newOutcome(req *pushRequest) *pushOutcome {
	o := &pushOutcome{unpack: "ok", status: map[string]string{}}
	for _, c := range req.Commands {
		o.status[c.Name.String()] = ""
		o.order = append(o.order, c.Name.String())
	}
	return o
}

// rejectAll refuses every ref that is not refused yet.
func (o *pushOutcome) rejectAll(reason string) {
	for ref, st := range o.status {
		if st == "" {
			o.status[ref] = reason
		}
	}
}

func (o *pushOutcome) report() *packp.ReportStatus {
	rs := packp.NewReportStatus()
	rs.UnpackStatus = o.unpack
	for _, ref := range o.order {
		st := o.status[ref]
		if st == "" {
			st = "ok"
		}
		rs.CommandStatuses = append(rs.CommandStatuses, &packp.CommandStatus{ReferenceName: plumbing.ReferenceName(ref), Status: st})
	}
	return rs
}

func (o *pushOutcome) accepted() int {
	n := 0
	for _, st := range o.status {
		if st == "" {
			n++
		}
	}
	return n
}

// pushReply writes the response to a push: messages on side-band channel 2
// (the client prints them as "remote: ..."), then the report on channel 1.
type pushReply struct {
	mu     sync.Mutex // serialises writes
	w      io.Writer
	rc     *http.ResponseController
	mux    *sideband.Muxer // nil: the client asked for no side band
	report bool
}

func newPushReply(w http.ResponseWriter, req *pushRequest) *pushReply {
	p := &pushReply{w: w, rc: http.NewResponseController(w), report: req.has("report-status")}
	switch {
	case req.has("side-band-64k"):
		p.mux = sideband.NewMuxer(sideband.Sideband64k, w)
	case req.has("side-band"):
		p.mux = sideband.NewMuxer(sideband.Sideband, w)
	}
	return p
}

// Write relays upstream progress and hook output to the client.
func (p *pushReply) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mux == nil {
		return len(b), nil
	}
	if _, err := p.mux.WriteChannel(sideband.ProgressMessage, b); err != nil {
		return 0, err
	}
	_ = p.rc.Flush()
	return len(b), nil
}

// say prints a line to the client as "remote: gitgate: ...".
func (p *pushReply) say(format string, args ...any) {
	_, _ = p.Write([]byte("gitgate: " + fmt.Sprintf(format, args...) + "\n"))
}

func (p *pushReply) finish(o *pushOutcome) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.report {
		return nil
	}
	if p.mux == nil {
		return o.report().Encode(p.w)
	}
	var buf strings.Builder
	if err := o.report().Encode(&buf); err != nil {
		return err
	}
	if _, err := p.mux.WriteChannel(sideband.PackData, []byte(buf.String())); err != nil {
		return err
	}
	_, err := io.WriteString(p.w, "0000")
	return err
}

// receivePack serves POST /<name>.git/git-receive-pack: the push pipeline.
func (s *Server) receivePack(w http.ResponseWriter, r *http.Request, rp *repo, lg *requestLog) error {
	body, err := requestBody(r)
	if err != nil {
		return err
	}
	req, err := readPushRequest(body)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-git-receive-pack-result")
	w.Header().Set("Cache-Control", "no-cache")
	if len(req.Commands) == 0 {
		// git's probe before a large push: answer it, change nothing.
		w.WriteHeader(http.StatusOK)
		return nil
	}
	reply := newPushReply(w, req)
	o := s.push(r.Context(), rp, req, body, reply)
	if err := reply.finish(o); err != nil {
		s.log.Warn("write push report", "repo", rp.name, "err", err)
	}
	lg.push = o
	return nil
}

// push checks, scans and forwards one push. Everything it reports goes into
// the outcome; it does not return an error.
func (s *Server) push(ctx context.Context, rp *repo, req *pushRequest, body io.Reader, reply *pushReply) *pushOutcome {
	o := newOutcome(req)
	q, ok := s.receivePackfile(ctx, rp, req, body, reply, o)
	if !ok {
		return o
	}
	if q != nil {
		defer q.remove()
	}
	if err := rp.acquire(ctx); err != nil {
		o.rejectAll("gate busy")
		o.decision, o.reason = ruleUpstream, err.Error()
		return o
	}
	defer rp.release()

	refs, err := rp.refs()
	if err != nil {
		s.internalFailure(o, rp, reply, err)
		return o
	}
	gate := openStorage(rp.dir)
	defer gate.Close()
	var st storer.EncodedObjectStorer = gate
	if q != nil {
		l := q.storage(gate)
		defer l.Close()
		st = l
	}

	var valid []command
	for _, c := range req.Commands {
		if reason := checkCommand(st, refs, c); reason != "" {
			o.status[c.Name.String()] = reason
			continue
		}
		valid = append(valid, c)
	}
	if len(valid) < len(req.Commands) && req.has("atomic") {
		o.rejectAll("atomic push failed")
		valid = nil
	}
	if len(valid) == 0 {
		o.decision, o.reason = ruleRefCheck, "no ref passed the gate's checks"
		return o
	}
	if !s.screen(ctx, rp, st, gate, q, req, refs, reply, o) {
		return o
	}
	s.deliver(ctx, rp, valid, q, req.has("atomic"), reply, o)
	return o
}

// receivePackfile indexes the pushed pack into a quarantine (nil for a
// push of deletions only). It reports false if the pack was refused.
func (s *Server) receivePackfile(ctx context.Context, rp *repo, req *pushRequest, body io.Reader, reply *pushReply, o *pushOutcome) (*quarantine, bool) {
	needPack := false
	for _, c := range req.Commands {
		needPack = needPack || !c.isDelete()
	}
	if !needPack {
		drain(body, 1<<20)
		return nil, true
	}
	q, err := rp.unpack(ctx, body, s.cfg.MaxPack)
	switch {
	case err == nil:
		return q, true
	case errors.Is(err, errPackTooLarge):
		// The client reads the response only after sending its whole
		// body: take the rest (bounded) so that it sees why.
		_ = reply.rc.SetReadDeadline(time.Now().Add(drainTime))
		drain(body, max(s.cfg.MaxPack, minDrain))
		o.unpack = "pack exceeds the gate's size limit"
		o.rejectAll("pack too large")
		o.decision, o.reason = ruleTooLarge, fmt.Sprintf("pack larger than %d bytes", s.cfg.MaxPack)
		reply.say("push refused: the pack is larger than this gate accepts (%s); push fewer or smaller commits", humanBytes(s.cfg.MaxPack))
	default:
		s.log.Warn("unpack refused", "repo", rp.name, "err", err)
		o.unpack = "unpacker error"
		o.rejectAll("unpacker error")
		o.decision, o.reason = ruleBadPack, oneLine(err.Error())
		reply.say("push refused: the pack could not be read: %s", oneLine(err.Error()))
	}
	return nil, false
}

// screen refuses the push if its pack smuggles objects no pushed ref
// reaches, or if what it introduces holds a possible secret. It reports
// whether the push may go on to the upstream.
func (s *Server) screen(ctx context.Context, rp *repo, st storer.EncodedObjectStorer, gate *filesystem.Storage, q *quarantine,
	req *pushRequest, refs map[plumbing.ReferenceName]plumbing.Hash, reply *pushReply, o *pushOutcome) bool {
	// Everything the pack carries is scanned, also for refs refused by
	// checkCommand (a stale client's pack still reaches the upstream with
	// the rest), so that only objects no pushed ref reaches count as
	// smuggled.
	var walk []command
	for _, c := range req.Commands {
		if !c.isDelete() && st.HasEncodedObject(c.New) == nil {
			walk = append(walk, c)
		}
	}
	plan, smuggled, isNew, err := introduced(st, gate, q, walk, refs)
	if err != nil {
		s.internalFailure(o, rp, reply, err)
		return false
	}
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
	findings, stats, err := scan(ctx, st, plan, isNew)
	if err != nil {
		s.internalFailure(o, rp, reply, fmt.Errorf("scan: %w", err))
		return false
	}
	s.log.Info("push scanned", "repo", rp.name, "commits", len(plan.commits), "fragments", stats.Fragments,
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

// deliver forwards the valid commands to the upstream, then moves on the
// gate exactly the refs the upstream accepted.
func (s *Server) deliver(ctx context.Context, rp *repo, valid []command, q *quarantine, atomic bool, reply *pushReply, o *pushOutcome) {
	reply.say("no secrets found; pushing to the upstream")
	up, err := rp.forward(ctx, valid, q, atomic, reply)
	if err != nil {
		s.log.Warn("forward push", "repo", rp.name, "upstream", rp.up, "err", err)
		reply.say("push not delivered: %s", oneLine(err.Error()))
		o.rejectAll("upstream: " + shortReason(err))
		o.decision, o.reason = ruleUpstream, oneLine(err.Error())
		return
	}
	var updates []refUpdate
	for _, c := range valid {
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
		return
	}
	err = nil
	if q != nil {
		err = q.migrate(rp.dir)
	}
	if err == nil {
		err = rp.updateRefs(ctx, updates)
	}
	if err != nil {
		// The upstream has the push; the next refresh brings the gate level.
		s.log.Error("upstream accepted a push the gate could not record", "repo", rp.name, "err", err)
		reply.say("the upstream accepted the push, but the gate could not record it; fetch to resync")
		rp.lastRefresh = time.Time{}
	} else {
		o.updated = len(updates)
	}
	s.gcLater(rp)
	if n := o.accepted(); n == len(o.order) {
		o.decision, o.reason = ruleAccepted, fmt.Sprintf("%s updated", plural(n, "ref"))
	} else {
		o.decision, o.reason = ruleAccepted, fmt.Sprintf("%d of %d refs updated", n, len(o.order))
	}
}

// internalFailure refuses the push for an error of the gate's own.
func (s *Server) internalFailure(o *pushOutcome, rp *repo, reply *pushReply, err error) {
	s.log.Error("push failed", "repo", rp.name, "err", err)
	reply.say("push refused: the gate hit an internal error; see its log")
	o.rejectAll("gate error")
	o.decision, o.reason = ruleInternal, oneLine(err.Error())
}

// checkCommand returns why c cannot go ahead, or "".
func checkCommand(st storer.EncodedObjectStorer, refs map[plumbing.ReferenceName]plumbing.Hash, c command) string {
	if cur := refs[c.Name]; cur != c.Old {
		// The client's view is stale: another push moved the ref.
		return "fetch first: the ref changed on the gate"
	}
	if c.isDelete() {
		return ""
	}
	obj, err := st.EncodedObject(plumbing.AnyObject, c.New)
	if err != nil {
		return "missing object " + c.New.String()
	}
	if c.Name.IsBranch() && obj.Type() != plumbing.CommitObject {
		return "a branch must point at a commit, not a " + obj.Type().String()
	}
	return ""
}

// maxTagChain bounds tag-of-tag chains.
const maxTagChain = 16

// introduced works out what the valid commands introduce: the commits
// reachable from the new tips and from no gate ref, new tag objects, and
// trees and blobs pointed at directly. It also counts the quarantined
// objects that nothing pushed reaches and the gate does not already hold:
// smuggled past the scan, they must refuse the push.
func introduced(st storer.EncodedObjectStorer, gate *filesystem.Storage, q *quarantine, cmds []command,
	refs map[plumbing.ReferenceName]plumbing.Hash) (plan scanPlan, smuggled int, isNew func(plumbing.Hash) bool, err error) {
	inQ := func(h plumbing.Hash) bool {
		if q == nil {
			return false
		}
		_, ok := q.objects[h]
		return ok
	}
	onGate := map[plumbing.Hash]bool{}
	isNew = func(h plumbing.Hash) bool {
		if !inQ(h) {
			return false
		}
		has, ok := onGate[h]
		if !ok {
			has, _ = hasObject(gate, h)
			onGate[h] = has
		}
		return !has
	}
	refValues := map[plumbing.Hash]bool{}
	for _, h := range refs {
		refValues[h] = true
	}
	reached := map[plumbing.Hash]struct{}{}
	seenTag := map[plumbing.Hash]bool{}
	var tips []plumbing.Hash
	for _, c := range cmds {
		if c.isDelete() {
			continue
		}
		h := c.New
	peel:
		for range maxTagChain {
			obj, err := st.EncodedObject(plumbing.AnyObject, h)
			if err != nil {
				return plan, 0, nil, fmt.Errorf("read %s: %w", h, err)
			}
			if inQ(h) {
				reached[h] = struct{}{}
			}
			switch obj.Type() {
			case plumbing.TagObject:
				t, err := object.DecodeTag(st, obj)
				if err != nil {
					return plan, 0, nil, fmt.Errorf("read tag %s: %w", h, err)
				}
				if !refValues[h] && !seenTag[h] {
					seenTag[h] = true
					plan.tags = append(plan.tags, t)
				}
				h = t.Target
			case plumbing.CommitObject:
				tips = append(tips, h)
				break peel
			case plumbing.TreeObject:
				plan.trees = append(plan.trees, h)
				if err := markReachable(st, h, inQ, reached); err != nil {
					return plan, 0, nil, err
				}
				break peel
			default:
				if isNew(h) {
					plan.blobs = append(plan.blobs, h)
				}
				break peel
			}
		}
	}
	exclude, err := peeledCommits(st, refs)
	if err != nil {
		return plan, 0, nil, err
	}
	if plan.commits, err = introducedCommits(st, tips, exclude); err != nil {
		return plan, 0, nil, err
	}
	for _, c := range plan.commits {
		if inQ(c.Hash) {
			reached[c.Hash] = struct{}{}
		}
		if err := markReachable(st, c.TreeHash, inQ, reached); err != nil {
			return plan, 0, nil, err
		}
	}
	if q != nil {
		for h := range q.objects {
			if _, ok := reached[h]; !ok && isNew(h) {
				smuggled++
			}
		}
	}
	return plan, smuggled, isNew, nil
}

// peeledCommits returns the commits the refs point at, through tags; refs
// to trees and blobs are left out.
func peeledCommits(st storer.EncodedObjectStorer, refs map[plumbing.ReferenceName]plumbing.Hash) ([]plumbing.Hash, error) {
	seen := map[plumbing.Hash]bool{}
	var out []plumbing.Hash
	for _, h := range refs {
		for range maxTagChain {
			obj, err := st.EncodedObject(plumbing.AnyObject, h)
			if err != nil {
				break // a dangling ref excludes nothing
			}
			if obj.Type() == plumbing.TagObject {
				t, err := object.DecodeTag(st, obj)
				if err != nil {
					break
				}
				h = t.Target
				continue
			}
			if obj.Type() == plumbing.CommitObject && !seen[h] {
				seen[h] = true
				out = append(out, h)
			}
			break
		}
	}
	return out, nil
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

// Bounds on reading the rest of a refused body.
const (
	minDrain  = 256 << 20
	drainTime = 2 * time.Minute
)

// drain reads and discards up to limit bytes of r, so that the client gets
// to read the response instead of failing to send.
func drain(r io.Reader, limit int64) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r, limit))
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
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

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
