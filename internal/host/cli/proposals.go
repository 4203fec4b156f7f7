package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/host/manifest"
	"github.com/bot-bottle/bot-bottle/internal/host/proposals"
	"github.com/bot-bottle/bot-bottle/internal/shared/termtext"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// proposalsDeps are what the proposals commands need beyond Env.
type proposalsDeps struct {
	// bottles applies capability and credential approvals; nil: the
	// lifecycle manager on the real engine.
	bottles proposals.BottleChanger
	// credential asks for a cred-block's value; nil: the terminal or
	// --from-env.
	credential func(string, contract.AuthScheme) ([]byte, error)
	// credentialEnv is approve's --from-env.
	credentialEnv string
	// reloader makes a bottle's egress reread its routes; nil: the
	// process-signal reloader (a PID file in the bottle's state directory).
	reloader proposals.Reloader
}

func newProposalsCmd(env Env, g *globals, deps *proposalsDeps) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "proposals",
		Short: "Review what agents asked for: list, show, approve, edit, reject",
		Long: `An agent in a bottle with supervise: true can only propose changes, through
the supervise MCP tools: egress-block (a host), dlp-block (a DLP false
positive), capability-block (image packages or Dockerfile lines) and
cred-block (a credential). Each proposal waits in the bottle's queue,
~/.bot-bottle/state/<slug>/queue/, until you decide it here.

Approving egress-block, or dlp-block for a host, changes the bottle's routes
file (~/.bot-bottle/state/<slug>/config/routes.yaml) and makes its egress
reload at once. For a host that already has a route, an egress-block widens
it only by the path prefixes and methods it names, never lifting a limit;
show says in words what it adds and where the route's credential would then
be sent. Approving dlp-block for a git gate repository adds that one
finding (commit, path, rule, line) to the repository's dlp_exceptions in the
bottle's gate file (~/.bot-bottle/state/<slug>/config/gate.yaml); the gate
rereads it at the agent's next push. capability-block and cred-block are
recorded, and bot-bottle prints what to change by hand. If applying fails,
nothing changes and the proposal stays pending. Every decision is appended to the bottle's audit file.`,
		Example: `  bot-bottle proposals list
  bot-bottle proposals show 3f2a…
  bot-bottle proposals approve 3f2a… --note "ok for this task"
  bot-bottle proposals reject 3f2a… --note "use the mirror instead"`,
	}
	cmd.AddCommand(
		newProposalsListCmd(env, g, deps),
		newProposalsShowCmd(env, g, deps),
		newProposalsApproveCmd(env, g, deps),
		newProposalsEditCmd(env, g, deps),
		newProposalsRejectCmd(env, g, deps),
	)
	return cmd
}

func (d *proposalsDeps) operator(env Env, g *globals) (*proposals.Operator, error) {
	cwd, err := env.Getwd()
	if err != nil {
		return nil, err
	}
	home, err := manifest.ResolveHome(g.home, env.Getenv, cwd)
	if err != nil {
		return nil, err
	}
	changes := bottleChanges{env: env, g: g, home: home}
	op := &proposals.Operator{Home: home, Reloader: d.reloader, Bottles: d.bottles, Credential: d.credential}
	if op.Reloader == nil {
		op.Reloader = changes
	}
	if op.Bottles == nil {
		op.Bottles = changes
	}
	if op.Credential == nil {
		op.Credential = askCredential(env, d.credentialEnv)
	}
	return op, nil
}

// askCredential reads a cred-block's value: from the variable fromEnv when
// given (--from-env), else on the terminal with echo off.
func askCredential(env Env, fromEnv string) func(string, contract.AuthScheme) ([]byte, error) {
	return func(host string, scheme contract.AuthScheme) ([]byte, error) {
		if fromEnv != "" {
			v, ok := env.lookupEnv()(fromEnv)
			if !ok || v == "" {
				return nil, fmt.Errorf("--from-env %s: the variable is not set", fromEnv)
			}
			return []byte(v), nil
		}
		v, err := secretPrompter(env)("the "+string(scheme)+" credential for "+host, "value")
		if err != nil {
			return nil, fmt.Errorf("%w (or pass --from-env VAR)", err)
		}
		return []byte(v), nil
	}
}

