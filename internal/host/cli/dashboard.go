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
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/bot-bottle/bot-bottle/internal/host/bottle"
	"github.com/bot-bottle/bot-bottle/internal/host/dashboard"
	"github.com/bot-bottle/bot-bottle/internal/host/manifest"
	"github.com/bot-bottle/bot-bottle/internal/host/proposals"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

type dashboardOptions struct {
	json, text bool
}

func newDashboardCmd(env Env, g *globals, pdeps *proposalsDeps, odeps *opsDeps) *cobra.Command {
	var opts dashboardOptions
	cmd := &cobra.Command{
		Use:   "dashboard",
		Short: "A live console of every bottle and every pending proposal",
		Long: `Dashboard shows every bottle (running and stopped) and every pending proposal,
refreshed once a second, and rings the terminal bell when an agent proposes
something. Select a proposal to read the agent's reason, what approving it
would grant in plain words, and the routes or gate file diff; then:

  a  approve (with an optional note)   r  reject (a note is required)
  e  edit in $EDITOR                   enter  attach to the bottle's agent
  l  live tail of the audit log        n  start a new bottle (preflight first)
  tab  switch pane   ?  help   q  quit (Ctrl-C quits with status 130)

Each action is the command line's own: proposals approve/reject/edit,
resume and up. Without a terminal, dashboard prints one text snapshot
(--json: the same as JSON) and exits. NO_COLOR turns colours off. If the
dashboard crashes it restores the terminal and writes the stack to
<home>/logs/dashboard-crash.log.`,
		Example: `  bot-bottle dashboard
  bot-bottle dashboard --json | jq '.proposals[] | .id'`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDashboard(cmd.Context(), env, g, pdeps, odeps, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.json, "json", false, "print one snapshot as JSON (bottles, proposals, problems) and exit")
	cmd.Flags().BoolVar(&opts.text, "once", false, "print one text snapshot and exit, even on a terminal")
	return cmd
}

func runDashboard(ctx context.Context, env Env, g *globals, pdeps *proposalsDeps, odeps *opsDeps, opts dashboardOptions) error {
	home, _, err := g.stateHome(env)
	if err != nil {
		return err
	}
	b := &dashBackend{env: env, g: g, home: home, pdeps: pdeps, odeps: odeps}
	out, isFile := env.Stdout.(*os.File)
	tty := env.Terminal != nil && isFile && term.IsTerminal(int(out.Fd()))
	if opts.json {
		return writeJSON(env.Stdout, b.Snapshot(ctx))
	}
	if opts.text || !tty {
		_, err := io.WriteString(env.Stdout, dashboard.Text(b.Snapshot(ctx), odeps.clock()))
		return err
	}
	return runDashboardTUI(ctx, env, b, filepath.Join(home, "logs", "dashboard-crash.log"), env.Terminal, out)
}

// runDashboardTUI runs the dashboard on the terminal until the operator
// quits. A panic restores the terminal (bubbletea does) and leaves its
// stack in the crash log, whose path is printed.
func runDashboardTUI(ctx context.Context, env Env, b dashboard.Backend, crashPath string, in io.Reader, out io.Writer) error {
	crash := &crashLog{path: crashPath}
	m := dashboard.New(guardedBackend{b, crash}, dashboard.Options{Bell: out, Color: env.Getenv("NO_COLOR") == "", Context: ctx})
	p := tea.NewProgram(guardedModel{m, crash}, tea.WithAltScreen(), tea.WithInput(in), tea.WithOutput(out), tea.WithContext(ctx))
	_, err := p.Run()
	if crash.crashed.Load() {
		return fmt.Errorf("the dashboard crashed; its stack is in %s (please report it)", crash.path)
	}
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return exitStatus{dashboard.ExitInterrupted}
	}
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	if code := m.ExitCode(); code != 0 {
		return exitStatus{code}
	}
	return nil
}

// crashLog writes the first panic's stack.
type crashLog struct {
	path    string
	crashed atomic.Bool
}

