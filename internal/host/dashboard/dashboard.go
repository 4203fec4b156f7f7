// Package dashboard is bot-bottle's live console: a terminal UI over every
// bottle and every pending proposal, from which the operator approves,
// rejects and edits proposals, attaches to agents, tails audit logs and
// starts bottles. It draws and reacts; what it reads and does comes from a
// Backend, which the CLI implements with the code of its own commands, so
// that an action taken here is the one the command line takes.
package dashboard

import (
	"context"
	"os/exec"
	"time"
)

// Bottle is one row of the bottles pane.
type Bottle struct {
	Slug     string `json:"slug"`
	Agent    string `json:"agent"`
	Provider string `json:"provider,omitempty"`
	// Status is running, stopped or orphaned; State is what bot-bottle
	// last recorded (running, stopped, failed, starting).
	Status    string    `json:"status"`
	State     string    `json:"state,omitempty"`
	StartedAt time.Time `json:"started_at,omitzero"`
	// Services maps each service to its health or state as the engine
	// reports it.
	Services map[string]string `json:"services"`
	// Pending counts the bottle's proposals awaiting a decision.
	Pending int `json:"pending"`
	// Requests and Denials count egress's decisions in the last minute.
	Requests int `json:"egress_requests_1m"`
	Denials  int `json:"egress_denials_1m"`
	// Problem says why the bottle cannot be read fully ("" if it can).
	Problem string `json:"problem,omitempty"`
}

// Proposal is one pending proposal.
type Proposal struct {
	ID        string    `json:"id"`
	Bottle    string    `json:"bottle"`
	Tool      string    `json:"tool"`
	CreatedAt time.Time `json:"created_at"`
	// Reason is the agent's justification, as the agent wrote it.
	Reason string `json:"reason"`
	// Grants says in words what approving it would let the agent do.
	Grants string `json:"grants"`
	// Terminal is set when approving needs the terminal: a credential is
	// asked for with echo off, or an image is rebuilt with progress.
	Terminal bool `json:"-"`
}

// Snapshot is what the dashboard shows at one moment.
type Snapshot struct {
	Bottles   []Bottle   `json:"bottles"`
	Proposals []Proposal `json:"proposals"`
	// Problems are what could not be read (a broken manifest, a bad queue
	// file, the engine down); each is a status line, never a crash.
	Problems []string  `json:"problems,omitempty"`
	TakenAt  time.Time `json:"taken_at"`
}

// Detail is what approving a proposal would change, read when it is
// selected.
type Detail struct {
	// Change says what approving does to the bottle as it is now: the
	// limits a route gains or keeps, the credential it carries ("" if the
	// diff says it all).
	Change string
	// Diff is the routes or gate file's diff, or the steps left to do by
	// hand ("" if none).
	Diff string
}

// Backend reads the bottles and proposals and acts on them.
type Backend interface {
	// Snapshot reads every bottle and pending proposal; what cannot be
	// read is a Problem, never an error.
	Snapshot(ctx context.Context) Snapshot
	// Detail previews approving the proposal id.
	Detail(id string) (Detail, error)
	// Tail returns the last n lines of the bottle's audit log, formatted
	// and escaped.
	Tail(slug string, n int) ([]string, error)
	// Agents lists the agents a bottle can be started for.
	Agents() ([]string, error)
	// Preflight shows what starting agent would start, starting nothing.
	Preflight(agent string) (string, error)
	// Approve and Reject decide a proposal that needs no terminal and
	// return what happened, in words.
	Approve(ctx context.Context, id, note string) (string, error)
	Reject(id, note string) (string, error)
	// The commands that take the terminal over: the dashboard suspends
	// while they run.
	ApproveCommand(id, note string) *exec.Cmd
	EditCommand(id string) *exec.Cmd
	AttachCommand(slug string) *exec.Cmd
	UpCommand(agent string) *exec.Cmd
}
