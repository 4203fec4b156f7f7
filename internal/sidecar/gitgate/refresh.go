package gitgate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/sideband"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// refreshResult says what a refresh changed.
type refreshResult struct {
	fetched bool // a pack was fetched
	updated int  // refs created, moved or deleted
	pruned  bool // unreachable objects were dropped
}

// refreshIfStale refreshes r from its upstream unless a refresh that started
// after since already succeeded (concurrent fetches share one refresh
// instead of queueing one each), or one started less than interval before
// since: then the fetch gets what that one found, or its error, so that
// the agent cannot make the gate log in to the upstream at will. A
// failed refresh still fails every fetch until the next one succeeds.
func (r *repo) refreshIfStale(ctx context.Context, since time.Time, interval time.Duration) (refreshResult, error) {
	if err := r.acquire(ctx); err != nil {
		return refreshResult{}, err
	}
	defer r.release()
	if r.lastRefresh.After(since) {
		return refreshResult{}, nil
	}
	if !r.lastAttempt.IsZero() && since.Sub(r.lastAttempt) < interval {
		return refreshResult{}, r.lastErr
	}
	start := time.Now()
	res, err := r.refresh(ctx)
	switch {
	case err == nil:
		r.lastRefresh, r.lastAttempt, r.lastErr = start, start, nil
	case ctx.Err() != nil:
		// This client went away; the next fetch tries again.
		r.lastAttempt, r.lastErr = time.Time{}, nil
	default:
		r.lastAttempt, r.lastErr = start, err
	}
	return res, err
}

// refresh makes the gate a mirror of the upstream: it fetches the objects
// it lacks, then creates, moves and deletes refs to match, and points HEAD
// where the upstream's does. Called with r's lock held.
func (r *repo) refresh(ctx context.Context) (refreshResult, error) {
	var res refreshResult
	if err := r.ensureInit(ctx); err != nil {
		return res, err
	}
	sess, err := r.up.open(ctx, transport.UploadPackServiceName)
	if err != nil {
		return res, err
	}
	defer sess.Close()
	ups := sess.Session.(transport.UploadPackSession)
	adv, err := ups.AdvertisedReferencesContext(ctx)
	empty := errors.Is(err, transport.ErrEmptyRemoteRepository)
	if err != nil && !empty {
		return res, r.upstreamFailed("list its refs", err)
	}
	want := map[plumbing.ReferenceName]plumbing.Hash{}
	if !empty {
		for name, h := range adv.References {
			if n := plumbing.ReferenceName(name); validPushRef(n) == nil {
				want[n] = h
			}
		}
	}
	have, err := r.refs()
	if err != nil {
		return res, err
	}
	st := openStorage(r.dir)
	missing := map[plumbing.Hash]bool{}
	for _, h := range want {
		ok, err := hasObject(st, h)
		if err != nil {
			st.Close()
			return res, fmt.Errorf("read objects: %w", err)
		}
		if !ok {
			missing[h] = true
		}
	}
	st.Close()
	if len(missing) > 0 {
		if err := r.fetchPack(ctx, ups, adv, missing, have); err != nil {
			return res, err
		}
		res.fetched = true
	}
	var updates []refUpdate
	for name, h := range want {
		if have[name] != h {
			updates = append(updates, refUpdate{Name: name, Old: have[name], New: h})
		}
	}
	for name, h := range have {
		if _, ok := want[name]; !ok {
			updates = append(updates, refUpdate{Name: name, Old: h})
		}
	}
	if err := r.updateRefs(ctx, updates); err != nil {
		return res, err
	}
	res.updated = len(updates)
	if r.needPrune || r.rewinds(ctx, updates) {
		// Fail closed: a gate that cannot drop what the upstream dropped
		// serves nothing.
		if err := r.prune(ctx); err != nil {
			return res, err
		}
		res.pruned = true
	}
	if !empty {
		for _, v := range adv.Capabilities.Get(capability.SymRef) {
			if target, ok := strings.CutPrefix(v, "HEAD:"); ok {
				if err := r.setHead(ctx, plumbing.ReferenceName(target)); err != nil {
					return res, err
				}
			}
		}
	}
	return res, nil
}

// fetchPack asks the upstream for the missing objects and indexes the pack
// straight into the gate's object store (upstream content needs no scan).
func (r *repo) fetchPack(ctx context.Context, ups transport.UploadPackSession, adv *packp.AdvRefs,
	missing map[plumbing.Hash]bool, have map[plumbing.ReferenceName]plumbing.Hash) error {
	req := packp.NewUploadPackRequestFromCapabilities(adv.Capabilities)
	for h := range missing {
		req.Wants = append(req.Wants, h)
	}
	seen := map[plumbing.Hash]bool{}
	for _, h := range have {
		if !seen[h] && !missing[h] {
			seen[h] = true
			req.Haves = append(req.Haves, h)
		}
	}
	if adv.Capabilities.Supports(capability.NoProgress) {
		_ = req.Capabilities.Set(capability.NoProgress)
	}
	resp, err := ups.UploadPack(ctx, req)
	if err != nil {
		return r.upstreamFailed("send a pack", err)
	}
	defer resp.Close()
	var pack io.Reader = resp
	switch {
	case req.Capabilities.Supports(capability.Sideband64k):
		pack = sideband.NewDemuxer(sideband.Sideband64k, resp)
	case req.Capabilities.Supports(capability.Sideband):
		pack = sideband.NewDemuxer(sideband.Sideband, resp)
	}
	if _, err := indexPack(ctx, r.dir, pack, nil, 0); err != nil {
		return r.upstreamFailed("send a usable pack", err)
	}
	return nil
}

func (r *repo) upstreamFailed(what string, err error) error {
	return &upstreamError{msg: fmt.Sprintf("upstream %s did not %s: %v", r.up.url, what, err), err: err}
}
