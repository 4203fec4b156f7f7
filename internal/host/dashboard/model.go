package dashboard

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
)

// RefreshEvery is how often the dashboard rereads the bottles: at most
// once a second.
const RefreshEvery = time.Second

// tailLines is how many audit lines the live tail shows at most.
const tailLines = 200

// ExitInterrupted is the exit code after Ctrl-C.
const ExitInterrupted = 130

// pane is which list has the focus.
type pane int

const (
	paneBottles pane = iota
	paneProposals
)

// mode is what the keys do: browse, type a note, read help, tail a log,
// pick an agent, confirm a start.
type mode int

const (
	modeBrowse mode = iota
	modeNote
	modeHelp
	modeTail
	modePickAgent
	modeConfirmUp
)

// Messages.
type (
	tickMsg     struct{}
	snapshotMsg Snapshot
	detailMsg   struct {
		id     string
		detail Detail
		err    error
	}
	tailMsg struct {
		slug  string
		lines []string
		err   error
	}
	agentsMsg struct {
		agents []string
		err    error
	}
	preflightMsg struct {
		agent, text string
		err         error
	}
	// doneMsg reports an action that ran: what to say, or its error.
	doneMsg struct {
		what string
		err  error
	}
)

// Options configure a Model.
type Options struct {
	// Bell is where the terminal bell is rung for a new proposal; nil:
	// nowhere.
	Bell io.Writer
	// Color styles the view; without it the view is plain text.
	Color bool
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// Context bounds the backend's work; nil: context.Background.
	Context context.Context
}

// Model is the dashboard's state. It is driven by bubbletea: messages in,
// view out.
type Model struct {
	backend Backend
	opts    Options
	styles  styles

	width, height int
	snap          Snapshot
	painted       bool            // a snapshot has been shown
	seen          map[string]bool // proposal ids shown so far
	fresh         map[string]bool // ids that arrived after the first paint
	newest        string          // the newest pending proposal's id
	loading       bool            // a snapshot is being read
	bells         int

	focus    pane
	bottle   string // the selected bottle's slug
	proposal string // the selected proposal's id
	detail   detailMsg

	mode   mode
	note   textinput.Model
	noteOp string // "approve" or "reject"
	noteID string

	tail     []string
	tailSlug string

	agents    []string
	agentIdx  int
	upAgent   string
	preflight string
	upBlocked bool // the preflight failed: y does not start

	status   string
	exitCode int
	every    time.Duration // how often to refresh
}

// New returns a dashboard over b.
func New(b Backend, opts Options) *Model {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Context == nil {
		opts.Context = context.Background()
	}
	note := textinput.New()
	note.CharLimit = 500
	// A steady cursor: a blinking one is a timer running for nothing.
	note.Cursor.SetMode(cursor.CursorStatic)
	return &Model{backend: b, opts: opts, styles: newStyles(opts.Color), seen: map[string]bool{}, fresh: map[string]bool{},
		note: note, width: 80, height: 24, status: "reading bottles…", every: RefreshEvery}
}

// ExitCode is the process exit code after the dashboard quit: 0, or
// ExitInterrupted after Ctrl-C.
func (m *Model) ExitCode() int { return m.exitCode }

// Bells counts the bells rung so far.
func (m *Model) Bells() int { return m.bells }

// Init reads the first snapshot.
func (m *Model) Init() tea.Cmd { return tea.Batch(m.refresh(), m.tick()) }

func (m *Model) refresh() tea.Cmd {
	if m.loading {
		return nil
	}
	m.loading = true
	b, ctx := m.backend, m.opts.Context
	return func() tea.Msg { return snapshotMsg(b.Snapshot(ctx)) }
}

// tick schedules the next refresh; none when every is zero (tests drive
// the clock themselves).
func (m *Model) tick() tea.Cmd {
	if m.every == 0 {
		return nil
	}
	return tea.Tick(m.every, func(time.Time) tea.Msg { return tickMsg{} })
}