func (c *crashLog) record(r any) {
	if c.crashed.Swap(true) {
		return
	}
	text := fmt.Sprintf("%s bot-bottle dashboard panic: %v\n\n%s", time.Now().UTC().Format(time.RFC3339), r, debug.Stack())
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err == nil {
		_ = os.WriteFile(c.path, []byte(text), 0o600)
	}
}

// guard records a panic in the crash log and panics again, for bubbletea
// to restore the terminal.
func (c *crashLog) guard() {
	if r := recover(); r != nil {
		c.record(r)
		panic(r)
	}
}

type guardedModel struct {
	m     *dashboard.Model
	crash *crashLog
}

func (g guardedModel) Init() tea.Cmd { defer g.crash.guard(); return g.m.Init() }
func (g guardedModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	defer g.crash.guard()
	_, cmd := g.m.Update(msg)
	return g, cmd
}
func (g guardedModel) View() string { defer g.crash.guard(); return g.m.View() }

// guardedBackend records a panic in any backend call (they run in
// bubbletea's command goroutines) before bubbletea sees it.
type guardedBackend struct {
	b     dashboard.Backend
	crash *crashLog
}

func (g guardedBackend) Snapshot(ctx context.Context) dashboard.Snapshot {
	defer g.crash.guard()
	return g.b.Snapshot(ctx)
}
func (g guardedBackend) Detail(id string) (dashboard.Detail, error) {
	defer g.crash.guard()
	return g.b.Detail(id)
}
func (g guardedBackend) Tail(slug string, n int) ([]string, error) {
	defer g.crash.guard()
	return g.b.Tail(slug, n)
}
func (g guardedBackend) Agents() ([]string, error) { defer g.crash.guard(); return g.b.Agents() }
func (g guardedBackend) Preflight(agent string) (string, error) {
	defer g.crash.guard()
	return g.b.Preflight(agent)
}
func (g guardedBackend) Approve(ctx context.Context, id, note string) (string, error) {
	defer g.crash.guard()
	return g.b.Approve(ctx, id, note)
}
func (g guardedBackend) Reject(id, note string) (string, error) {
	defer g.crash.guard()
	return g.b.Reject(id, note)
}
func (g guardedBackend) ApproveCommand(id, note string) *exec.Cmd {
	return g.b.ApproveCommand(id, note)
}
func (g guardedBackend) EditCommand(id string) *exec.Cmd     { return g.b.EditCommand(id) }
func (g guardedBackend) AttachCommand(slug string) *exec.Cmd { return g.b.AttachCommand(slug) }
func (g guardedBackend) UpCommand(agent string) *exec.Cmd    { return g.b.UpCommand(agent) }

// dashBackend is the dashboard's Backend on the bottles under home: the
// code of list, proposals, logs --audit, up and resume.
type dashBackend struct {
	env   Env
	g     *globals
	home  string
	pdeps *proposalsDeps
	odeps *opsDeps
}

// auditWindow is how far back the request counts look.
const auditWindow = time.Minute

// auditTailBytes is how much of an audit file's end the dashboard reads:
// enough for a busy minute, never the whole file.
const auditTailBytes = 256 << 10

