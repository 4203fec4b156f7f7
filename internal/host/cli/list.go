package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/host/bottle"
	"github.com/bot-bottle/bot-bottle/internal/host/compose"
	"github.com/bot-bottle/bot-bottle/internal/host/docker"
	"github.com/bot-bottle/bot-bottle/internal/shared/termtext"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

type listOptions struct {
	json, all bool
}

// A bottle's status in list: whether its agent container runs, or that
// its containers belong to no bottle directory under this home.
const (
	statusRunning  = "running"
	statusStopped  = "stopped"
	statusOrphaned = "orphaned"
)

func newListCmd(env Env, g *globals, deps *opsDeps) *cobra.Command {
	var opts listOptions
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List running bottles (--all: stopped and orphaned ones too)",
		Long: `List shows the bottles whose agent container runs: slug, agent, age (since
the bottle was started) and the health of each of its services, as the
Docker engine reports it (healthy, starting, unhealthy, running, exited (N)).
Bottles are those under <home>/state/, oldest first.

--all adds:
  stopped bottles    a state directory but no running agent, with the state
                     bot-bottle last recorded (running, stopped, failed,
                     starting); 'bot-bottle resume SLUG' starts one again
  unreadable ones    a state directory whose metadata.json cannot be read,
                     and why
  orphaned ones      containers labelled as a bottle with no state directory
                     under this home, and the command that removes them

--json prints an array of objects: slug, agent, bottle, status (running,
stopped, or orphaned with --all), state (the recorded one), started_at
(RFC 3339), compose_project, services (service name → health or state),
and error (why metadata.json is unreadable) or fix (for an orphan) when
there is one.`,
		Example: `  bot-bottle list
  bot-bottle list --all
  bot-bottle list --json | jq -r '.[] | select(.status == "running") | .slug'`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runList(cmd.Context(), env, g, deps, opts)
		},
	}
	cmd.Flags().BoolVar(&opts.json, "json", false, "print a JSON array (slug, agent, status, started_at, services, …)")
	cmd.Flags().BoolVar(&opts.all, "all", false, "include stopped bottles, unreadable state directories and orphaned containers")
	return cmd
}

// listedBottle is one bottle as list shows it; the JSON is list --json's.
type listedBottle struct {
	Slug           string            `json:"slug"`
	Agent          string            `json:"agent"`
	Bottle         string            `json:"bottle,omitempty"`
	Status         string            `json:"status"`
	State          string            `json:"state,omitempty"`
	StartedAt      string            `json:"started_at,omitempty"`
	ComposeProject string            `json:"compose_project,omitempty"`
	Services       map[string]string `json:"services"`
	Error          string            `json:"error,omitempty"`
	Fix            string            `json:"fix,omitempty"`

	started time.Time
}

func runList(ctx context.Context, env Env, g *globals, deps *opsDeps, opts listOptions) error {
	home, _, err := g.stateHome(env)
	if err != nil {
		return err
	}
	known, err := bottle.All(home)
	if err != nil {
		return err
	}
	onEngine, err := deps.eng().BottleContainers(ctx)
	if err != nil {
		return fmt.Errorf("ask Docker which bottles run (is the engine up? 'bot-bottle doctor' checks): %w", err)
	}
	views, hidden := listedBottles(home, known, onEngine, opts.all)
	if opts.json {
		return writeJSON(env.Stdout, views)
	}
	if len(views) == 0 {
		switch {
		case opts.all:
			fmt.Fprintln(env.Stdout, "no bottles; start one with: bot-bottle up AGENT")
		case hidden > 0:
			fmt.Fprintf(env.Stdout, "no bottles running (%d more with: bot-bottle list --all); start one with: bot-bottle up AGENT\n", hidden)
		default:
			fmt.Fprintln(env.Stdout, "no bottles running; start one with: bot-bottle up AGENT")
		}
		return nil
	}
	printBottles(env, views, deps.clock(), opts.all)
	return nil
}

