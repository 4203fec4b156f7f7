// Package proposals is the operator's side of supervise: it lists the
// agent's proposals across bottles, shows what approving one would change,
// and approves, edits or rejects it — applying approved routes and egress
// DLP exceptions to the bottle's effective routes file and making its
// egress reload, and git gate DLP exceptions to the bottle's gate file,
// which the gate rereads at the next push with findings. A failed apply
// changes nothing and leaves the proposal pending.
package proposals

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/shared/fileinfo"
	"github.com/bot-bottle/bot-bottle/internal/shared/queue"
	"github.com/bot-bottle/bot-bottle/internal/shared/termtext"
	"github.com/bot-bottle/bot-bottle/internal/shared/wildcard"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// maxStateFileBytes bounds the routes, gate and Dockerfile files of a
// bottle's state directory that deciding a proposal reads: they are
// small, and a huge or special file there is refused, not read whole.
const maxStateFileBytes = 4 << 20

// Operator decides proposals for the bottles under Home.
type Operator struct {
	// Home is the bot-bottle home; bottles are in Home/state/<slug>/.
	Home string
	// Reloader reloads a bottle's egress after its routes changed.
	Reloader Reloader
	// Bottles rebuilds an agent for an approved capability-block and
	// hands egress the credential of an approved cred-block; nil: those
	// approvals are recorded and say what to do by hand.
	Bottles BottleChanger
	// Credential asks the operator for the value of the credential a
	// cred-block approval grants (echo off, or from a variable); nil:
	// cred-block approvals say what to do by hand.
	Credential func(host string, scheme contract.AuthScheme) ([]byte, error)
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Item is one proposal with the bottle it belongs to.
type Item struct {
	Slug string
	queue.Entry
}

// Change is what deciding a proposal would do.
type Change struct {
	// Summary says in words what approving grants ("" when Diff and
	// NextSteps say it all). It may quote the agent: print it through
	// termtext.Line.
	Summary string
	// File is the file Diff is of: the bottle's routes or gate file ("" when
	// no file changes).
	File string
	// Diff shows File before and after ("" when no file changes). It is
	// printed as it is, so show it through termtext.Block.
	Diff string
	// NextSteps says what the operator must still do by hand ("" if
	// nothing), with the agent's strings in it already escaped by
	// termtext.Line.
	NextSteps string
	// routes is the new routes file to write; nil: none.
	routes *contract.RoutesFile
	// gate is the new gate file to write; nil: none.
	gate *contract.GateFile
	// capability is the agent Dockerfile override to write and build;
	// nil: none.
	capability *capabilityChange
	// credential is the secret to ask for and give egress; nil: none.
	credential *credentialChange
}

func (o *Operator) now() time.Time {
	if o.Now != nil {
		return o.Now().UTC()
	}
	return time.Now().UTC()
}

// bottles returns the directories of the bottles under Home, by slug.
// Entries that are not a bottle's directory are skipped.
func (o *Operator) bottles() (map[string]contract.BottleDir, error) {
	entries, err := os.ReadDir(contract.StateBottlesDir(o.Home))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list bottles: %w", err)
	}
	dirs := map[string]contract.BottleDir{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if d, err := contract.StateBottleDir(o.Home, e.Name()); err == nil {
			dirs[e.Name()] = d
		}
	}
	return dirs, nil
}

// bottle returns the directory of the bottle slug.
func (o *Operator) bottle(slug string) (contract.BottleDir, error) {
	return contract.StateBottleDir(o.Home, slug)
}

// List returns every proposal of every bottle, oldest first.
func (o *Operator) List() ([]Item, error) { return o.list(queue.Queue.List) }

// Pending returns the proposals of every bottle that await a decision,
// oldest first. Decided proposals' files are not read.
func (o *Operator) Pending() ([]Item, error) { return o.list(queue.Queue.ListPending) }

