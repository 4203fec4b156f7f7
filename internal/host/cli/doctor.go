package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/bot-bottle/bot-bottle/internal/host/bottle"
	"github.com/bot-bottle/bot-bottle/internal/host/compose"
	"github.com/bot-bottle/bot-bottle/internal/host/docker"
	"github.com/bot-bottle/bot-bottle/internal/host/manifest"
	"github.com/bot-bottle/bot-bottle/internal/host/provider"
	"github.com/bot-bottle/bot-bottle/internal/host/render"
	"github.com/bot-bottle/bot-bottle/internal/shared/termtext"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

type doctorOptions struct {
	// checks are the names of the checks to run; none: all (without the
	// provider checks, which run when named or with --provider).
	checks []string
	// providers are the providers whose host side to check.
	providers []string
}

// A doctor check's outcome. Only checkFail makes doctor exit 1.
type checkStatus int

const (
	checkOK checkStatus = iota
	checkFail
	// checkNote is worth knowing and not wrong (no gVisor).
	checkNote
	// checkSkip: a check this one needs failed and was reported.
	checkSkip
)

func (s checkStatus) String() string {
	return [...]string{"ok", "FAIL", "note", "skip"}[s]
}

// checkResult is one line of doctor's report.
type checkResult struct {
	status checkStatus
	// subject is what was checked: "docker CLI", "images", ...
	subject string
	// detail is what was found; for a failure, what is wrong.
	detail string
	// fix is the command that fixes a failure.
	fix string
}

// String is the report line: "ok   SUBJECT: DETAIL" or "FAIL SUBJECT:
// DETAIL; fix: FIX", escaped (details quote the engine and the disk).
func (r checkResult) String() string {
	s := fmt.Sprintf("%-4s %s: %s", r.status, r.subject, r.detail)
	if r.fix != "" {
		s += "; fix: " + r.fix
	}
	return termtext.Line(s)
}

// doctorCheck is one named check.
type doctorCheck struct {
	// name is what --check takes; subject is what its lines name.
	name, subject string
	// needs names the check whose success this one needs: "docker" or
	// "engine"; "" for none.
	needs string
	run   func(r *doctorRun) []checkResult
	// provider: the check runs only when named (--provider or --check).
	provider bool
}

// doctorChecks are every check, in the order they run and print; a
// check needs only checks before it.
var doctorChecks = []doctorCheck{
	{"docker", "docker CLI", "", checkDockerCLI, false},
	{"engine", "Docker engine", "docker", checkEngine, false},
	{"compose", "docker compose v2", "docker", checkCompose, false},
	{"runsc", "runsc (gVisor) runtime", "engine", checkRunsc, false},
	{"images", "images", "engine", checkImages, false},
	{"state", "state directory modes", "", checkStateModes, false},
	{"leftovers", "leftovers", "engine", checkLeftovers, false},
	{"agent-images", "agent images", "engine", checkAgentImages, false},
	{provider.Claude, "claude", "engine", checkClaude, true},
	{provider.Codex, "codex", "engine", checkCodex, true},
}

func doctorCheckNames() []string {
	names := make([]string, len(doctorChecks))
	for i, c := range doctorChecks {
		names[i] = c.name
	}
	return names
}

func newDoctorCmd(env Env, g *globals, deps *opsDeps) *cobra.Command {
	var opts doctorOptions
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check that this machine can run bottles, and find what stopped bottles left behind",
		Long: `Doctor checks, one line each, "ok" or "FAIL ...: what is wrong; fix: the
command that fixes it", and exits 1 when any check fails:

  docker     the docker CLI is on PATH
  engine     the Docker engine answers; its version and API version
  compose    docker compose v2 is installed (fix: make compose-plugin)
  runsc      whether the runsc (gVisor) runtime is there: a note, not a
             failure; without it agents run under Docker's default runtime
  images     the sidecar images bot-bottle/{egress,gitgate,supervise,
             netguard}:local are built (fix: make images)
  state      <home>/state and each bottle's directory are 0700, its
             secrets/, queue/ and git/ 0700, each secret 0400, agent.env
             0600 (fix: chmod)
  leftovers  containers and networks of bottles whose agent has stopped,
             and containers, networks and volumes labelled as a bottle
             with no state directory under this home (fix: docker compose
             -p PROJECT down)
  agent-images  the agent image of every bottle defined is on this
             machine (fix: the docker build or pull that makes it)

--check NAME runs only the checks named (repeat it, or separate with commas).

--provider claude|codex checks the host side of that provider instead:
  claude     its image bot-bottle/agent-claude:local is built, and each
             bottle's agent_provider.auth_token names a variable set here
             (egress injects its value; the agent holds a placeholder);
             without auth_token you log in inside the bottle
  codex      its image bot-bottle/agent-codex:local is built, and for
             forward_host_credentials the host's Codex login
             ($CODEX_HOME/auth.json, default ~/.codex/auth.json) is
             readable, a ChatGPT login (not an API key) and not expired`,
		Example: `  bot-bottle doctor
  bot-bottle doctor --check leftovers
  bot-bottle doctor --check engine,compose
  bot-bottle doctor --provider codex`,
		Args: exactArgs(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, name := range opts.checks {
				if !slices.Contains(doctorCheckNames(), name) {
					return usageError{fmt.Errorf("--check %q: the checks are %s", name, strings.Join(doctorCheckNames(), ", "))}
				}
			}
			for _, name := range opts.providers {
				if name != provider.Claude && name != provider.Codex {
					return usageError{fmt.Errorf("--provider %q: the providers are claude and codex", name)}
				}
			}
			opts.checks = append(opts.checks, opts.providers...)
			return runDoctor(cmd.Context(), env, g, deps, opts)
		},
	}
	cmd.Flags().StringSliceVar(&opts.checks, "check", nil, "run only these checks: "+strings.Join(doctorCheckNames(), ", "))
	cmd.Flags().StringSliceVar(&opts.providers, "provider", nil, "check the host side of these providers: claude, codex")
	return cmd
}