// find opens the operator and looks up one proposal by id.
func (d *proposalsDeps) find(env Env, g *globals, id string) (*proposals.Operator, proposals.Item, error) {
	op, err := d.operator(env, g)
	if err != nil {
		return nil, proposals.Item{}, err
	}
	it, err := op.Find(id)
	return op, it, err
}

type proposalView struct {
	ID            string          `json:"id"`
	Bottle        string          `json:"bottle"`
	Tool          string          `json:"tool"`
	Arguments     json.RawMessage `json:"arguments"`
	Justification string          `json:"justification"`
	Status        string          `json:"status"`
	CreatedAt     time.Time       `json:"created_at"`
	Notes         string          `json:"notes,omitempty"`
}

func viewOf(it proposals.Item) proposalView {
	v := proposalView{ID: it.Proposal.ID, Bottle: it.Slug, Tool: string(it.Proposal.Tool), Arguments: it.Proposal.Payload,
		Justification: it.Proposal.Justification, Status: string(it.Status()), CreatedAt: it.Proposal.CreatedAt}
	if it.Response != nil {
		v.Notes = it.Response.Notes
	}
	return v
}

type proposalsListOptions struct {
	json, all bool
	bottle    string
}

func newProposalsListCmd(env Env, g *globals, deps *proposalsDeps) *cobra.Command {
	var opts proposalsListOptions
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List pending proposals (--all for decided ones too)",
		Args:  exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runProposalsList(cmd.Context(), env, g, deps, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.json, "json", false, "print a JSON array (id, bottle, tool, arguments, status, …)")
	cmd.Flags().BoolVar(&opts.all, "all", false, "include approved, edited and rejected proposals")
	cmd.Flags().StringVar(&opts.bottle, "bottle", "", "only this bottle's proposals")
	return cmd
}

func runProposalsList(ctx context.Context, env Env, g *globals, deps *proposalsDeps, opts proposalsListOptions) error {
	op, err := deps.operator(env, g)
	if err != nil {
		return err
	}
	list := op.Pending
	if opts.all {
		list = op.List
	}
	var items []proposals.Item
	var listErr error
	if err := untilDone(ctx, func() error { items, listErr = list(); return nil }); err != nil {
		return err
	}
	views := []proposalView{}
	for _, it := range items {
		if (opts.bottle != "" && it.Slug != opts.bottle) || (!opts.all && it.Response != nil) {
			continue
		}
		views = append(views, viewOf(it))
	}
	if listErr != nil {
		cwd, _ := env.Getwd()
		queues := newDisplay(cwd, env.Getenv("HOME")).path(filepath.Join(contract.StateBottlesDir(op.Home), "<slug>", contract.BottleQueueDir))
		fmt.Fprintf(env.Stderr, "warning: some proposals could not be read and are not listed (remove the bad file from %s to clear this):\n  %s\n",
			termtext.Line(queues), termtext.Block(listErr.Error(), "  "))
	}
	if opts.json {
		return writeJSON(env.Stdout, views)
	}
	if len(views) == 0 {
		fmt.Fprintln(env.Stdout, "no pending proposals")
		return nil
	}
	for _, v := range views {
		fmt.Fprintf(env.Stdout, "%s  %-8s %-16s %-9s %s\n",
			termtext.Line(v.ID), termtext.Line(v.Bottle), termtext.Line(v.Tool), termtext.Line(v.Status), summary(v.Arguments))
	}
	return nil
}

// summaryLen is the most characters summary shows.
const summaryLen = 120

// summary renders arguments compactly on one line, escaped for the
// terminal.
func summary(raw json.RawMessage) string {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return ""
	}
	var parts []string
	for _, k := range []string{"host", "repo", "path_prefixes", "methods", "rule_id", "fingerprint", "scheme", "apt_packages", "dockerfile_lines", "purpose"} {
		if v, ok := m[k]; ok {
			b, _ := json.Marshal(v)
			parts = append(parts, k+"="+string(b))
		}
	}
	s := termtext.Line(strings.Join(parts, " "))
	// Cut whole characters: cutting bytes could split one and print
	// half of it.
	if r := []rune(s); len(r) > summaryLen {
		s = string(r[:summaryLen-3]) + "..."
	}
	return s
}

func newProposalsShowCmd(env Env, g *globals, deps *proposalsDeps) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Show a proposal and what approving it would change",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return untilDone(cmd.Context(), func() error { return showProposal(env, g, deps, args[0]) })
		},
	}
}