func (o *Operator) list(read func(queue.Queue) ([]*queue.Entry, error)) ([]Item, error) {
	dirs, err := o.bottles()
	if err != nil {
		return nil, err
	}
	var items []Item
	var errs []error
	for slug, d := range dirs {
		entries, err := read(queue.Queue{Dir: d.QueueDir()})
		if err != nil {
			errs = append(errs, err)
		}
		for _, e := range entries {
			items = append(items, Item{Slug: slug, Entry: *e})
		}
	}
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i].Proposal, items[j].Proposal
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return a.ID < b.ID
	})
	return items, errors.Join(errs...)
}

// Find returns the proposal with id, in whichever bottle it is. It reads
// only that proposal's files: one name looked up per bottle.
func (o *Operator) Find(id string) (Item, error) {
	if err := contract.ValidProposalID(id); err != nil {
		return Item{}, fmt.Errorf("%q is not a proposal id: %w", id, err)
	}
	dirs, err := o.bottles()
	if err != nil {
		return Item{}, err
	}
	for slug, d := range dirs {
		if _, err := os.Lstat(filepath.Join(d.QueueDir(), contract.ProposalFileName(id))); err != nil {
			continue
		}
		e, err := queue.Queue{Dir: d.QueueDir()}.Get(id)
		if err != nil {
			return Item{}, err
		}
		return Item{Slug: slug, Entry: *e}, nil
	}
	return Item{}, fmt.Errorf("no proposal %s; 'bot-bottle proposals list' shows them", id)
}

// Preview computes what approving it with payload (nil: as proposed) would
// change, without changing anything.
func (o *Operator) Preview(it Item, payload json.RawMessage) (*Change, error) {
	if payload == nil {
		payload = it.Proposal.Payload
	}
	decoded, err := contract.DecodeToolPayload(it.Proposal.Tool, payload)
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	// supervise refuses these already; a queue file that did not come
	// through it (or an edit) is checked here too.
	if err := checkWildcard(decoded); err != nil {
		return nil, err
	}
	switch p := decoded.(type) {
	case *contract.EgressBlockPayload:
		var summary string
		ch, err := o.planRoutes(it.Slug, func(rf *contract.RoutesFile) (err error) {
			summary, err = addRoute(rf, p)
			return err
		})
		if err != nil {
			return nil, err
		}
		ch.Summary = summary
		return ch, nil
	case *contract.DLPBlockPayload:
		if fp, ok := p.GateFinding(); ok {
			return o.planGateException(it.Slug, p.Repo, fp)
		}
		var summary string
		ch, err := o.planRoutes(it.Slug, func(rf *contract.RoutesFile) (err error) {
			summary, err = addDLPAllow(rf, p)
			return err
		})
		if err != nil {
			return nil, err
		}
		ch.Summary = summary
		return ch, nil
	// The next steps quote the agent's strings; each is escaped for the
	// terminal here (termtext.Line), so the text is safe however it is
	// shown, and a line the agent wrote stays one line.
	case *contract.CapabilityBlockPayload:
		if o.Bottles != nil && o.startedByUp(it.Slug) {
			return o.planCapability(it, p)
		}
		var b strings.Builder
		b.WriteString("Add to the agent image (the bottle's agent_provider.dockerfile), then restart the bottle:\n")
		if len(p.AptPackages) > 0 {
			fmt.Fprintf(&b, "  RUN apt-get update && apt-get install -y --no-install-recommends %s && rm -rf /var/lib/apt/lists/*\n",
				termtext.Line(strings.Join(p.AptPackages, " ")))
		}
		for _, l := range p.DockerfileLines {
			b.WriteString("  " + termtext.Line(l) + "\n")
		}
		return &Change{NextSteps: b.String()}, nil
	case *contract.CredBlockPayload:
		if o.Bottles != nil && o.Credential != nil && o.startedByUp(it.Slug) {
			return o.planCredential(it, p)
		}
		host := termtext.Line(p.Host)
		return &Change{NextSteps: fmt.Sprintf("Give the route for %s a credential in the bottle's manifest, then restart the bottle:\n"+
			"  egress.routes[host: %s].auth: {scheme: %s, token_ref: HOST_VARIABLE_WITH_THE_TOKEN}\n"+
			"  (the agent asked for: %s)\n", host, host, termtext.Line(string(p.Scheme)), termtext.Line(p.Purpose))}, nil
	}
	return nil, fmt.Errorf("tool %s cannot be approved", it.Proposal.Tool)
}

