package dashboard

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"

	"github.com/bot-bottle/bot-bottle/internal/shared/termtext"
)

// The smallest terminal that shows both panes; a smaller one shows the
// focused pane alone.
const (
	minWidth  = 60
	minHeight = 16
	// wideWidth and wideHeight make room for the proposal's detail beside
	// the proposals.
	wideWidth  = 140
	wideHeight = 30
)

type styles struct {
	title, focused, selected, fresh, dim, bad, key lipgloss.Style
}

func newStyles(color bool) styles {
	r := lipgloss.NewRenderer(nil)
	r.SetColorProfile(termenv.Ascii)
	if color {
		r.SetColorProfile(termenv.ANSI256)
	}
	s := func() lipgloss.Style { return r.NewStyle() }
	return styles{
		title:    s().Bold(true),
		focused:  s().Bold(true).Reverse(true),
		selected: s().Reverse(true),
		fresh:    s().Bold(true).Foreground(lipgloss.Color("11")),
		dim:      s().Faint(true),
		bad:      s().Foreground(lipgloss.Color("9")),
		key:      s().Bold(true),
	}
}

// View draws the dashboard.
func (m *Model) View() string {
	w, h := max(m.width, 20), max(m.height, 5)
	var body []string
	switch m.mode {
	case modeHelp:
		body = m.helpView()
	case modeTail:
		body = m.tailView(h - 3)
	case modePickAgent:
		body = m.pickView()
	case modeConfirmUp:
		body = m.confirmView()
	default:
		body = m.browseView(w, h-3)
	}
	lines := append([]string{m.header(w)}, body...)
	lines = fit(lines, h-2)
	lines = append(lines, m.statusLine(), m.footer())
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, w, "…")
	}
	return strings.Join(lines, "\n")
}

// fit pads or cuts lines to exactly n.
func fit(lines []string, n int) []string {
	if len(lines) > n {
		return lines[:max(n, 0)]
	}
	for len(lines) < n {
		lines = append(lines, "")
	}
	return lines
}

func (m *Model) header(w int) string {
	running := 0
	for _, b := range m.snap.Bottles {
		if b.Status == "running" {
			running++
		}
	}
	left := m.styles.title.Render("bot-bottle dashboard")
	info := fmt.Sprintf("%s (%d running) · %d pending", plural(len(m.snap.Bottles), "bottle"), running, len(m.snap.Proposals))
	right := "? help  q quit"
	gap := max(w-lipgloss.Width(left)-len(info)-len(right)-4, 1)
	return left + "  " + info + strings.Repeat(" ", gap) + right
}

func (m *Model) statusLine() string {
	if m.mode == modeNote {
		line := fmt.Sprintf("%s %s  note: %s", m.noteOp, termtext.Line(m.noteID), m.note.View())
		if m.status != "" {
			line = m.styles.bad.Render(termtext.Line(m.status)) + "  " + line
		}
		return line
	}
	parts := []string{}
	if m.status != "" {
		parts = append(parts, termtext.Line(m.status))
	}
	if n := len(m.snap.Problems); n > 0 {
		parts = append(parts, m.styles.bad.Render("! "+termtext.Line(m.snap.Problems[0])))
		if n > 1 {
			parts[len(parts)-1] += fmt.Sprintf(" (and %d more)", n-1)
		}
	}
	return strings.Join(parts, "  ")
}

func (m *Model) footer() string {
	k := m.styles.key.Render
	switch m.mode {
	case modeNote:
		return k("enter") + " confirm  " + k("esc") + " cancel"
	case modeHelp:
		return "any key: back"
	case modeTail:
		return k("l") + "/" + k("esc") + " back (the log follows as it grows)"
	case modePickAgent:
		return k("↑↓") + " pick  " + k("enter") + " preflight  " + k("esc") + " cancel"
	case modeConfirmUp:
		return k("y") + " start and attach  " + k("n") + " cancel"
	}
	return k("a") + " approve  " + k("r") + " reject  " + k("e") + " edit  " + k("enter") + " attach  " + k("l") + " log  " +
		k("n") + " new  " + k("tab") + " pane  " + k("?") + " help"
}