// showProposal is proposals show.
func showProposal(env Env, g *globals, deps *proposalsDeps, id string) error {
	op, it, err := deps.find(env, g, id)
	if err != nil {
		return err
	}
	v := viewOf(it)
	// Agent text spans lines only in the reason and notes, each
	// continuation line indented under its label.
	const cont = "             "
	fmt.Fprintf(env.Stdout, "proposal %s\n  bottle:    %s\n  tool:      %s\n  status:    %s\n  created:   %s\n  reason:    %s\n  arguments: %s\n",
		termtext.Line(v.ID), termtext.Line(v.Bottle), termtext.Line(v.Tool), termtext.Line(v.Status), v.CreatedAt.Format(time.RFC3339),
		termtext.Block(strings.TrimSpace(v.Justification), cont), termtext.Block(indentJSON(v.Arguments), "  "))
	if it.Response != nil {
		fmt.Fprintf(env.Stdout, "  decided:   %s %s\n", termtext.Line(string(it.Response.Status)), it.Response.DecidedAt.Format(time.RFC3339))
		if it.Response.Notes != "" {
			fmt.Fprintf(env.Stdout, "  notes:     %s\n", termtext.Block(strings.TrimSpace(it.Response.Notes), cont))
		}
		return nil
	}
	ch, err := op.Preview(it, nil)
	if err != nil {
		fmt.Fprintf(env.Stdout, "\napproving it now would fail: %s\n", termtext.Block(err.Error(), "  "))
		return nil
	}
	cwd, _ := env.Getwd()
	d := newDisplay(cwd, env.Getenv("HOME"))
	if ch.Summary != "" {
		fmt.Fprintf(env.Stdout, "\napproving it %s.\n", termtext.Line(ch.Summary))
	}
	printChange(env.Stdout, ch, "approving would change "+d.path(ch.File)+":")
	return nil
}

// untilDone runs fn, a command that only reads, and returns its error,
// or returns at once when ctx ends first (Ctrl-C, SIGTERM): main catches
// those signals to cancel ctx, so a command that did not watch it could
// only be stopped with SIGKILL. fn is left to finish or not: it writes
// nothing, and the process is about to exit.
func untilDone(ctx context.Context, fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("interrupted: %w", context.Cause(ctx))
	}
}

// indentJSON indents the JSON raw for show, or returns it as it is if it
// is not JSON.
func indentJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}

// printChange prints what deciding a proposal does. The diff holds hosts
// and paths the agent chose, and the next steps quote it; both are
// escaped, though the next steps' lines are the operator's own.
func printChange(w io.Writer, ch *proposals.Change, heading string) {
	if ch.Diff != "" {
		fmt.Fprintf(w, "\n%s\n  %s\n", heading, termtext.Block(strings.TrimSuffix(ch.Diff, "\n"), "  "))
	} else if ch.NextSteps == "" {
		fmt.Fprintln(w, "\nno change: it is already allowed")
	}
	if ch.NextSteps != "" {
		fmt.Fprintf(w, "\n%s\n", termtext.Block(strings.TrimSuffix(ch.NextSteps, "\n"), ""))
	}
}

type decideOptions struct {
	note string
}

func newProposalsApproveCmd(env Env, g *globals, deps *proposalsDeps) *cobra.Command {
	var opts decideOptions
	cmd := &cobra.Command{
		Use:   "approve ID",
		Short: "Approve a proposal as proposed and apply it",
		Args:  exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			op, err := deps.operator(env, g)
			if err != nil {
				return err
			}
			d, err := op.Approve(cmd.Context(), args[0], opts.note)
			if err != nil {
				return err
			}
			reportDecision(env, d)
			return nil
		},
	}
	cmd.Flags().StringVar(&opts.note, "note", "", "a note for the agent")
	cmd.Flags().StringVar(&deps.credentialEnv, "from-env", "", "for a cred-block: read the credential from this variable instead of asking (echo off)")
	return cmd
}

func reportDecision(env Env, d *proposals.Decision) {
	fmt.Fprintf(env.Stdout, "proposal %s %s\n", termtext.Line(d.Response.ID), termtext.Line(string(d.Response.Status)))
	if d.Change.Summary != "" {
		fmt.Fprintf(env.Stdout, "it %s.\n", termtext.Line(d.Change.Summary))
	}
	printChange(env.Stdout, d.Change, "applied:")
	if d.Warning != "" {
		fmt.Fprintf(env.Stderr, "warning: %s\n", termtext.Block(d.Warning, "  "))
	}
}