// checkWildcard refuses a payload whose host is a wildcard at or above a
// public suffix (*.co.uk, *.github.io).
func checkWildcard(payload any) error {
	var host string
	switch p := payload.(type) {
	case *contract.EgressBlockPayload:
		host = p.Host
	case *contract.CredBlockPayload:
		host = p.Host
	case *contract.DLPBlockPayload:
		host = p.Host
	}
	return wildcard.Check(host)
}

func (o *Operator) routesPath(slug string) (string, error) {
	d, err := o.bottle(slug)
	return d.RoutesFile(), err
}

func (o *Operator) planRoutes(slug string, change func(*contract.RoutesFile) error) (*Change, error) {
	path, err := o.routesPath(slug)
	if err != nil {
		return nil, err
	}
	data, err := fileinfo.ReadRegular(path, maxStateFileBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("bottle %s has no routes file at %s; start the bottle first, then approve", slug, path)
	}
	if err != nil {
		return nil, fmt.Errorf("read routes file: %w", err)
	}
	rf, err := contract.ParseRoutes(data)
	if err != nil {
		return nil, fmt.Errorf("routes file %s: %w", path, err)
	}
	if err := change(rf); err != nil {
		return nil, err
	}
	out, err := rf.Marshal()
	if err != nil {
		return nil, fmt.Errorf("the change makes an invalid routes file: %w", err)
	}
	before, err := canonical(data)
	if err != nil {
		return nil, err
	}
	return &Change{File: path, Diff: lineDiff(string(before), string(out)), routes: rf}, nil
}

func (o *Operator) gatePath(slug string) (string, error) {
	d, err := o.bottle(slug)
	return d.GateFile(), err
}

// planGateException adds fp to repo's DLP exceptions in the bottle's gate
// file: that one finding, and nothing else, no longer refuses a push.
func (o *Operator) planGateException(slug, repo string, fp contract.Fingerprint) (*Change, error) {
	path, err := o.gatePath(slug)
	if err != nil {
		return nil, err
	}
	data, err := fileinfo.ReadRegular(path, maxStateFileBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("bottle %s has no gate file at %s, so no git gate refused this push; start the bottle first, then approve", slug, path)
	}
	if err != nil {
		return nil, fmt.Errorf("read gate file: %w", err)
	}
	gf, err := contract.ParseGate(data)
	if err != nil {
		return nil, fmt.Errorf("gate file %s: %w", path, err)
	}
	r, ok := gf.Lookup(repo)
	if !ok {
		names := make([]string, len(gf.Repos))
		for i, r := range gf.Repos {
			names[i] = r.Name
		}
		serves := "none"
		if len(names) > 0 {
			serves = strings.Join(names, ", ")
		}
		return nil, fmt.Errorf("bottle %s's git gate has no repository %q (it serves: %s); reject the proposal or edit its repo", slug, repo, serves)
	}
	if !r.Excepts(fp) {
		r.DLPExceptions = append(r.DLPExceptions, fp)
	}
	out, err := gf.Marshal()
	if err != nil {
		return nil, fmt.Errorf("the change makes an invalid gate file: %w", err)
	}
	before, err := canonicalGate(data)
	if err != nil {
		return nil, err
	}
	return &Change{
		Summary: fmt.Sprintf("lets this one finding (%s) through the git gate for repo %s; every other finding, "+
			"including the same rule elsewhere in that file or a later commit of that line, still refuses the push", fp.Describe(), repo),
		File: path, Diff: lineDiff(string(before), string(out)), gate: gf,
	}, nil
}

func canonicalGate(data []byte) ([]byte, error) {
	gf, err := contract.ParseGate(data)
	if err != nil {
		return nil, err
	}
	return gf.Marshal()
}

func canonical(data []byte) ([]byte, error) {
	rf, err := contract.ParseRoutes(data)
	if err != nil {
		return nil, err
	}
	return rf.Marshal()
}

