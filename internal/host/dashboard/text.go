package dashboard

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/shared/termtext"
)

// Text renders s as plain text for a pipe or a log: the bottles, then the
// pending proposals newest first with their reasons and what approving
// would grant. Every string from a bottle or an agent is escaped.
func Text(s Snapshot, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "bot-bottle dashboard at %s\n\n", now.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "Bottles (%d)\n", len(s.Bottles))
	if len(s.Bottles) == 0 {
		b.WriteString("  none; start one with: bot-bottle up AGENT\n")
	} else {
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  SLUG\tAGENT\tPROVIDER\tSTATUS\tAGE\tPENDING\tREQ/DENY 1m\tSERVICES")
		for _, bt := range s.Bottles {
			age := "-"
			if !bt.StartedAt.IsZero() {
				age = shortAge(now.Sub(bt.StartedAt))
			}
			services := serviceWords(bt.Services)
			if bt.Problem != "" {
				services = termtext.Line(bt.Problem)
			}
			status := statusWord(bt)
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%d\t%d/%d\t%s\n", termtext.Line(bt.Slug), orDash(termtext.Line(bt.Agent)),
				orDash(termtext.Line(bt.Provider)), status, age, bt.Pending, bt.Requests, bt.Denials, services)
		}
		tw.Flush()
	}
	fmt.Fprintf(&b, "\nProposals pending (%d)\n", len(s.Proposals))
	if len(s.Proposals) == 0 {
		b.WriteString("  none\n")
	}
	for i := len(s.Proposals) - 1; i >= 0; i-- {
		p := s.Proposals[i]
		fmt.Fprintf(&b, "  %s  %s  %s  %s ago\n", termtext.Line(p.ID), termtext.Line(p.Bottle), termtext.Line(p.Tool), shortAge(now.Sub(p.CreatedAt)))
		fmt.Fprintf(&b, "    reason: %s\n", termtext.Block(strings.TrimSpace(p.Reason), "            "))
		fmt.Fprintf(&b, "    grants: %s\n", termtext.Line(p.Grants))
	}
	for _, p := range s.Problems {
		fmt.Fprintf(&b, "\nproblem: %s\n", termtext.Line(p))
	}
	return b.String()
}