// Update handles one message.
func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		return m, nil
	case tickMsg:
		cmds := []tea.Cmd{m.refresh(), m.tick()}
		if m.mode == modeTail {
			cmds = append(cmds, m.readTail())
		}
		return m, tea.Batch(cmds...)
	case snapshotMsg:
		return m, m.applySnapshot(Snapshot(msg))
	case detailMsg:
		if msg.id == m.proposal {
			m.detail = msg
		}
		return m, nil
	case tailMsg:
		if msg.slug == m.tailSlug {
			m.tail = msg.lines
			if msg.err != nil {
				m.tail = []string{"cannot read the audit log: " + msg.err.Error()}
			}
		}
		return m, nil
	case agentsMsg:
		if msg.err != nil {
			m.mode, m.status = modeBrowse, "cannot list agents: "+msg.err.Error()
			return m, nil
		}
		if len(msg.agents) == 0 {
			m.mode, m.status = modeBrowse, "no agents to start; write one in <home>/agents/NAME.md"
			return m, nil
		}
		m.agents, m.agentIdx = msg.agents, 0
		return m, nil
	case preflightMsg:
		if msg.agent != m.upAgent {
			return m, nil
		}
		m.preflight, m.upBlocked = msg.text, msg.err != nil
		if msg.err != nil {
			m.preflight = "cannot start " + msg.agent + ":\n" + msg.err.Error()
		}
		return m, nil
	case doneMsg:
		m.status = msg.what
		if msg.err != nil {
			m.status = msg.what + " failed: " + msg.err.Error()
		}
		m.detail = detailMsg{}
		m.loading = false // an action changes what there is: read it again
		return m, tea.Batch(m.refresh(), m.readDetail())
	case tea.KeyMsg:
		return m, m.key(msg)
	}
	if m.mode == modeNote {
		var cmd tea.Cmd
		m.note, cmd = m.note.Update(msg)
		return m, cmd
	}
	return m, nil
}

// applySnapshot shows s, rings the bell for a proposal that was not there
// before (never on the first paint) and keeps the selections on the same
// bottle and proposal.
func (m *Model) applySnapshot(s Snapshot) tea.Cmd {
	m.loading = false
	first := !m.painted
	m.snap, m.painted = s, true
	if first {
		m.status = ""
	}
	// seen and fresh hold only the proposals pending now, so a dashboard
	// left open for weeks holds no more than the queue does.
	rang := false
	var cmds []tea.Cmd
	seen := make(map[string]bool, len(s.Proposals))
	for _, p := range s.Proposals {
		seen[p.ID] = true
		if m.seen[p.ID] {
			continue
		}
		if !first {
			m.fresh[p.ID] = true
			rang = true
		}
	}
	m.seen = seen
	for id := range m.fresh {
		if !seen[id] {
			delete(m.fresh, id)
		}
	}
	if n := len(s.Proposals); n > 0 {
		m.newest = s.Proposals[n-1].ID
	}
	if rang {
		m.bells++
		if w := m.opts.Bell; w != nil {
			cmds = append(cmds, func() tea.Msg { _, _ = io.WriteString(w, "\a"); return nil })
		}
	}
	if m.bottleIndex() < 0 {
		m.bottle = ""
		if len(s.Bottles) > 0 {
			m.bottle = s.Bottles[0].Slug
		}
	}
	if m.proposalIndex() < 0 {
		m.proposal = ""
		if len(s.Proposals) > 0 {
			m.proposal = s.Proposals[len(s.Proposals)-1].ID
		}
	}
	if m.proposal != m.detail.id {
		cmds = append(cmds, m.readDetail())
	}
	return tea.Batch(cmds...)
}

func (m *Model) bottleIndex() int {
	for i, b := range m.snap.Bottles {
		if b.Slug == m.bottle {
			return i
		}
	}
	return -1
}

func (m *Model) proposalIndex() int {
	for i, p := range m.snap.Proposals {
		if p.ID == m.proposal {
			return i
		}
	}
	return -1
}

func (m *Model) selectedProposal() (Proposal, bool) {
	if i := m.proposalIndex(); i >= 0 {
		return m.snap.Proposals[i], true
	}
	return Proposal{}, false
}

// selectedSlug is the bottle the keys act on: the selected bottle, or in
// the proposals pane the selected proposal's bottle.
func (m *Model) selectedSlug() string {
	if m.focus == paneProposals {
		if p, ok := m.selectedProposal(); ok {
			return p.Bottle
		}
		return ""
	}
	return m.bottle
}