// doctorRun is one run of doctor: what the checks share.
type doctorRun struct {
	ctx  context.Context
	env  Env
	eng  engine
	now  time.Time
	home string
	disp *display
	// loaded and loadErr are the manifests' bottles (see bottles).
	loadedOnce bool
	loaded     []*manifest.Bottle
	loadErr    error
	// outcomes holds each check's outcome once it has run (printed or
	// not), so a check others need runs once.
	outcomes map[string]checkOutcome
}

// checkOutcome is a check's results, or the failure of a check it needs
// that kept it from running.
type checkOutcome struct {
	results []checkResult
	blocked *checkResult
}

func runDoctor(ctx context.Context, env Env, g *globals, deps *opsDeps, opts doctorOptions) error {
	home, disp, err := g.stateHome(env)
	if err != nil {
		return err
	}
	r := &doctorRun{ctx: ctx, env: env, eng: deps.eng(), now: deps.clock(), home: home, disp: disp, outcomes: map[string]checkOutcome{}}
	// reported holds the failures printed so far: a check blocked by one
	// of them prints "skip"; one blocked by a failure of a check not
	// selected prints that failure, once.
	reported := map[*checkResult]bool{}
	failed := 0
	for _, c := range doctorChecks {
		if len(opts.checks) > 0 && !slices.Contains(opts.checks, c.name) || len(opts.checks) == 0 && c.provider {
			continue
		}
		o := r.outcome(c)
		lines := o.results
		switch cause := o.blocked; {
		case cause != nil && reported[cause]:
			lines = []checkResult{{status: checkSkip, subject: c.subject, detail: "not checked, as " + cause.subject + " failed"}}
		case cause != nil:
			reported[cause] = true
			lines = []checkResult{{status: checkFail, subject: c.subject, detail: "cannot check: " + cause.subject + ": " + cause.detail, fix: cause.fix}}
		}
		for i := range lines {
			fmt.Fprintln(env.Stdout, lines[i])
			if lines[i].status == checkFail {
				failed++
			}
		}
		for i := range o.results {
			reported[&o.results[i]] = true
		}
	}
	if failed > 0 {
		fmt.Fprintf(env.Stdout, "doctor: %s\n", plural(failed, "problem"))
		return reportedError{fmt.Errorf("doctor found %s", plural(failed, "problem"))}
	}
	fmt.Fprintln(env.Stdout, "doctor: no problems found")
	return nil
}

// outcome runs c once, unless a check it needs failed.
func (r *doctorRun) outcome(c doctorCheck) checkOutcome {
	if o, ok := r.outcomes[c.name]; ok {
		return o
	}
	var o checkOutcome
	if o.blocked = r.cause(c.needs); o.blocked == nil {
		o.results = c.run(r)
	}
	r.outcomes[c.name] = o
	return o
}

// cause runs the check called name (after what it needs) and returns
// the failure that makes it fail or blocks it; nil when it passed or
// name is "".
func (r *doctorRun) cause(name string) *checkResult {
	if name == "" {
		return nil
	}
	o := r.outcome(doctorChecks[slices.IndexFunc(doctorChecks, func(c doctorCheck) bool { return c.name == name })])
	if o.blocked != nil {
		return o.blocked
	}
	for i := range o.results {
		if o.results[i].status == checkFail {
			return &o.results[i]
		}
	}
	return nil
}