// addRoute adds the requested host, or widens its existing route by the
// paths and methods the proposal names, and says in words what that
// grants. An approval never grants more than it names: a proposal that
// leaves out path_prefixes or methods asks for "every", which a new route
// gets, but an existing route keeps its limit on that, as lifting it
// would widen a route (and any credential on it) beyond anything shown.
// A proposal for a limited route that names nothing to add is refused.
func addRoute(rf *contract.RoutesFile, p *contract.EgressBlockPayload) (string, error) {
	for i := range rf.Routes {
		r := &rf.Routes[i]
		if contract.NormalizeHost(r.Host) != contract.NormalizeHost(p.Host) {
			continue
		}
		if r.TLSPassthrough {
			return "", fmt.Errorf("%s is a tls_passthrough route already; it allows every path", r.Host)
		}
		before := routeLimits(*r)
		paths, addedPaths := widen(r.PathAllowlist, p.PathPrefixes)
		methods, addedMethods := widen(r.Methods, p.Methods)
		limited := len(r.PathAllowlist) > 0 || len(r.Methods) > 0
		if limited && len(addedPaths) == 0 && len(addedMethods) == 0 &&
			(len(p.PathPrefixes) == 0 && len(r.PathAllowlist) > 0 || len(p.Methods) == 0 && len(r.Methods) > 0) {
			return "", fmt.Errorf("%s already has a route, for requests %s; the proposal names no path prefix or method beyond that, "+
				"and approving never lifts a route's limits (it asks for every path or method); reject it, or edit it to name "+
				"the path_prefixes and methods to add (to lift a limit, change the route in the bottle's manifest)", r.Host, before)
		}
		r.PathAllowlist, r.Methods = paths, methods
		return widenSummary(*r, before, addedPaths, addedMethods, p), nil
	}
	r := contract.Route{Host: p.Host, PathAllowlist: p.PathPrefixes, Methods: p.Methods}
	rf.Routes = append(rf.Routes, r)
	return "opens a new route to " + termtext.Line(p.Host) + " (port 443, HTTPS), " + routeLimits(r) + "; egress sends no credential on it", nil
}

// widen merges an allowlist: empty means "everything". A route with no
// limit (have empty) stays so; a request for everything (want empty)
// leaves a limited route as it is. added is what want adds to have.
func widen(have, want []string) (out, added []string) {
	if len(have) == 0 {
		return nil, nil
	}
	out = slices.Clone(have)
	for _, w := range want {
		if !slices.Contains(out, w) {
			out = append(out, w)
			added = append(added, w)
		}
	}
	return out, added
}

// widenSummary says what widening a route grants: the paths and methods
// added, the limits kept, a path limit that "/" lifts, and where the
// route's credential would then be sent.
func widenSummary(r contract.Route, before string, addedPaths, addedMethods []string, p *contract.EgressBlockPayload) string {
	host := termtext.Line(r.Host)
	if len(addedPaths) == 0 && len(addedMethods) == 0 {
		return "changes nothing: the route to " + host + " already allows requests " + before
	}
	var parts []string
	if len(addedPaths) > 0 {
		parts = append(parts, "adds path prefixes "+termtext.Line(strings.Join(addedPaths, ", ")))
		if slices.Contains(addedPaths, "/") {
			parts = append(parts, "the prefix / matches every path, so this lifts the route's path limit")
		}
	}
	if len(addedMethods) > 0 {
		parts = append(parts, "adds methods "+termtext.Line(strings.Join(addedMethods, ", ")))
	}
	if len(p.PathPrefixes) == 0 && len(r.PathAllowlist) > 0 {
		parts = append(parts, "keeps its path limit (the proposal asks for every path, which approving never grants)")
	}
	if len(p.Methods) == 0 && len(r.Methods) > 0 {
		parts = append(parts, "keeps its method limit (the proposal asks for every method, which approving never grants)")
	}
	s := "widens the route to " + host + " (it allowed requests " + before + "): " + strings.Join(parts, "; ") +
		"; it would then allow requests " + routeLimits(r)
	if r.Auth != nil {
		s += "; the route carries a credential: the " + termtext.Line(string(r.Auth.Scheme)) + " token for " + host +
			" would then be sent " + routeLimits(r)
	} else {
		s += "; egress sends no credential on it"
	}
	return s
}

