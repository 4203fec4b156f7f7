package gitgate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/filesystem"
)

// pushContext is one push on its way through the gate: what the client
// asked for, where its pack sits, what the gate holds, and where the
// verdict goes. The pipeline's steps are its methods.
type pushContext struct {
	repo    *repo
	req     *pushRequest
	body    io.Reader // the rest of the request: the pack
	raw     io.Reader // the request body as sent (body may be its gunzipped form)
	reply   *pushReply
	out     *pushOutcome
	log     *slog.Logger
	maxPack int64 // --max-pack
	// unpackMemory caps index-pack's data segment (Config.UnpackMemory).
	unpackMemory int64
	// exceptions are the operator's DLP exceptions, read when the scan
	// finds something.
	exceptions *exceptions

	// Set by receivePackfile: the pushed pack, or nil for a push of
	// deletions only.
	q *quarantine
	// Set by open, under the repository's lock: the gate's refs, its object
	// store, and the quarantine's objects layered over it.
	refs map[plumbing.ReferenceName]plumbing.Hash
	gate *filesystem.Storage
	st   storer.EncodedObjectStorer
	// valid are the commands that passed checkCommands.
	valid []command
	// budget bounds the scan; plan is what it scanned.
	budget scanBudget
	plan   scanPlan
}

// receivePack serves POST /<name>.git/git-receive-pack: the push pipeline.
func (s *Server) receivePack(w http.ResponseWriter, r *http.Request, rp *repo, lg *requestLog) error {
	// A client that stops sending would hold a goroutine, an index-pack
	// and a quarantine for ever: each read must make progress within
	// BodyIdleTimeout.
	r.Body = &idleReader{r: r.Body, rc: http.NewResponseController(w), idle: s.cfg.BodyIdleTimeout}
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
	release, err := s.pushSlot(rp)
	if err != nil {
		return err
	}
	defer release()
	p := &pushContext{repo: rp, req: req, body: body, raw: r.Body, reply: newPushReply(w, req), out: newOutcome(req),
		log: s.log, maxPack: s.cfg.MaxPack, exceptions: s.exceptions,
		budget: scanBudget{bytes: s.cfg.ScanBytes, time: s.cfg.ScanTimeout}, unpackMemory: s.cfg.UnpackMemory}
	s.push(r.Context(), p)
	if err := p.reply.finish(p.out); err != nil {
		s.log.Warn("write push report", "repo", rp.name, "err", logError(err))
	}
	lg.push = p.out
	return nil
}

// push checks, scans and forwards one push. Everything it reports goes into
// p.out; it does not return an error.
func (s *Server) push(ctx context.Context, p *pushContext) {
	ok := p.receivePackfile(ctx)
	if p.q != nil {
		defer p.q.remove()
	}
	if !ok {
		return
	}
	// Read the body to its end: net/http then watches the connection, and
	// ctx ends if the client goes away, which stops the scan. From here on
	// nothing is read, so the idle deadline is lifted.
	drain(p.body, 1<<20)
	drain(p.raw, 1<<20)
	_ = p.reply.rc.SetReadDeadline(time.Time{})
	// The scan runs without the repository's lock, so that fetches and
	// other pushes go on meanwhile; recheck then holds the push to the
	// refs as they are when it is delivered.
	if !p.open() {
		return
	}
	defer func() {
		if p.gate != nil {
			p.close()
		}
	}()
	if !p.checkCommands() || !p.screen(ctx) {
		return
	}
	if err := p.repo.acquire(ctx); err != nil {
		p.out.rejectAll("gate busy")
		p.out.decision, p.out.reason = ruleUpstream, err.Error()
		return
	}
	defer p.repo.release()
	if !p.recheck() {
		return
	}
	if p.deliver(ctx) {
		s.gcLater(p.repo)
	}
}

