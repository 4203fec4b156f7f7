package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/host/bottle"
	"github.com/bot-bottle/bot-bottle/internal/host/docker"
	"github.com/bot-bottle/bot-bottle/internal/shared/termtext"
)

type logsOptions struct {
	slug, service string
	follow, audit bool
	tail          int
}

func newLogsCmd(env Env, g *globals, deps *opsDeps) *cobra.Command {
	var opts logsOptions
	cmd := &cobra.Command{
		Use:   "logs SLUG [SERVICE]",
		Short: "Show a bottle's container logs, or its audit log of egress and gate decisions",
		Long: `Logs shows the output of a bottle's containers (docker compose logs of its
project): every service's, or SERVICE's alone (agent, agent-net, netguard,
egress, git-gate, supervise, as the bottle has them). Characters that could
steer your terminal are shown escaped, as everywhere bot-bottle prints text
it did not write.

--audit shows the bottle's audit file instead (<home>/state/<slug>/audit.jsonl):
one line per decision egress, the git gate or you (proposals) made, in local
time: component, method, host, path, allow/deny/error, the rule behind it and
the reason, shortened. Hosts and paths are the agent's choice and are shown
escaped. A line that is not a record is shown as "(unreadable line N)".

-f keeps following: new output or new records are printed as they come,
until you press Ctrl-C. --tail N starts with the last N lines (or records).`,
		Example: `  bot-bottle logs dev-a1b2c
  bot-bottle logs dev-a1b2c egress -f --tail 20
  bot-bottle logs dev-a1b2c --audit
  bot-bottle logs dev-a1b2c --audit -f | grep deny`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return usageError{fmt.Errorf("logs takes a bottle slug and optionally a service, got %d arguments; see 'bot-bottle logs --help'", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.slug = args[0]
			if len(args) == 2 {
				opts.service = args[1]
			}
			if opts.audit && opts.service != "" {
				return usageError{errors.New("--audit shows the whole bottle's audit file; leave out SERVICE")}
			}
			return runLogs(cmd.Context(), env, g, deps, opts)
		},
	}
	cmd.Flags().BoolVarP(&opts.follow, "follow", "f", false, "keep printing new output until Ctrl-C")
	cmd.Flags().BoolVar(&opts.audit, "audit", false, "show the audit file's decisions instead of the containers' output")
	cmd.Flags().IntVar(&opts.tail, "tail", -1, "start with the last N lines, or records with --audit")
	cmd.Flags().Lookup("tail").DefValue = "all"
	return cmd
}

func runLogs(ctx context.Context, env Env, g *globals, deps *opsDeps, opts logsOptions) error {
	home, _, err := g.stateHome(env)
	if err != nil {
		return err
	}
	dir, meta, err := bottle.Find(home, opts.slug)
	if err != nil {
		return err
	}
	if opts.audit {
		a := &auditTail{path: dir.AuditFile(), out: env.Stdout, loc: deps.location(), tail: opts.tail, follow: opts.follow, poll: deps.pollEvery()}
		return a.run(ctx)
	}
	c := &docker.Compose{Dir: dir, Project: meta.ComposeProject}
	sub := []string{"logs", "--no-color"}
	if opts.follow {
		sub = append(sub, "--follow")
	}
	if opts.tail >= 0 {
		sub = append(sub, "--tail", strconv.Itoa(opts.tail))
	}
	if opts.service != "" {
		names, err := c.Services()
		if err != nil {
			return fmt.Errorf("read bottle %s's services: %w", opts.slug, err)
		}
		if !slices.Contains(names, opts.service) {
			return fmt.Errorf("bottle %s has no service %q; its services: %s", opts.slug, opts.service, strings.Join(names, ", "))
		}
		sub = append(sub, opts.service)
	}
	out := &lineEscaper{w: env.Stdout}
	err = deps.runCompose(ctx, c, out, env.Stderr, sub...)
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	if ctx.Err() != nil {
		// Ctrl-C ends -f; that is how following stops, not a failure.
		return nil
	}
	return err
}

// maxEscapedLine is how much of one line lineEscaper holds before writing
// it out without waiting for its end.
const maxEscapedLine = 64 << 10

// lineEscaper writes each line written through it to w escaped with
// termtext, keeping tabs and dropping a '\r' before the '\n' (a container
// with a terminal ends its lines so).
type lineEscaper struct {
	w       io.Writer
	partial []byte
}

func (e *lineEscaper) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			e.partial = append(e.partial, p...)
			if len(e.partial) > maxEscapedLine {
				return n, e.Flush()
			}
			return n, nil
		}
		e.partial = append(e.partial, p[:i]...)
		line := escapeKeepingTabs(strings.TrimSuffix(string(e.partial), "\r"))
		e.partial = e.partial[:0]
		if _, err := io.WriteString(e.w, line+"\n"); err != nil {
			return n, err
		}
		p = p[i+1:]
	}
	return n, nil
}

// Flush writes out a last line that has no '\n'.
func (e *lineEscaper) Flush() error {
	if len(e.partial) == 0 {
		return nil
	}
	_, err := io.WriteString(e.w, escapeKeepingTabs(string(e.partial)))
	e.partial = e.partial[:0]
	return err
}

func escapeKeepingTabs(s string) string {
	parts := strings.Split(s, "\t")
	for i, p := range parts {
		parts[i] = termtext.Line(p)
	}
	return strings.Join(parts, "\t")
}