func newProposalsRejectCmd(env Env, g *globals, deps *proposalsDeps) *cobra.Command {
	var opts decideOptions
	cmd := &cobra.Command{
		Use:   "reject ID --note TEXT",
		Short: "Reject a proposal, telling the agent why",
		Args:  exactArgs("ID"),
		RunE: func(_ *cobra.Command, args []string) error {
			if strings.TrimSpace(opts.note) == "" {
				return usageError{errors.New("reject needs --note saying why, for the agent")}
			}
			op, err := deps.operator(env, g)
			if err != nil {
				return err
			}
			resp, err := op.Reject(args[0], opts.note)
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "proposal %s rejected\n", termtext.Line(resp.ID))
			return nil
		},
	}
	cmd.Flags().StringVar(&opts.note, "note", "", "why, for the agent (required)")
	return cmd
}

func newProposalsEditCmd(env Env, g *globals, deps *proposalsDeps) *cobra.Command {
	var opts decideOptions
	cmd := &cobra.Command{
		Use:   "edit ID",
		Short: "Edit the proposed change in $EDITOR, then apply your version",
		Long: `Edit opens the proposal's arguments (JSON) in $EDITOR (default vi). Save and
quit to apply your version; the agent is told it was edited. Leave the file
unchanged, or empty it, to cancel: the proposal stays pending.`,
		Args: exactArgs("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			op, it, err := deps.find(env, g, args[0])
			if err != nil {
				return err
			}
			if it.Response != nil {
				return fmt.Errorf("proposal %s was already %s", it.Proposal.ID, it.Response.Status)
			}
			edited, err := editJSON(cmd.Context(), env, it.Proposal.Payload)
			if err != nil {
				return err
			}
			if edited == nil {
				fmt.Fprintln(env.Stdout, "no change; the proposal stays pending (use approve to accept it as proposed)")
				return nil
			}
			d, err := op.Edit(cmd.Context(), it.Proposal.ID, edited, opts.note)
			if err != nil {
				return err
			}
			reportDecision(env, d)
			return nil
		},
	}
	cmd.Flags().StringVar(&opts.note, "note", "", "a note for the agent")
	return cmd
}

// editJSON runs $EDITOR on payload; it returns the compacted edited JSON,
// or nil when the operator left it unchanged or empty. The file holds the
// payload with every unprintable character as a JSON escape
// (termtext.JSON): the same values, and nothing an editor or a pager
// could hand to the terminal.
//
// The editor is ended when ctx is (SIGTERM to bot-bottle, which a
// terminal's Ctrl-C would have sent to the editor as well), and the
// proposal stays pending.
func editJSON(ctx context.Context, env Env, payload json.RawMessage) (json.RawMessage, error) {
	var indented bytes.Buffer
	if err := json.Indent(&indented, payload, "", "  "); err != nil {
		return nil, err
	}
	var pretty bytes.Buffer
	pretty.Write(termtext.JSON(indented.Bytes()))
	pretty.WriteString("\n")
	dir, err := os.MkdirTemp("", "bot-bottle-edit-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "proposal.json")
	if err := os.WriteFile(path, pretty.Bytes(), 0o600); err != nil {
		return nil, err
	}
	editor := strings.Fields(env.Getenv("EDITOR"))
	if len(editor) == 0 {
		editor = []string{"vi"}
	}
	cmd := exec.CommandContext(ctx, editor[0], append(editor[1:], path)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = env.Stdin, env.Stdout, env.Stderr
	if err := cmd.Run(); ctx.Err() != nil {
		return nil, fmt.Errorf("interrupted while editing (%w); the proposal stays pending", context.Cause(ctx))
	} else if err != nil {
		return nil, fmt.Errorf("editor %q failed: %w; the proposal stays pending", strings.Join(editor, " "), err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(string(data)) == "" || bytes.Equal(data, pretty.Bytes()) {
		return nil, nil
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, data); err != nil {
		return nil, fmt.Errorf("your edit is not valid JSON (%v); the proposal stays pending", err)
	}
	return compact.Bytes(), nil
}