// addDLPAllow exempts p's rule on its host's route and says in words
// what that lifts, and whether the route carries a credential.
func addDLPAllow(rf *contract.RoutesFile, p *contract.DLPBlockPayload) (string, error) {
	for i := range rf.Routes {
		r := &rf.Routes[i]
		if contract.NormalizeHost(r.Host) == contract.NormalizeHost(p.Host) {
			if r.TLSPassthrough {
				return "", fmt.Errorf("%s is tunnelled unread (tls_passthrough); DLP does not run on it", r.Host)
			}
			host, rule := termtext.Line(r.Host), termtext.Line(p.RuleID)
			if slices.Contains(r.DLPAllow, p.RuleID) {
				return "changes nothing: DLP rule " + rule + " is already exempted on the route to " + host, nil
			}
			r.DLPAllow = append(r.DLPAllow, p.RuleID)
			s := "lifts DLP rule " + rule + " on the route to " + host + ": requests " + routeLimits(*r) +
				" are no longer refused for what that rule finds, in the URL, headers or body; every other rule still applies"
			if r.Auth != nil {
				s += "; the route carries a credential (the " + termtext.Line(string(r.Auth.Scheme)) + " token for " + host + ")"
			}
			return s, nil
		}
	}
	return "", fmt.Errorf("bottle has no route for %s, so there is no DLP to exempt; approve an egress-block for it first", p.Host)
}

// Decision is the outcome of Approve or Edit.
type Decision struct {
	Response *contract.Response
	Change   *Change
	// Warning is set when the change was saved but egress could not be
	// told (it is not running): it applies when egress starts.
	Warning string
}

// Approve applies the proposal as proposed and records the decision.
func (o *Operator) Approve(ctx context.Context, id, note string) (*Decision, error) {
	return o.decide(ctx, id, nil, note)
}

// Edit applies an operator-edited payload instead of the proposed one.
func (o *Operator) Edit(ctx context.Context, id string, payload json.RawMessage, note string) (*Decision, error) {
	if payload == nil {
		return nil, errors.New("edit needs a payload")
	}
	return o.decide(ctx, id, payload, note)
}

func (o *Operator) decide(ctx context.Context, id string, edited json.RawMessage, note string) (*Decision, error) {
	it, err := o.pending(id)
	if err != nil {
		return nil, err
	}
	ch, err := o.Preview(it, edited)
	if err != nil {
		return nil, fmt.Errorf("cannot apply proposal %s (it stays pending): %w", id, err)
	}
	d := &Decision{Change: ch}
	if ch.gate != nil {
		// No reload: the gate rereads its gate file at the next push with
		// findings.
		if err := o.writeFile(ch.File, ch.gate.Marshal); err != nil {
			return nil, fmt.Errorf("cannot apply proposal %s (it stays pending): %w", id, err)
		}
	}
	if ch.capability != nil {
		warn, err := o.applyCapability(ctx, it.Slug, ch.capability)
		if err != nil {
			return nil, fmt.Errorf("cannot apply proposal %s (it stays pending): %w", id, err)
		}
		d.Warning = warn
	}
	if ch.credential != nil {
		warn, err := o.applyCredential(ctx, it.Slug, ch)
		if err != nil {
			return nil, fmt.Errorf("cannot apply proposal %s (it stays pending): %w", id, err)
		}
		d.Warning = warn
	} else if ch.routes != nil {
		warn, err := o.applyRoutes(ctx, it.Slug, ch.routes)
		if err != nil {
			return nil, fmt.Errorf("cannot apply proposal %s (it stays pending): %w", id, err)
		}
		d.Warning = warn
	}
	resp := &contract.Response{Version: contract.Version, ID: id, Status: contract.StatusApproved, Notes: note,
		AppliedDiff: ch.Diff, DecidedAt: o.now()}
	if edited != nil {
		resp.Status, resp.Payload = contract.StatusEdited, edited
	}
	if err := o.respond(it, resp); err != nil {
		return nil, err
	}
	d.Response = resp
	return d, nil
}

