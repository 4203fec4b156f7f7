package gitgate

import (
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// maxTagChain bounds tag-of-tag chains.
const maxTagChain = 16

// introduced works out what cmds introduce: the commits reachable from the
// new tips and from no gate ref, new tag objects, and trees and blobs
// pointed at directly. It also counts the quarantined objects that nothing
// pushed reaches and the gate does not already hold: smuggled past the
// scan, they must refuse the push. isNew reports whether an object is in
// the quarantine and not on the gate.
func (p *pushContext) introduced(cmds []command) (plan scanPlan, smuggled int, isNew func(plumbing.Hash) bool, err error) {
	st, q := p.st, p.q
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
			has, _ = hasObject(p.gate, h)
			onGate[h] = has
		}
		return !has
	}
	refValues := map[plumbing.Hash]bool{}
	for _, h := range p.refs {
		refValues[h] = true
	}
	reached := map[plumbing.Hash]struct{}{}
	seenTag := map[plumbing.Hash]bool{}
	var tips []plumbing.Hash
	// pushed maps each ref's peeled commit to its old value, peeled.
	type pushedTip struct{ tip, old plumbing.Hash }
	var pushed []pushedTip
	for _, c := range cmds {
		if c.isDelete() {
			continue
		}
		plan.refs = append(plan.refs, c.Name)
		h := c.New
	peel:
		for range maxTagChain {
			obj, err := st.EncodedObject(plumbing.AnyObject, h)
			if err != nil {
				return plan, 0, nil, fmt.Errorf("read %s: %w", h, err)
			}
			// A tree is marked by markReachable, which expands only roots
			// not reached yet.
			if inQ(h) && obj.Type() != plumbing.TreeObject {
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
				pushed = append(pushed, pushedTip{tip: h, old: peelCommit(st, c.Old)})
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
	exclude, err := peeledCommits(st, p.refs)
	if err != nil {
		return plan, 0, nil, err
	}
	if plan.commits, err = introducedCommits(st, tips, exclude); err != nil {
		return plan, 0, nil, err
	}
	isIntroduced := map[plumbing.Hash]*object.Commit{}
	for _, c := range plan.commits {
		isIntroduced[c.Hash] = c
	}
	seenNet := map[netDiff]bool{}
	for _, pt := range pushed {
		if isIntroduced[pt.tip] == nil {
			continue // nothing new in it
		}
		n := netDiff{base: pt.old, tip: pt.tip}
		if n.base.IsZero() {
			// The nearest ancestor the gate had, along first parents.
			for c := isIntroduced[pt.tip]; c != nil; {
				if len(c.ParentHashes) == 0 {
					break
				}
				p := c.ParentHashes[0]
				if c = isIntroduced[p]; c == nil {
					n.base = p
				}
			}
		}
		if !seenNet[n] {
			seenNet[n] = true
			plan.nets = append(plan.nets, n)
		}
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

// peelCommit returns the commit h is or points at through tags; zero if
// none.
func peelCommit(st storer.EncodedObjectStorer, h plumbing.Hash) plumbing.Hash {
	for range maxTagChain {
		if h.IsZero() {
			return h
		}
		obj, err := st.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return plumbing.ZeroHash
		}
		switch obj.Type() {
		case plumbing.CommitObject:
			return h
		case plumbing.TagObject:
			t, err := object.DecodeTag(st, obj)
			if err != nil {
				return plumbing.ZeroHash
			}
			h = t.Target
		default:
			return plumbing.ZeroHash
		}
	}
	return plumbing.ZeroHash
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