// listedBottles joins the bottles under home with what the engine has, in
// list's order: by start time then slug, unreadable ones, then orphans by
// slug. Without all only running bottles are kept; hidden counts the rest.
func listedBottles(home string, known []bottle.Known, onEngine map[string][]docker.Container, all bool) (views []listedBottle, hidden int) {
	views = []listedBottle{}
	add := func(v listedBottle) {
		if all || v.Status == statusRunning {
			views = append(views, v)
		} else {
			hidden++
		}
	}
	mine := map[string]bool{}
	for _, k := range known {
		slug := filepath.Base(string(k.Dir))
		mine[slug] = true
		cs := onEngine[slug]
		v := listedBottle{Slug: slug, Status: statusStopped, Services: services(cs)}
		if agentRuns(cs) {
			v.Status = statusRunning
		}
		if m := k.Metadata; m != nil {
			v.Agent, v.Bottle, v.State, v.ComposeProject = m.Agent, m.Bottle, string(m.State), m.ComposeProject
			v.started = m.StartedAt
			v.StartedAt = m.StartedAt.Format(time.RFC3339)
		} else {
			v.Error = "metadata unreadable: " + errLine(k.Err)
		}
		add(v)
	}
	var orphans []string
	for slug := range onEngine {
		if !mine[slug] {
			orphans = append(orphans, slug)
		}
	}
	slices.Sort(orphans)
	for _, slug := range orphans {
		cs := onEngine[slug]
		project := (&docker.Resources{Containers: cs}).Project()
		if project == "" {
			project = compose.ProjectName(slug)
		}
		agent := ""
		for _, c := range cs {
			if a := c.Label(contract.LabelAgent); a != "" {
				agent = a
				break
			}
		}
		add(listedBottle{Slug: slug, Agent: agent, Status: statusOrphaned, ComposeProject: project, Services: services(cs),
			Fix: "docker compose -p " + shellWord(project) + " down --volumes"})
	}
	return views, hidden
}

// agentRuns reports whether the bottle's agent container runs: what makes
// a bottle running.
func agentRuns(cs []docker.Container) bool {
	return slices.ContainsFunc(cs, func(c docker.Container) bool {
		return c.Service() == compose.AgentService && c.State == "running"
	})
}

func services(cs []docker.Container) map[string]string {
	m := make(map[string]string, len(cs))
	for _, c := range cs {
		m[c.Service()] = c.Condition()
	}
	return m
}

// printBottles writes the views as aligned columns. Every string that
// came from metadata or the engine's labels is escaped.
func printBottles(env Env, views []listedBottle, now time.Time, all bool) {
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	defer tw.Flush()
	if all {
		fmt.Fprintln(tw, "SLUG\tAGENT\tSTATUS\tSTATE\tAGE\tSERVICES")
	} else {
		fmt.Fprintln(tw, "SLUG\tAGENT\tSTATUS\tAGE\tSERVICES")
	}
	for _, v := range views {
		slug, agent := dash(termtext.Line(v.Slug)), dash(termtext.Line(v.Agent))
		switch {
		case v.Status == statusOrphaned:
			fmt.Fprintf(tw, "%s\t%s\torphaned (no state dir; remove with: %s)\n", slug, agent, termtext.Line(v.Fix))
		case v.Error != "":
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", slug, agent, v.Status, termtext.Line(v.Error))
		case all:
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", slug, agent, v.Status, dash(termtext.Line(v.State)), age(now.Sub(v.started)), serviceList(v.Services))
		default:
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", slug, agent, v.Status, age(now.Sub(v.started)), serviceList(v.Services))
		}
	}
}

// serviceList is "agent running, egress healthy, …" in service order.
func serviceList(m map[string]string) string {
	if len(m) == 0 {
		return "-"
	}
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, name := range names {
		parts[i] = termtext.Line(name) + " " + termtext.Line(m[name])
	}
	return strings.Join(parts, ", ")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