// Reject records a rejection; note (required) tells the agent why.
func (o *Operator) Reject(id, note string) (*contract.Response, error) {
	if strings.TrimSpace(note) == "" {
		return nil, errors.New("a rejection needs a note telling the agent why (--note)")
	}
	it, err := o.pending(id)
	if err != nil {
		return nil, err
	}
	resp := &contract.Response{Version: contract.Version, ID: id, Status: contract.StatusRejected, Notes: note, DecidedAt: o.now()}
	return resp, o.respond(it, resp)
}

func (o *Operator) pending(id string) (Item, error) {
	it, err := o.Find(id)
	if err != nil {
		return Item{}, err
	}
	if it.Response != nil {
		return Item{}, fmt.Errorf("proposal %s was already %s", id, it.Response.Status)
	}
	return it, nil
}

// applyRoutes writes the new routes file and reloads egress; if the
// reload fails the old file is put back.
func (o *Operator) applyRoutes(ctx context.Context, slug string, rf *contract.RoutesFile) (string, error) {
	path, err := o.routesPath(slug)
	if err != nil {
		return "", err
	}
	old, err := fileinfo.ReadRegular(path, maxStateFileBytes)
	if err != nil {
		return "", err
	}
	if err := o.writeFile(path, rf.Marshal); err != nil {
		return "", err
	}
	err = o.Reloader.ReloadEgress(ctx, slug)
	switch {
	case errors.Is(err, ErrNotRunning):
		return "egress is not running; the change applies when the bottle starts", nil
	case err != nil:
		if rerr := writeAtomic(path, old); rerr != nil {
			return "", fmt.Errorf("reload egress: %w; restoring the routes file also failed: %v", err, rerr)
		}
		return "", fmt.Errorf("reload egress: %w (the routes file is unchanged)", err)
	}
	return "", nil
}

func (o *Operator) respond(it Item, resp *contract.Response) error {
	d, err := o.bottle(it.Slug)
	if err != nil {
		return err
	}
	if err := (queue.Queue{Dir: d.QueueDir()}).Respond(resp); err != nil {
		return fmt.Errorf("record the decision: %w", err)
	}
	return o.audit(it, resp)
}

// audit appends the decision to the bottle's audit file.
func (o *Operator) audit(it Item, resp *contract.Response) error {
	dec := contract.DecisionAllow
	if resp.Status == contract.StatusRejected {
		dec = contract.DecisionDeny
	}
	var args struct {
		Host        string `json:"host"`
		Repo        string `json:"repo"`
		Fingerprint string `json:"fingerprint"`
	}
	payload := it.Proposal.Payload
	if resp.Payload != nil {
		payload = resp.Payload
	}
	_ = json.Unmarshal(payload, &args)
	reason := fmt.Sprintf("proposal %s %s by the operator", resp.ID, resp.Status)
	if args.Repo != "" {
		reason += fmt.Sprintf(" (git gate repo %s, finding %s)", args.Repo, args.Fingerprint)
	}
	if resp.Notes != "" {
		reason += ": " + resp.Notes
	}
	rec := contract.AuditRecord{Time: resp.DecidedAt, Component: contract.ComponentCLI, Bottle: it.Slug,
		Host: args.Host, Decision: dec, Rule: string(it.Proposal.Tool), Reason: reason}
	line, err := rec.MarshalLine()
	if err != nil {
		return err
	}
	d, err := o.bottle(it.Slug)
	if err != nil {
		return err
	}
	path := d.AuditFile()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open audit file: %w", err)
	}
	defer f.Close()
	_, err = f.Write(line)
	return err
}

// writeFile replaces the file at path with what marshal returns.
func (o *Operator) writeFile(path string, marshal func() ([]byte, error)) error {
	data, err := marshal()
	if err != nil {
		return err
	}
	return writeAtomic(path, data)
}

// writeAtomic replaces the file at path by renaming a new file over it, so
// that a sidecar rereading it sees the old or the new content, never part.
// The new file keeps the old one's permissions: the sidecars read these
// files through a read-only mount, as another user.
func writeAtomic(path string, data []byte) error {
	perm := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		perm = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
