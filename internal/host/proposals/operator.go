// Package proposals is the operator's side of supervise: it lists the
// agent's proposals across bottles, shows what approving one would change,
// and approves, edits or rejects it — applying approved routes and DLP
// exceptions to the bottle's effective routes file and making its egress
// reload. A failed apply changes nothing and leaves the proposal pending.
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

	"github.com/bot-bottle/bot-bottle/internal/shared/queue"
	"github.com/bot-bottle/bot-bottle/internal/shared/termtext"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// Operator decides proposals for the bottles under Home.
type Operator struct {
	// Home is the bot-bottle home (queues in queue/, state in state/).
	Home string
	// Reloader reloads a bottle's egress after its routes changed.
	Reloader Reloader
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
	// Diff shows the routes file before and after ("" when no file
	// changes). It is printed as it is, so show it through termtext.Block.
	Diff string
	// NextSteps says what the operator must still do by hand ("" if
	// nothing), with the agent's strings in it already escaped by
	// termtext.Line.
	NextSteps string
	// routes is the new routes file to write; nil: none.
	routes *contract.RoutesFile
}

func (o *Operator) now() time.Time {
	if o.Now != nil {
		return o.Now().UTC()
	}
	return time.Now().UTC()
}

// List returns every proposal of every bottle, oldest first.
func (o *Operator) List() ([]Item, error) {
	root := filepath.Join(o.Home, contract.QueueDirName)
	slugs, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	var items []Item
	var errs []error
	for _, s := range slugs {
		if !s.IsDir() || contract.ValidSlug(s.Name()) != nil {
			continue
		}
		entries, err := queue.Queue{Dir: contract.QueueDirFor(o.Home, s.Name())}.List()
		if err != nil {
			errs = append(errs, err)
		}
		for _, e := range entries {
			items = append(items, Item{Slug: s.Name(), Entry: *e})
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].Proposal.CreatedAt.Before(items[j].Proposal.CreatedAt) })
	return items, errors.Join(errs...)
}

// Find returns the proposal with id, in whichever bottle it is.
func (o *Operator) Find(id string) (Item, error) {
	if err := contract.ValidProposalID(id); err != nil {
		return Item{}, fmt.Errorf("%q is not a proposal id: %w", id, err)
	}
	items, err := o.List()
	for _, it := range items {
		if it.Proposal.ID == id {
			return it, nil
		}
	}
	if err != nil {
		return Item{}, err
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
	switch p := decoded.(type) {
	case *contract.EgressBlockPayload:
		return o.planRoutes(it.Slug, func(rf *contract.RoutesFile) error { return addRoute(rf, p) })
	case *contract.DLPBlockPayload:
		return o.planRoutes(it.Slug, func(rf *contract.RoutesFile) error { return addDLPAllow(rf, p) })
	// The next steps quote the agent's strings; each is escaped for the
	// terminal here (termtext.Line), so the text is safe however it is
	// shown, and a line the agent wrote stays one line.
	case *contract.CapabilityBlockPayload:
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
		host := termtext.Line(p.Host)
		return &Change{NextSteps: fmt.Sprintf("Give the route for %s a credential in the bottle's manifest, then restart the bottle:\n"+
			"  egress.routes[host: %s].auth: {scheme: %s, token_ref: HOST_VARIABLE_WITH_THE_TOKEN}\n"+
			"  (the agent asked for: %s)\n", host, host, termtext.Line(string(p.Scheme)), termtext.Line(p.Purpose))}, nil
	}
	return nil, fmt.Errorf("tool %s cannot be approved", it.Proposal.Tool)
}

func (o *Operator) routesPath(slug string) string { return contract.StateRoutesFile(o.Home, slug) }

func (o *Operator) planRoutes(slug string, change func(*contract.RoutesFile) error) (*Change, error) {
	path := o.routesPath(slug)
	data, err := os.ReadFile(path)
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
	return &Change{Diff: lineDiff(string(before), string(out)), routes: rf}, nil
}

func canonical(data []byte) ([]byte, error) {
	rf, err := contract.ParseRoutes(data)
	if err != nil {
		return nil, err
	}
	return rf.Marshal()
}

// addRoute adds the requested host, or widens its existing route by the
// requested paths and methods.
func addRoute(rf *contract.RoutesFile, p *contract.EgressBlockPayload) error {
	for i := range rf.Routes {
		r := &rf.Routes[i]
		if contract.NormalizeHost(r.Host) != contract.NormalizeHost(p.Host) {
			continue
		}
		if r.TLSPassthrough {
			return fmt.Errorf("%s is a tls_passthrough route already; it allows every path", r.Host)
		}
		r.PathAllowlist = widen(r.PathAllowlist, p.PathPrefixes)
		r.Methods = widen(r.Methods, p.Methods)
		return nil
	}
	rf.Routes = append(rf.Routes, contract.Route{Host: p.Host, PathAllowlist: p.PathPrefixes, Methods: p.Methods})
	return nil
}

// widen merges an allowlist: empty means "everything", which absorbs any list.
func widen(have, want []string) []string {
	if len(have) == 0 || len(want) == 0 {
		return nil
	}
	out := slices.Clone(have)
	for _, w := range want {
		if !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

func addDLPAllow(rf *contract.RoutesFile, p *contract.DLPBlockPayload) error {
	for i := range rf.Routes {
		r := &rf.Routes[i]
		if contract.NormalizeHost(r.Host) == contract.NormalizeHost(p.Host) {
			if r.TLSPassthrough {
				return fmt.Errorf("%s is tunnelled unread (tls_passthrough); DLP does not run on it", r.Host)
			}
			if !slices.Contains(r.DLPAllow, p.RuleID) {
				r.DLPAllow = append(r.DLPAllow, p.RuleID)
			}
			return nil
		}
	}
	return fmt.Errorf("bottle has no route for %s, so there is no DLP to exempt; approve an egress-block for it first", p.Host)
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
	if ch.routes != nil {
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
	path := o.routesPath(slug)
	old, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	data, err := rf.Marshal()
	if err != nil {
		return "", err
	}
	if err := writeAtomic(path, data); err != nil {
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
	q := queue.Queue{Dir: contract.QueueDirFor(o.Home, it.Slug)}
	if err := q.Respond(resp); err != nil {
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
	var host struct {
		Host string `json:"host"`
	}
	_ = json.Unmarshal(it.Proposal.Payload, &host)
	reason := fmt.Sprintf("proposal %s %s by the operator", resp.ID, resp.Status)
	if resp.Notes != "" {
		reason += ": " + resp.Notes
	}
	rec := contract.AuditRecord{Time: resp.DecidedAt, Component: contract.ComponentCLI, Bottle: it.Slug,
		Host: host.Host, Decision: dec, Rule: string(it.Proposal.Tool), Reason: reason}
	line, err := rec.MarshalLine()
	if err != nil {
		return err
	}
	path := contract.AuditFileFor(o.Home, it.Slug)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open audit file: %w", err)
	}
	defer f.Close()
	_, err = f.Write(line)
	return err
}

func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".routes-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
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