// browseView is the panes: bottles above proposals, the selected
// proposal's detail below them or, on a wide terminal, beside them.
func (m *Model) browseView(w, h int) []string {
	if w < minWidth || h < minHeight {
		if m.focus == paneBottles {
			return m.bottlesPane(w, h)
		}
		return m.proposalsPane(w, h)
	}
	bottleRows := min(max(len(m.snap.Bottles), 1), max(h/4, 3))
	bottles := m.bottlesPane(w, bottleRows+2)
	rest := h - len(bottles) - 1
	if w >= wideWidth && m.height >= wideHeight {
		left := w / 2
		props := fit(m.proposalsPane(left-1, rest), rest)
		detail := fit(m.detailPane(w-left-2, rest), rest)
		out := append(bottles, "")
		for i := range rest {
			out = append(out, padRight(ansi.Truncate(props[i], left-1, "…"), left-1)+" │ "+detail[i])
		}
		return out
	}
	propRows := min(max(len(m.snap.Proposals), 1), max(rest/3, 3))
	props := m.proposalsPane(w, propRows+1)
	detail := m.detailPane(w, rest-len(props)-1)
	out := append(bottles, "")
	out = append(out, props...)
	out = append(out, "")
	return append(out, detail...)
}

func padRight(s string, n int) string {
	if d := n - lipgloss.Width(s); d > 0 {
		return s + strings.Repeat(" ", d)
	}
	return s
}

// paneTitle is a pane's heading, marked when it has the focus.
func (m *Model) paneTitle(p pane, text string, w int) string {
	if m.focus == p {
		return m.styles.focused.Render(padRight("▸ "+text, min(w, len(text)+4)))
	}
	return m.styles.title.Render("  " + text)
}

// window returns the first row to show of n rows so that row sel is in
// the rows visible.
func window(sel, n, rows int) int {
	if n <= rows || sel < rows {
		return 0
	}
	return min(sel-rows+1, n-rows)
}

func (m *Model) bottlesPane(w, h int) []string {
	out := []string{m.paneTitle(paneBottles, fmt.Sprintf("Bottles (%d)", len(m.snap.Bottles)), w)}
	if len(m.snap.Bottles) == 0 {
		return append(out, m.styles.dim.Render("  no bottles; press n to start one (or: bot-bottle up AGENT)"))
	}
	out = append(out, m.styles.dim.Render(fmt.Sprintf("  %-18s %-10s %-8s %-9s %5s %4s %8s  %s", "SLUG", "AGENT", "PROVIDER", "STATUS", "AGE", "PEND", "REQ/DENY", "SERVICES")))
	rows := max(h-2, 1)
	sel := m.bottleIndex()
	for i := window(sel, len(m.snap.Bottles), rows); i < len(m.snap.Bottles) && len(out) < rows+2; i++ {
		b := m.snap.Bottles[i]
		status := statusWord(b)
		age := "-"
		if !b.StartedAt.IsZero() {
			age = shortAge(m.opts.Now().Sub(b.StartedAt))
		}
		// Every service's state when there is room; else "5 up" or the
		// ones that are not.
		services := serviceSummary(b.Services)
		if w >= wideWidth {
			services = serviceWords(b.Services)
		}
		if b.Problem != "" {
			services = m.styles.bad.Render(termtext.Line(b.Problem))
		}
		row := fmt.Sprintf("%-18s %-10s %-8s %-9s %5s %4s %8s  %s", cut(b.Slug, 18), cut(b.Agent, 10), cut(orDash(b.Provider), 8), cut(status, 9), age,
			countOrDash(b.Pending), fmt.Sprintf("%d/%d", b.Requests, b.Denials), services)
		out = append(out, m.row(i == sel && m.focus == paneBottles, i == sel, row, w))
	}
	return out
}