func checkDockerCLI(r *doctorRun) []checkResult {
	path, err := r.eng.CLIPath()
	if err != nil {
		return []checkResult{{status: checkFail, subject: "docker CLI", detail: "not found on PATH",
			fix: "install Docker Engine and its CLI (https://docs.docker.com/engine/install/)"}}
	}
	return []checkResult{{subject: "docker CLI", detail: path}}
}

func checkEngine(r *doctorRun) []checkResult {
	v, err := r.eng.Version(r.ctx)
	if err != nil || v.Server == nil {
		if err == nil {
			err = errors.New("no answer")
		}
		return []checkResult{{status: checkFail, subject: "Docker engine", detail: "not reachable: " + errLine(err),
			fix: "sudo systemctl start docker (or point DOCKER_HOST or 'docker context use' at a running engine)"}}
	}
	detail := fmt.Sprintf("%s, API %s", v.Server.Version, v.Server.APIVersion)
	if v.Server.MinAPIVersion != "" {
		detail += " (accepts " + v.Server.MinAPIVersion + " and later)"
	}
	detail += fmt.Sprintf("; docker CLI %s, API %s", v.Client.Version, v.Client.APIVersion)
	return []checkResult{{subject: "Docker engine", detail: detail}}
}

func checkCompose(r *doctorRun) []checkResult {
	const subject, fix = "docker compose v2", "make compose-plugin"
	v, err := r.eng.ComposeVersion(r.ctx)
	if err != nil {
		return []checkResult{{status: checkFail, subject: subject, detail: "not installed: " + errLine(err), fix: fix}}
	}
	if major, err := docker.ComposeMajor(v); err != nil || major < 2 {
		return []checkResult{{status: checkFail, subject: subject, detail: "found compose " + v + ", not v2", fix: fix}}
	}
	return []checkResult{{subject: subject, detail: "version " + v}}
}

func checkRunsc(r *doctorRun) []checkResult {
	const subject = "runsc (gVisor) runtime"
	runtimes, err := r.eng.Runtimes(r.ctx)
	switch {
	case err != nil:
		return []checkResult{{status: checkNote, subject: subject, detail: "could not ask the engine: " + errLine(err)}}
	case slices.Contains(runtimes, "runsc"):
		return []checkResult{{subject: subject, detail: "available; agents run under it (up and render --runtime auto)"}}
	}
	return []checkResult{{status: checkNote, subject: subject,
		detail: "not installed; agents run under Docker's default runtime. gVisor puts a kernel between the agent and the host: https://gvisor.dev/docs/user_guide/install/"}}
}

func checkImages(r *doctorRun) []checkResult {
	imgs := compose.DefaultImages(render.DefaultImageTag)
	refs := []string{imgs.Egress, imgs.GitGate, imgs.Supervise, imgs.NetGuard}
	var missing []string
	for _, ref := range refs {
		ok, err := r.eng.ImagePresent(r.ctx, ref)
		if err != nil {
			return []checkResult{{status: checkFail, subject: "images", detail: "cannot list images: " + errLine(err), fix: "docker image ls"}}
		}
		if !ok {
			missing = append(missing, ref)
		}
	}
	if len(missing) > 0 {
		return []checkResult{{status: checkFail, subject: "images", detail: "missing " + strings.Join(missing, ", "),
			fix: "make images (in a bot-bottle checkout)"}}
	}
	return []checkResult{{subject: "images", detail: strings.Join(refs, ", ")}}
}

// wantMode is the widest mode a path in a bottle's directory may have.
type wantMode struct {
	path string
	mode fs.FileMode
}

// stateModes lists what checkStateModes checks under one bottle
// directory: itself, its private directories, each secret, agent.env.
func stateModes(d contract.BottleDir) []wantMode {
	want := []wantMode{{string(d), 0o700}}
	for _, dir := range []string{contract.BottleSecretsDir, contract.BottleQueueDir, contract.BottleGitDataDir} {
		want = append(want, wantMode{d.Path(dir), 0o700})
	}
	if entries, err := os.ReadDir(d.Path(contract.BottleSecretsDir)); err == nil {
		for _, e := range entries {
			want = append(want, wantMode{d.SecretFile(e.Name()), 0o400})
		}
	}
	return append(want, wantMode{d.Path(contract.BottleAgentEnvFile), 0o600})
}