func (d *dashBackend) Snapshot(ctx context.Context) dashboard.Snapshot {
	now := d.odeps.clock()
	s := dashboard.Snapshot{TakenAt: now}
	known, err := bottle.All(d.home)
	if err != nil {
		s.Problems = append(s.Problems, "cannot read the bottles: "+errLine(err))
	}
	onEngine, err := d.odeps.eng().BottleContainers(ctx)
	if err != nil {
		s.Problems = append(s.Problems, "cannot ask Docker which bottles run (is the engine up? 'bot-bottle doctor' checks): "+errLine(err))
	}
	providers := map[string]string{}
	for _, k := range known {
		if k.Metadata != nil {
			providers[filepath.Base(string(k.Dir))] = k.Metadata.Provider
		}
	}
	views, _ := listedBottles(d.home, known, onEngine, true)
	pending := map[string]int{}
	if op, err := d.pdeps.operator(d.env, d.g); err != nil {
		s.Problems = append(s.Problems, "cannot read proposals: "+errLine(err))
	} else {
		items, err := op.Pending()
		if err != nil {
			s.Problems = append(s.Problems, "some proposals could not be read: "+errLine(err))
		}
		for _, it := range items {
			pending[it.Slug]++
			tool := it.Proposal.Tool
			s.Proposals = append(s.Proposals, dashboard.Proposal{
				ID: it.Proposal.ID, Bottle: it.Slug, Tool: string(tool), CreatedAt: it.Proposal.CreatedAt,
				Reason: it.Proposal.Justification, Grants: proposals.Grants(it.Proposal),
				Terminal: tool == contract.ToolCredBlock || tool == contract.ToolCapabilityBlock,
			})
		}
	}
	for _, v := range views {
		b := dashboard.Bottle{Slug: v.Slug, Agent: v.Agent, Provider: providers[v.Slug], Status: v.Status, State: v.State,
			StartedAt: v.started, Services: v.Services, Pending: pending[v.Slug], Problem: v.Error}
		if v.Status == statusOrphaned {
			b.Problem = "orphaned; remove with: " + v.Fix
		}
		if dir, err := contract.StateBottleDir(d.home, v.Slug); err == nil && v.Status != statusOrphaned {
			b.Requests, b.Denials = egressCounts(dir.AuditFile(), now.Add(-auditWindow))
		}
		s.Bottles = append(s.Bottles, b)
	}
	if _, err := d.manifests(); err != nil {
		s.Problems = append(s.Problems, err.Error())
	}
	return s
}

// egressCounts counts egress's records since from, and its denials, in
// the audit file at path. Records are appended in time order, so it reads
// back from the end and stops at the first older than from: a refresh
// reads and decodes only the last minute's records.
func egressCounts(path string, from time.Time) (requests, denials int) {
	auditLinesBack(path, func(line []byte) bool {
		var rec struct {
			Time      time.Time         `json:"time"`
			Component string            `json:"component"`
			Decision  contract.Decision `json:"decision"`
		}
		if json.Unmarshal(line, &rec) != nil {
			return true
		}
		if rec.Time.Before(from) {
			return false
		}
		if rec.Component == contract.ComponentEgress {
			requests++
			if rec.Decision == contract.DecisionDeny {
				denials++
			}
		}
		return true
	})
	return requests, denials
}

// auditChunk is how much of the audit file auditLinesBack reads at once.
const auditChunk = 16 << 10

// auditLinesBack calls each with the complete lines of the audit file at
// path, the last first, reading back from its end a chunk at a time, until
// each returns false or auditTailBytes were read. A line still being
// written (no '\n' yet) is left out. The file is opened as a reader that
// trusts nothing there: no symbolic link, no blocking open of a pipe, a
// regular file only.
func auditLinesBack(path string, each func(line []byte) bool) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return
	}
	end, first := fi.Size(), true
	var carry []byte // a line whose start is in a chunk not read yet
	for read := int64(0); end > 0 && read < auditTailBytes; {
		n := min(auditChunk, end)
		buf := make([]byte, n, n+int64(len(carry)))
		if _, err := f.ReadAt(buf, end-n); err != nil {
			return
		}
		end, read = end-n, read+n
		data := append(buf, carry...)
		if first {
			i := bytes.LastIndexByte(data, '\n')
			if i < 0 {
				carry = data
				continue
			}
			data, first = data[:i], false
		}
		for {
			i := bytes.LastIndexByte(data, '\n')
			if i < 0 {
				break
			}
			if !each(data[i+1:]) {
				return
			}
			data = data[:i]
		}
		if end == 0 {
			if len(data) > 0 {
				each(data)
			}
			return
		}
		carry = data
	}
}

// manifests loads the manifests; its error is one line for the status
// line.
func (d *dashBackend) manifests() (*manifest.Manifest, error) {
	cwd, err := d.env.Getwd()
	if err != nil {
		return nil, fmt.Errorf("find the working directory: %w", err)
	}
	m, err := manifest.Load(manifest.Options{Home: d.home, CWD: cwd, RepoOverrides: d.g.repoOverrides})
	var problems manifest.Problems
	if errors.As(err, &problems) && len(problems) > 0 {
		return nil, fmt.Errorf("the manifests have %s ('bot-bottle validate' lists them): %s", plural(len(problems), "problem"), newDisplay(cwd, d.env.Getenv("HOME")).problem(problems[0]))
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the manifests: %w", err)
	}
	return m, nil
}