// row marks the selected row: reversed when its pane has the focus, an
// arrow otherwise.
func (m *Model) row(focused, selected bool, text string, w int) string {
	switch {
	case focused:
		return m.styles.selected.Render(padRight("▸ "+ansi.Truncate(text, w-2, "…"), w))
	case selected:
		return "▹ " + text
	}
	return "  " + text
}

func (m *Model) proposalsPane(w, h int) []string {
	out := []string{m.paneTitle(paneProposals, fmt.Sprintf("Proposals pending (%d)", len(m.snap.Proposals)), w)}
	if len(m.snap.Proposals) == 0 {
		return append(out, m.styles.dim.Render("  none: agents ask for routes, packages and credentials here"))
	}
	rows := max(h-1, 1)
	sel := m.proposalIndex()
	// Newest first: the one that just arrived is at the top.
	n := len(m.snap.Proposals)
	selRow := n - 1 - sel
	for r := window(selRow, n, rows); r < n && len(out) < rows+1; r++ {
		i := n - 1 - r
		p := m.snap.Proposals[i]
		mark := "  "
		switch {
		case m.fresh[p.ID]:
			mark = m.styles.fresh.Render("● ")
		case p.ID == m.newest:
			mark = "◦ "
		}
		text := fmt.Sprintf("%-14s %-16s %-6s %s", cut(p.Bottle, 14), cut(p.Tool, 16), shortAge(m.opts.Now().Sub(p.CreatedAt)), termtext.Line(p.Grants))
		if m.fresh[p.ID] {
			text = m.styles.fresh.Render(text)
		}
		out = append(out, m.row(i == sel && m.focus == paneProposals, i == sel, mark+text, w))
	}
	return out
}

// detailPane shows the selected proposal: the agent's reason, what
// approving grants, and the file it changes.
func (m *Model) detailPane(w, h int) []string {
	p, ok := m.selectedProposal()
	if !ok || h <= 0 {
		return nil
	}
	title := fmt.Sprintf("%s from %s, %s ago  (id %s)", termtext.Line(p.Tool), termtext.Line(p.Bottle), shortAge(m.opts.Now().Sub(p.CreatedAt)), termtext.Line(p.ID))
	out := []string{m.styles.title.Render(title)}
	out = append(out, wrapLabel("reason", termtext.Block(strings.TrimSpace(p.Reason), ""), w)...)
	out = append(out, wrapLabel("grants", termtext.Line(p.Grants), w)...)
	switch {
	case m.detail.id != p.ID:
		out = append(out, m.styles.dim.Render("reading what approving would change…"))
	case m.detail.err != nil:
		out = append(out, m.styles.bad.Render("approving now would fail: "+termtext.Line(m.detail.err.Error())))
	default:
		if c := m.detail.detail.Change; c != "" {
			out = append(out, wrapLabel("approving", termtext.Line(c), w)...)
		}
		if d := strings.TrimRight(m.detail.detail.Diff, "\n"); d != "" {
			out = append(out, "changes:")
			for _, l := range strings.Split(termtext.Block(d, ""), "\n") {
				out = append(out, "  "+l)
			}
		}
	}
	if p.Terminal {
		out = append(out, m.styles.dim.Render("approving hands the terminal to 'bot-bottle proposals approve'"))
	}
	return fit(out, min(len(out), h))
}

// wrapLabel writes "label: text" wrapped to w, continuation lines
// indented under the text.
func wrapLabel(label, text string, w int) []string {
	prefix := label + ": "
	indent := strings.Repeat(" ", len(prefix))
	width := max(w-len(prefix), 10)
	var out []string
	for i, para := range strings.Split(text, "\n") {
		wrapped := strings.Split(ansi.Wrap(para, width, ""), "\n")
		for j, l := range wrapped {
			if i == 0 && j == 0 {
				out = append(out, prefix+l)
			} else {
				out = append(out, indent+l)
			}
		}
	}
	return out
}

