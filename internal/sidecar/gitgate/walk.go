package gitgate

import (
	"container/heap"
	"fmt"
	"math"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
)

// introducedCommits returns the commits reachable from tips and from none
// of exclude — what `git rev-list TIPS --not EXCLUDE` lists — newest first.
// It is git's limit_list: a walk in committer-date order that paints
// commits reachable from exclude uninteresting and stops once only
// uninteresting commits are queued. Clock skew can make it return extra
// commits (they get scanned), never fewer.
func introducedCommits(s storer.EncodedObjectStorer, tips, exclude []plumbing.Hash) ([]*object.Commit, error) {
	w := &walker{s: s, nodes: map[plumbing.Hash]*walkNode{}}
	for _, h := range exclude {
		if err := w.push(h, true); err != nil {
			return nil, err
		}
	}
	for _, h := range tips {
		if err := w.push(h, false); err != nil {
			return nil, err
		}
	}
	var out []*walkNode
	// date is the committer time of the last interesting commit listed.
	date := int64(math.MaxInt64)
	slop := walkSlop
	for w.queue.Len() > 0 {
		n := heap.Pop(&w.queue).(*walkNode)
		n.done = true
		if !n.uninteresting {
			w.interesting--
		}
		for _, p := range n.commit.ParentHashes {
			if err := w.push(p, n.uninteresting); err != nil {
				return nil, err
			}
		}
		if n.uninteresting {
			w.markParentsUninteresting(n)
			if slop = w.stillInteresting(date, slop); slop == 0 {
				break
			}
			continue
		}
		date = n.commit.Committer.When.Unix()
		out = append(out, n)
	}
	commits := make([]*object.Commit, 0, len(out))
	for _, n := range out {
		if !n.uninteresting {
			commits = append(commits, n.commit)
		}
	}
	return commits, nil
}

// walkSlop is how many more commits the walk takes once only uninteresting
// ones are queued, all older than the last interesting one, as in git.
const walkSlop = 5

type walkNode struct {
	commit        *object.Commit
	uninteresting bool
	done          bool // popped and its parents queued
	seq           int  // insertion order, to break date ties
}

type walker struct {
	s     storer.EncodedObjectStorer
	nodes map[plumbing.Hash]*walkNode
	queue nodeQueue
	seq   int
	// interesting counts the interesting commits in queue.
	interesting int
}

// paint marks n uninteresting.
func (w *walker) paint(n *walkNode) {
	if !n.uninteresting {
		n.uninteresting = true
		if !n.done {
			w.interesting--
		}
	}
}

// push queues the commit h once; a commit queued again as uninteresting is
// repainted.
func (w *walker) push(h plumbing.Hash, uninteresting bool) error {
	if n, ok := w.nodes[h]; ok {
		if uninteresting && !n.uninteresting {
			w.paint(n)
			w.markParentsUninteresting(n)
		}
		return nil
	}
	c, err := object.GetCommit(w.s, h)
	if err != nil {
		return fmt.Errorf("read commit %s: %w", h, err)
	}
	w.seq++
	n := &walkNode{commit: c, uninteresting: uninteresting, seq: w.seq}
	w.nodes[h] = n
	heap.Push(&w.queue, n)
	if !uninteresting {
		w.interesting++
	}
	return nil
}

// markParentsUninteresting paints the already-walked ancestors of n.
// Parents not walked yet carry the paint when they are popped.
func (w *walker) markParentsUninteresting(n *walkNode) {
	stack := []*walkNode{n}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if !n.done {
			continue
		}
		for _, p := range n.commit.ParentHashes {
			pn, ok := w.nodes[p]
			if !ok || pn.uninteresting {
				continue
			}
			w.paint(pn)
			stack = append(stack, pn)
		}
	}
}

// stillInteresting is git's still_interesting: the remaining slop, or 0
// when the walk can stop.
func (w *walker) stillInteresting(date int64, slop int) int {
	if w.queue.Len() == 0 {
		return 0
	}
	if date <= w.queue[0].commit.Committer.When.Unix() {
		return walkSlop
	}
	if w.interesting > 0 {
		return walkSlop
	}
	return slop - 1
}

// nodeQueue is a max-heap on committer time, oldest insertion first on
// ties.
type nodeQueue []*walkNode

func (q nodeQueue) Len() int { return len(q) }
func (q nodeQueue) Less(i, j int) bool {
	ti, tj := q[i].commit.Committer.When.Unix(), q[j].commit.Committer.When.Unix()
	if ti != tj {
		return ti > tj
	}
	return q[i].seq < q[j].seq
}
func (q nodeQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *nodeQueue) Push(x any)   { *q = append(*q, x.(*walkNode)) }
func (q *nodeQueue) Pop() any {
	old := *q
	n := old[len(old)-1]
	*q = old[:len(old)-1]
	return n
}

// markReachable adds to reached every object in the quarantine (inQ)
// reachable from tree h, descending only through quarantined trees:
// anything else is in the gate's store, whose contents are complete.
func markReachable(s storer.EncodedObjectStorer, h plumbing.Hash, inQ func(plumbing.Hash) bool, reached map[plumbing.Hash]struct{}) error {
	stack := []plumbing.Hash{h}
	for len(stack) > 0 {
		h := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if _, ok := reached[h]; ok || !inQ(h) {
			continue
		}
		reached[h] = struct{}{}
		t, err := object.GetTree(s, h)
		if err != nil {
			return fmt.Errorf("read tree %s: %w", h, err)
		}
		for _, e := range t.Entries {
			switch {
			case e.Mode == filemode.Submodule:
				// A gitlink names a commit in another repository.
			case e.Mode == filemode.Dir:
				stack = append(stack, e.Hash)
			default:
				if inQ(e.Hash) {
					reached[e.Hash] = struct{}{}
				}
			}
		}
	}
	return nil
}