// receivePackfile indexes the pushed pack into a quarantine (p.q stays nil
// for a push of deletions only). It reports false if the pack was refused.
func (p *pushContext) receivePackfile(ctx context.Context) bool {
	needPack := false
	for _, c := range p.req.Commands {
		needPack = needPack || !c.isDelete()
	}
	if !needPack {
		drain(p.body, 1<<20)
		return true
	}
	q, err := p.repo.unpack(ctx, p.body, p.maxPack, p.unpackMemory)
	o := p.out
	switch {
	case err == nil:
		p.q = q
		return true
	case errors.Is(err, errPackTooLarge):
		// The client reads the response only after sending its whole
		// body: take the rest (bounded) so that it sees why.
		_ = p.reply.rc.SetReadDeadline(time.Now().Add(drainTime))
		drain(p.body, max(p.maxPack, minDrain))
		o.unpack = "pack exceeds the gate's size limit"
		o.rejectAll("pack too large")
		o.decision, o.reason = ruleTooLarge, fmt.Sprintf("pack larger than %d bytes", p.maxPack)
		p.reply.say("push refused: the pack is larger than this gate accepts (%s); push fewer or smaller commits", humanBytes(p.maxPack))
	case errors.Is(err, errPackMemory):
		p.log.Warn("unpack refused", "repo", p.repo.name, "err", logError(err))
		o.unpack = "pack needs too much memory"
		o.rejectAll("pack needs too much memory")
		o.decision, o.reason = ruleTooLarge, fmt.Sprintf("index-pack over its memory limit (%s)", humanBytes(p.unpackMemory))
		p.reply.say("push refused: an object in the pack expands to more than this gate can hold (%s); a delta bomb, or a file too large for the gate", humanBytes(p.unpackMemory))
	default:
		p.log.Warn("unpack refused", "repo", p.repo.name, "err", logError(err))
		o.unpack = "unpacker error"
		o.rejectAll("unpacker error")
		o.decision, o.reason = ruleBadPack, oneLine(err.Error())
		p.reply.say("push refused: the pack could not be read: %s", oneLine(err.Error()))
	}
	return false
}

// open reads the gate's refs and opens its object store, with the
// quarantine over it. Called with the repository's lock held; the caller
// closes what it opened (close) if it reports true.
func (p *pushContext) open() bool {
	refs, err := p.repo.refs()
	if err != nil {
		p.internalFailure(err)
		return false
	}
	p.refs = refs
	p.gate = openStorage(p.repo.dir)
	p.st = p.gate
	if p.q != nil {
		p.st = p.q.storage(p.gate)
	}
	return true
}

func (p *pushContext) close() {
	if l, ok := p.st.(*layered); ok {
		l.Close()
	}
	p.gate.Close()
}

// checkCommands keeps in p.valid the commands that may go ahead and
// refuses the others. It reports false if none may.
func (p *pushContext) checkCommands() bool {
	said := map[string]bool{}
	for _, c := range p.req.Commands {
		reason, help := refPolicy(p.repo.conf, c)
		if reason != "" && !said[reason] {
			said[reason] = true
			p.reply.say("%s", help)
		}
		if reason == "" {
			reason = checkCommand(p.st, p.refs, c)
		}
		if reason != "" {
			p.out.status[c.Name.String()] = reason
			continue
		}
		p.valid = append(p.valid, c)
	}
	if len(p.valid) < len(p.req.Commands) && p.req.has("atomic") {
		p.out.rejectAll("atomic push failed")
		p.valid = nil
	}
	if len(p.valid) == 0 {
		p.out.decision, p.out.reason = ruleRefCheck, "no ref passed the gate's checks"
		return false
	}
	return true
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

// internalFailure refuses the push for an error of the gate's own.
func (p *pushContext) internalFailure(err error) {
	p.log.Error("push failed", "repo", p.repo.name, "err", logError(err))
	p.reply.say("push refused: the gate hit an internal error; see its log")
	p.out.rejectAll("gate error")
	p.out.decision, p.out.reason = ruleInternal, oneLine(err.Error())
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

// pushSlot takes one of the gate's and one of rp's slots for a push, or
// fails with errBusy at once: a push holds a git index-pack and up to
// --max-pack of quarantine until it ends. The caller calls release.
func (s *Server) pushSlot(rp *repo) (release func(), err error) {
	select {
	case s.pushes <- struct{}{}:
	default:
		return nil, fmt.Errorf("%w: the gate is handling %d pushes already; try again shortly", errBusy, cap(s.pushes))
	}
	select {
	case rp.pushes <- struct{}{}:
	default:
		<-s.pushes
		return nil, fmt.Errorf("%w: %s has %d pushes in progress already; try again shortly", errBusy, rp.name, cap(rp.pushes))
	}
	return func() { <-rp.pushes; <-s.pushes }, nil
}

// idleReader is a request body whose every read must return within idle:
// it moves the connection's read deadline before each read.
type idleReader struct {
	r    io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
}

func (b *idleReader) Read(p []byte) (int, error) {
	_ = b.rc.SetReadDeadline(time.Now().Add(b.idle))
	return b.r.Read(p)
}

func (b *idleReader) Close() error { return b.r.Close() }