func (m *Model) helpView() []string {
	return []string{
		"",
		m.styles.title.Render("Keys"),
		"  tab        switch between the bottles and the proposals",
		"  ↑ ↓ / k j  select",
		"  a          approve the selected proposal (a note for the agent is optional)",
		"  r          reject it (a note telling the agent why is required)",
		"  e          edit its arguments in $EDITOR, then apply your version",
		"  enter      attach to the selected bottle's agent; the dashboard returns when you detach",
		"  l          a live tail of the bottle's audit log (egress, git gate and your decisions)",
		"  n          start a new bottle: pick an agent, read its preflight, confirm",
		"  ?          this help",
		"  q          quit (Ctrl-C quits with status 130)",
		"",
		m.styles.title.Render("Marks"),
		"  ●  a proposal that arrived while you watched (the terminal bell rang)",
		"  ◦  the newest proposal",
		"  REQ/DENY   egress requests and denials in the last minute",
		"",
		"Every action is the command line's: approve, reject and edit are 'bot-bottle proposals …',",
		"enter is 'bot-bottle resume SLUG', n is 'bot-bottle up AGENT'.",
	}
}

func (m *Model) tailView(h int) []string {
	out := []string{m.styles.title.Render("Audit log of " + termtext.Line(m.tailSlug) + " (live)")}
	if len(m.tail) == 0 {
		return append(out, m.styles.dim.Render("no audit records yet"))
	}
	lines := m.tail
	if n := max(h-1, 1); len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for _, l := range lines {
		out = append(out, termtext.Line(l))
	}
	return out
}

func (m *Model) pickView() []string {
	out := []string{m.styles.title.Render("Start a new bottle: pick an agent")}
	if m.agents == nil {
		return append(out, m.styles.dim.Render("reading agents…"))
	}
	for i, a := range m.agents {
		out = append(out, m.row(i == m.agentIdx, i == m.agentIdx, termtext.Line(a), m.width))
	}
	return out
}

func (m *Model) confirmView() []string {
	out := []string{m.styles.title.Render("Start " + termtext.Line(m.upAgent) + "?")}
	if m.preflight == "" {
		return append(out, m.styles.dim.Render("reading its preflight…"))
	}
	for _, l := range strings.Split(termtext.Block(strings.TrimRight(m.preflight, "\n"), ""), "\n") {
		out = append(out, "  "+l)
	}
	return out
}

// statusWord is running, stopped or orphaned, or the state bot-bottle
// recorded when that says more: failed, starting.
func statusWord(b Bottle) string {
	if b.Status != "running" && (b.State == "failed" || b.State == "starting") {
		return b.State
	}
	return b.Status
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// serviceSummary is "4 up" when every service runs (healthy, or running
// without a health check), else the services that do not, with their
// state: what the operator must notice in a narrow column.
func serviceSummary(services map[string]string) string {
	if len(services) == 0 {
		return "-"
	}
	var bad []string
	for _, n := range slices.Sorted(maps.Keys(services)) {
		if st := services[n]; st != "healthy" && st != "running" {
			bad = append(bad, termtext.Line(n)+" "+termtext.Line(st))
		}
	}
	if len(bad) == 0 {
		return fmt.Sprintf("%d up", len(services))
	}
	return strings.Join(bad, ", ")
}

// serviceWords is "agent running, egress healthy, …" by service name.
func serviceWords(services map[string]string) string {
	if len(services) == 0 {
		return "-"
	}
	names := slices.Sorted(maps.Keys(services))
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = termtext.Line(n) + " " + termtext.Line(services[n])
	}
	return strings.Join(parts, ", ")
}

// cut escapes s and shortens it to n cells.
func cut(s string, n int) string { return ansi.Truncate(termtext.Line(s), n, "…") }

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func countOrDash(n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprint(n)
}

// shortAge is 45s, 12m, 3h or 2d.
func shortAge(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