func (m *Model) readDetail() tea.Cmd {
	id := m.proposal
	if id == "" {
		return nil
	}
	b := m.backend
	return func() tea.Msg {
		d, err := b.Detail(id)
		return detailMsg{id: id, detail: d, err: err}
	}
}

func (m *Model) readTail() tea.Cmd {
	slug, b := m.tailSlug, m.backend
	return func() tea.Msg {
		lines, err := b.Tail(slug, tailLines)
		return tailMsg{slug: slug, lines: lines, err: err}
	}
}

// key handles a key press in the current mode.
func (m *Model) key(k tea.KeyMsg) tea.Cmd {
	if k.Type == tea.KeyCtrlC {
		m.exitCode = ExitInterrupted
		return tea.Quit
	}
	switch m.mode {
	case modeNote:
		return m.noteKey(k)
	case modeHelp:
		m.mode = modeBrowse
		return nil
	case modeTail:
		switch k.String() {
		case "esc", "l", "q":
			m.mode, m.tail, m.tailSlug = modeBrowse, nil, ""
		}
		return nil
	case modePickAgent:
		return m.pickAgentKey(k)
	case modeConfirmUp:
		switch k.String() {
		case "y", "Y":
			if m.preflight == "" || m.upBlocked {
				return nil
			}
			m.mode = modeBrowse
			return m.takeTerminal("up "+m.upAgent, m.backend.UpCommand(m.upAgent))
		case "n", "N", "esc", "q":
			m.mode, m.status = modeBrowse, "not started"
		}
		return nil
	}
	switch k.String() {
	case "q":
		return tea.Quit
	case "?":
		m.mode = modeHelp
	case "tab", "shift+tab":
		m.focus = 1 - m.focus
	case "up", "k":
		return m.move(-1)
	case "down", "j":
		return m.move(1)
	case "a":
		return m.startNote("approve")
	case "r":
		return m.startNote("reject")
	case "e":
		p, ok := m.pendingSelected()
		if !ok {
			return nil
		}
		return m.takeTerminal("edit "+p.ID, m.backend.EditCommand(p.ID))
	case "enter":
		slug := m.selectedSlug()
		if slug == "" {
			m.status = "no bottle selected"
			return nil
		}
		return m.takeTerminal("attach to "+slug, m.backend.AttachCommand(slug))
	case "l":
		slug := m.selectedSlug()
		if slug == "" {
			m.status = "no bottle selected"
			return nil
		}
		m.mode, m.tailSlug, m.tail = modeTail, slug, nil
		return m.readTail()
	case "n":
		m.mode, m.agents, m.agentIdx = modePickAgent, nil, 0
		b := m.backend
		return func() tea.Msg { a, err := b.Agents(); return agentsMsg{agents: a, err: err} }
	}
	return nil
}

// pendingSelected is the selected proposal, with a status line when the
// proposals pane has none.
func (m *Model) pendingSelected() (Proposal, bool) {
	p, ok := m.selectedProposal()
	if !ok || m.focus != paneProposals {
		m.status = "select a proposal first (tab switches to the proposals pane)"
		return Proposal{}, false
	}
	return p, true
}

func (m *Model) move(d int) tea.Cmd {
	if m.focus == paneBottles {
		if n := len(m.snap.Bottles); n > 0 {
			i := min(max(m.bottleIndex()+d, 0), n-1)
			m.bottle = m.snap.Bottles[i].Slug
		}
		return nil
	}
	n := len(m.snap.Proposals)
	if n == 0 {
		return nil
	}
	// The pane lists the newest first: down is older.
	i := min(max(m.proposalIndex()-d, 0), n-1)
	m.proposal = m.snap.Proposals[i].ID
	delete(m.fresh, m.proposal)
	if m.detail.id != m.proposal {
		m.detail = detailMsg{}
		return m.readDetail()
	}
	return nil
}