func (d *dashBackend) Detail(id string) (dashboard.Detail, error) {
	op, it, err := d.pdeps.find(d.env, d.g, id)
	if err != nil {
		return dashboard.Detail{}, err
	}
	ch, err := op.Preview(it, nil)
	if err != nil {
		return dashboard.Detail{}, err
	}
	diff := ch.Diff
	if ch.NextSteps != "" {
		diff = strings.TrimRight(diff+"\n"+ch.NextSteps, "\n")
	}
	return dashboard.Detail{Change: ch.Summary, Diff: strings.TrimLeft(diff, "\n")}, nil
}

func (d *dashBackend) Tail(slug string, n int) ([]string, error) {
	dir, err := contract.StateBottleDir(d.home, slug)
	if err != nil {
		return nil, err
	}
	var out []string
	auditLinesBack(dir.AuditFile(), func(line []byte) bool {
		out = append(out, formatAuditLine(0, line, d.odeps.location()))
		return len(out) < n
	})
	slices.Reverse(out)
	return out, nil
}

func (d *dashBackend) Agents() ([]string, error) {
	m, err := d.manifests()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(m.Agents))
	for name := range m.Agents {
		names = append(names, name)
	}
	slices.Sort(names)
	return names, nil
}

// Preflight is up --dry-run's output.
func (d *dashBackend) Preflight(agent string) (string, error) {
	var out, errs bytes.Buffer
	env := d.env
	env.Stdin, env.Stdout, env.Stderr, env.Terminal = strings.NewReader(""), &out, &errs, nil
	g := &globals{home: d.home, repoOverrides: d.g.repoOverrides}
	if err := runUp(context.Background(), env, g, upOptions{agent: agent, dryRun: true, maxWorkspace: "2G"}); err != nil {
		return "", fmt.Errorf("%s%w", errs.String(), err)
	}
	// The dry run names a slug and a state directory; the real start
	// picks a new slug, so neither is shown.
	var kept []string
	for _, l := range strings.Split(strings.TrimRight(out.String(), "\n"), "\n") {
		if t := strings.TrimSpace(l); strings.HasPrefix(t, "dry run:") || strings.HasPrefix(t, "state:") {
			continue
		}
		kept = append(kept, l)
	}
	return strings.TrimRight(strings.Join(kept, "\n"), "\n") + "\n\nThe bottle gets its slug when it starts.\n", nil
}

func (d *dashBackend) Approve(ctx context.Context, id, note string) (string, error) {
	op, err := d.pdeps.operator(d.env, d.g)
	if err != nil {
		return "", err
	}
	dec, err := op.Approve(ctx, id, note)
	if err != nil {
		return "", err
	}
	s := fmt.Sprintf("proposal %s %s", dec.Response.ID, dec.Response.Status)
	if dec.Change.Summary != "" {
		s += ": it " + dec.Change.Summary
	}
	if dec.Warning != "" {
		s += " (" + dec.Warning + ")"
	}
	return s, nil
}

func (d *dashBackend) Reject(id, note string) (string, error) {
	op, err := d.pdeps.operator(d.env, d.g)
	if err != nil {
		return "", err
	}
	resp, err := op.Reject(id, note)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("proposal %s rejected", resp.ID), nil
}

// self runs this bot-bottle binary on the same home with args.
func (d *dashBackend) self(args ...string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		return nil
	}
	global := []string{"--home", d.home}
	if d.g.repoOverrides {
		global = append(global, "--repo-overrides")
	}
	return exec.Command(exe, append(global, args...)...)
}

func (d *dashBackend) ApproveCommand(id, note string) *exec.Cmd {
	return d.self("proposals", "approve", id, "--note", note)
}
func (d *dashBackend) EditCommand(id string) *exec.Cmd     { return d.self("proposals", "edit", id) }
func (d *dashBackend) AttachCommand(slug string) *exec.Cmd { return d.self("resume", slug) }
func (d *dashBackend) UpCommand(agent string) *exec.Cmd    { return d.self("up", agent, "--yes") }