// checkStateModes finds paths in the state directory that others than
// their owner could read: each is a failure with its chmod.
func checkStateModes(r *doctorRun) []checkResult {
	const subject = "state directory modes"
	stateDir := contract.StateBottlesDir(r.home)
	shown := r.disp.path(stateDir)
	entries, err := os.ReadDir(stateDir)
	if errors.Is(err, fs.ErrNotExist) {
		return []checkResult{{subject: subject, detail: shown + " does not exist yet (no bottles)"}}
	}
	if err != nil {
		return []checkResult{{status: checkFail, subject: subject, detail: errLine(err), fix: "ls -ld " + shellWord(shown)}}
	}
	want := []wantMode{{stateDir, 0o700}}
	bottles := 0
	for _, e := range entries {
		d, err := contract.StateBottleDir(r.home, e.Name())
		if err != nil || !e.IsDir() {
			continue
		}
		bottles++
		want = append(want, stateModes(d)...)
	}
	var res []checkResult
	for _, w := range want {
		fi, err := os.Lstat(w.path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		p := r.disp.path(w.path)
		if err != nil {
			res = append(res, checkResult{status: checkFail, subject: subject, detail: errLine(err), fix: "ls -ld " + shellWord(p)})
			continue
		}
		if got := fi.Mode().Perm(); got&^w.mode != 0 {
			res = append(res, checkResult{status: checkFail, subject: subject,
				detail: fmt.Sprintf("%s is %04o, want %04o", p, got, w.mode), fix: fmt.Sprintf("chmod %o %s", w.mode, shellWord(p))})
		}
	}
	if len(res) == 0 {
		res = append(res, checkResult{subject: subject, detail: fmt.Sprintf("%s and its %s are private", shown, plural(bottles, "bottle"))})
	}
	return res
}

// checkLeftovers finds what bottles left on the engine: the containers
// and networks of a bottle whose agent is not running (a stopped
// bottle's state and workspace volume are kept for resume; its
// containers are not), and everything labelled as a bottle with no state
// directory under this home.
func checkLeftovers(r *doctorRun) []checkResult {
	const subject = "leftovers"
	onEngine, err := r.eng.BottleResources(r.ctx)
	if err != nil {
		return []checkResult{{status: checkFail, subject: subject, detail: "cannot list the bottles' containers, networks and volumes: " + errLine(err),
			fix: "docker ps --all --filter label=" + contract.LabelBottle}}
	}
	known, err := bottle.All(r.home)
	if err != nil {
		return []checkResult{{status: checkFail, subject: subject, detail: errLine(err), fix: "ls -l " + shellWord(r.disp.path(contract.StateBottlesDir(r.home)))}}
	}
	bySlug := map[string]bottle.Known{}
	for _, k := range known {
		bySlug[filepath.Base(string(k.Dir))] = k
	}
	slugs := make([]string, 0, len(onEngine))
	for slug := range onEngine {
		slugs = append(slugs, slug)
	}
	slices.Sort(slugs)
	var res []checkResult
	running := 0
	for _, slug := range slugs {
		got := onEngine[slug]
		project := got.Project()
		k, ok := bySlug[slug]
		if project == "" && ok && k.Metadata != nil {
			project = k.Metadata.ComposeProject
		}
		if project == "" {
			project = compose.ProjectName(slug)
		}
		switch {
		case !ok:
			res = append(res, checkResult{status: checkFail, subject: subject,
				detail: fmt.Sprintf("bottle %s has no state dir under %s but has %s", slug, r.disp.path(contract.StateBottlesDir(r.home)), describeResources(got, true)),
				fix:    "docker compose -p " + shellWord(project) + " down --volumes"})
		case agentRuns(got.Containers):
			running++
		case k.Metadata != nil && k.Metadata.State == bottle.StateStarting:
			res = append(res, checkResult{status: checkNote, subject: subject, detail: fmt.Sprintf("bottle %s is starting; not checked", slug)})
		case len(got.Containers)+len(got.Networks) > 0:
			res = append(res, checkResult{status: checkFail, subject: subject,
				detail: fmt.Sprintf("bottle %s is stopped (its agent does not run) but has %s; removing them keeps its state and workspace for resume", slug, describeResources(got, false)),
				fix:    "docker compose -p " + shellWord(project) + " down"})
		}
	}
	if !slices.ContainsFunc(res, func(c checkResult) bool { return c.status == checkFail }) {
		res = append(res, checkResult{subject: subject, detail: fmt.Sprintf("none (%s running)", plural(running, "bottle"))})
	}
	return res
}

// describeResources names a bottle's containers and networks, and its
// volumes when volumes is set: "2 containers (a, b), 1 network (n)".
func describeResources(r *docker.Resources, volumes bool) string {
	var parts []string
	add := func(n int, word string, names func(i int) string) {
		if n == 0 {
			return
		}
		list := make([]string, n)
		for i := range list {
			list[i] = names(i)
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", plural(n, word), strings.Join(list, ", ")))
	}
	add(len(r.Containers), "container", func(i int) string { return r.Containers[i].Names })
	add(len(r.Networks), "network", func(i int) string { return r.Networks[i].Name })
	if volumes {
		add(len(r.Volumes), "volume", func(i int) string { return r.Volumes[i].Name })
	}
	return strings.Join(parts, ", ")
}