func (m *Model) startNote(op string) tea.Cmd {
	p, ok := m.pendingSelected()
	if !ok {
		return nil
	}
	m.mode, m.noteOp, m.noteID, m.status = modeNote, op, p.ID, ""
	m.note.SetValue("")
	m.note.Placeholder = "a note for the agent (optional)"
	if op == "reject" {
		m.note.Placeholder = "why, for the agent (required)"
	}
	return m.note.Focus()
}

func (m *Model) noteKey(k tea.KeyMsg) tea.Cmd {
	switch k.Type {
	case tea.KeyEsc:
		m.mode, m.status = modeBrowse, m.noteOp+" cancelled"
		m.note.Blur()
		return nil
	case tea.KeyEnter:
		note := strings.TrimSpace(m.note.Value())
		if m.noteOp == "reject" && note == "" {
			m.status = "a rejection needs a note telling the agent why"
			return nil
		}
		m.mode = modeBrowse
		m.note.Blur()
		return m.decide(m.noteOp, m.noteID, note)
	}
	var cmd tea.Cmd
	m.note, cmd = m.note.Update(k)
	return cmd
}

// decide approves or rejects id; an approval that needs the terminal
// hands it over to the proposals command.
func (m *Model) decide(op, id, note string) tea.Cmd {
	b, ctx := m.backend, m.opts.Context
	what := fmt.Sprintf("%s %s", op, id)
	m.status = what + "…"
	if op == "reject" {
		return func() tea.Msg { s, err := b.Reject(id, note); return doneMsg{what: orWhat(s, what), err: err} }
	}
	for _, p := range m.snap.Proposals {
		if p.ID == id && p.Terminal {
			return m.takeTerminal(what, b.ApproveCommand(id, note))
		}
	}
	return func() tea.Msg { s, err := b.Approve(ctx, id, note); return doneMsg{what: orWhat(s, what), err: err} }
}

func orWhat(s, what string) string {
	if s == "" {
		return what
	}
	return s
}

// takeTerminal suspends the dashboard while cmd runs on the terminal.
// Unless it is the editor, the dashboard comes back only after enter, so
// that what the command said last (a bottle kept, a rebuild's outcome) is
// read, not painted over.
func (m *Model) takeTerminal(what string, cmd *exec.Cmd) tea.Cmd {
	if cmd == nil {
		m.status = what + ": not available here"
		return nil
	}
	m.status = what + "…"
	done := func(err error) tea.Msg {
		if err != nil {
			return doneMsg{what: what, err: err}
		}
		return doneMsg{what: what + ": done"}
	}
	if strings.HasPrefix(what, "edit ") {
		return tea.ExecProcess(cmd, done)
	}
	return tea.Exec(&pausing{Cmd: cmd}, done)
}

// pausing runs a command on the terminal, then waits for enter.
type pausing struct {
	*exec.Cmd
}

func (p *pausing) SetStdin(r io.Reader)  { p.Stdin = r }
func (p *pausing) SetStdout(w io.Writer) { p.Stdout = w }
func (p *pausing) SetStderr(w io.Writer) { p.Stderr = w }

func (p *pausing) Run() error {
	err := p.Cmd.Run()
	if p.Stdout != nil && p.Stdin != nil {
		_, _ = io.WriteString(p.Stdout, "\n[press enter to return to the dashboard] ")
		var b [1]byte
		for {
			if n, rerr := p.Stdin.Read(b[:]); rerr != nil || (n == 1 && (b[0] == '\n' || b[0] == '\r')) {
				break
			}
		}
	}
	return err
}

func (m *Model) pickAgentKey(k tea.KeyMsg) tea.Cmd {
	switch k.String() {
	case "esc", "q":
		m.mode = modeBrowse
	case "up", "k":
		m.agentIdx = max(m.agentIdx-1, 0)
	case "down", "j":
		if len(m.agents) > 0 {
			m.agentIdx = min(m.agentIdx+1, len(m.agents)-1)
		}
	case "enter":
		if len(m.agents) == 0 {
			return nil
		}
		agent := m.agents[m.agentIdx]
		m.mode, m.upAgent, m.preflight, m.upBlocked = modeConfirmUp, agent, "", false
		b := m.backend
		return func() tea.Msg { t, err := b.Preflight(agent); return preflightMsg{agent: agent, text: t, err: err} }
	}
	return nil
}
