// Package render turns an agent's effective configuration into a
// self-contained docker compose project directory: compose.yaml, the routes
// and gate files, a freshly minted bottle CA, and the secrets the sidecars
// need, each in a 0400 file under a 0700 directory. `docker compose up` in
// that directory runs the bottle with no bot-bottle binary involved.
//
// Secret values are read from the host (environment variables named by
// token_ref, SSH identity files) and written only under secrets/; they are
// never in compose.yaml, the agent's environment, or an error message.
//
// The agent's own env is resolved by ResolveEnv before anything starts:
// literal values as written, ${VAR} from the operator's environment (a
// variable not set is an error naming it and the manifest line), ?prompt
// values asked on the terminal. Literal values are in compose.yaml, as in
// the manifest. The resolved ${VAR} and ?prompt values go to one place
// only: agent.env, a 0600 file in the project directory that compose
// reads as the agent's env_file, and that `down` deletes. They never
// appear on a command line (bot-bottle's or docker's), in compose.yaml,
// in a sidecar's environment (so not in its `docker inspect`), in a log
// line, in metadata.json or in an error message; ResolvedEnv formats and
// logs as names and origins only. The agent's own environment holds them,
// by design.
package render

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/host/compose"
	"github.com/bot-bottle/bot-bottle/internal/host/manifest"
	"github.com/bot-bottle/bot-bottle/internal/host/provider"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// ProjectPrefix starts every bottle's compose project name.
const ProjectPrefix = "bot-bottle-"

// SidecarUID is the uid (and gid) the sidecar images run as. When the
// operator is root, rendered files the sidecars read or write are owned by
// it; otherwise the sidecars run as the operator.
const SidecarUID = 65532

// DefaultImageTag is the tag `make images` gives the images it builds.
const DefaultImageTag = "local"

// Options says where and how to render.
type Options struct {
	// Dir is the project directory to create. It must not exist or be
	// empty; nothing is left behind in it when rendering fails.
	Dir string
	// Images are the sidecar images; the zero value means
	// compose.DefaultImages(DefaultImageTag).
	Images compose.Images
	// AgentImage overrides the agent image the provider implies (see the
	// AgentImage function); empty: that image.
	AgentImage string
	// Getenv reads the operator's environment for token_ref values; nil
	// means os.Getenv.
	Getenv func(string) string
	// Env is the agent's env as ResolveEnv resolved it before anything
	// started; nil: Render resolves it, with LookupEnv and Prompt, once
	// every other check has passed.
	Env *ResolvedEnv
	// LookupEnv reads the operator's environment for ${VAR} values,
	// telling a variable set empty from one not set; nil means
	// os.LookupEnv, or Getenv when that is set (an empty value then
	// counts as not set).
	LookupEnv func(string) (string, bool)
	// Prompt asks the operator for a `?prompt` env value without echoing
	// it; nil means prompted values are an error (no terminal).
	Prompt Prompter
	// Runtime is the container runtime for the agent ("runsc" when Docker
	// has it); empty means Docker's default.
	Runtime string
	// Now is the clock for the CA's validity; nil means time.Now.
	Now func() time.Time
	// Euid and Egid are the operator's ids; nil means os.Geteuid/Getegid.
	// Tests set them.
	Euid, Egid *int
	// Slug is the bottle's slug; empty means the agent's name (what
	// `render -o` uses; `up` mints "<agent>-<5 random>").
	Slug string
	// AgentHome is the agent's home in its image, for the provider's
	// environment (Codex's CODEX_HOME); "" when not known (render -o).
	AgentHome string
	// CodexAccessToken reads the host's Codex access token, for a codex
	// bottle that forwards the host's login; nil: such a bottle is an
	// error.
	CodexAccessToken func() (string, error)
	// AgentUser and Workspace are compose.Spec's: who the agent container
	// runs as and where its workspace volume is; empty: the image's USER
	// and no workspace volume.
	AgentUser, Workspace string
	// HostCPUs is how many CPUs the machine running the bottle has: the
	// default resources.cpus is at most that, and a larger declared value
	// is an error (Docker would refuse it). Zero means runtime.NumCPU().
	HostCPUs int
}

// Result describes a rendered project.
type Result struct {
	// Dir is the project directory.
	Dir string
	// Slug is the bottle's slug; the compose project is ProjectPrefix+Slug.
	Slug string
	// Project is the compose project name.
	Project string
	// Services lists the compose services, sorted.
	Services []string
	// Secrets lists the secret names written under secrets/, sorted.
	Secrets []string
}

// Render writes the project for eff into opts.Dir.
func Render(eff *manifest.Effective, opts Options) (*Result, error) {
	if opts.Dir == "" {
		return nil, errors.New("render: no output directory given; pass -o DIR")
	}
	plan, err := newPlan(eff, opts)
	if err != nil {
		return nil, err
	}
	if err := checkTarget(opts.Dir); err != nil {
		return nil, err
	}
	parent := filepath.Dir(filepath.Clean(opts.Dir))
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(opts.Dir)+".render-")
	if err != nil {
		return nil, fmt.Errorf("create a temporary directory beside %s: %w", opts.Dir, err)
	}
	defer os.RemoveAll(tmp)
	if err := plan.write(tmp); err != nil {
		return nil, err
	}
	if err := os.Remove(opts.Dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("replace empty %s: %w", opts.Dir, err)
	}
	if err := os.Rename(tmp, opts.Dir); err != nil {
		return nil, fmt.Errorf("move the rendered project into %s: %w", opts.Dir, err)
	}
	return plan.result(opts.Dir), nil
}

// RenewSecrets writes a stopped bottle's secrets again into its directory
// dir, as Render would for eff, leaving the rest (the compose project, the
// routes and gate files with what the operator approved since, the queue,
// the audit log, the gate's mirrors) as it is: a fresh CA, every token
// and SSH key read again from the host, the agent's env values resolved
// again. opts.Dir and opts.Slug are ignored; the agent must be restarted
// (its trust store provisioned) to trust the new CA.
func RenewSecrets(eff *manifest.Effective, dir contract.BottleDir, slug string, opts Options) error {
	opts.Slug = slug
	plan, err := newPlan(eff, opts)
	if err != nil {
		return err
	}
	if err := RemoveSecrets(dir); err != nil {
		return err
	}
	w := writer{root: string(dir), owner: plan.owner}
	w.dir(contract.BottleSecretsDir, 0o700, true)
	plan.writeSecrets(&w)
	return w.err
}

// WriteSecret writes value as the secret name in the bottle directory dir
// (0400, in a 0700 secrets/), owned as Render would own it: by the
// sidecars' user when the operator is root.
func WriteSecret(dir contract.BottleDir, name string, value []byte) error {
	if err := contract.ValidSecretName(name); err != nil {
		return err
	}
	w := writer{root: string(dir), owner: operatorOwner(Options{})}
	w.dir(contract.BottleSecretsDir, 0o700, true)
	rel := contract.BottleSecretsDir + "/" + name
	if err := os.Remove(dir.Path(rel)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("replace secret %s: %w", name, err)
	}
	w.file(rel, value, 0o400, true)
	return w.err
}

// RemoveSecrets deletes what a stopped bottle must not keep on disk: every
// file under secrets/ (the CA key, tokens, SSH keys) and the agent's env
// values. Missing files are not an error.
func RemoveSecrets(dir contract.BottleDir) error {
	var errs []error
	for _, p := range []string{dir.Path(contract.BottleSecretsDir), dir.Path(contract.BottleAgentEnvFile)} {
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// checkTarget refuses a directory that holds anything: rendering never
// overwrites an operator's files.
func checkTarget(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("output directory %s: %w", dir, err)
	case len(entries) > 0:
		return fmt.Errorf("output directory %s is not empty; choose a new directory or remove this one first", dir)
	}
	return nil
}

// plan is everything to write, computed before touching the disk.
type plan struct {
	slug       string
	upstreamCA []byte // extra upstream roots for egress; nil: none
	spec       compose.Spec
	routes     *contract.RoutesFile
	gate       *contract.GateFile
	secrets    map[string][]byte
	agentEnv   []envLine
	ca         *bottleCA
	owner      owner
}

type envLine struct{ name, value string }

// owner is who the sidecars run as and who owns what they touch.
type owner struct {
	uid, gid int
	chown    bool // the operator is root: hand the files to SidecarUID
}

func (o owner) user() string { return strconv.Itoa(o.uid) + ":" + strconv.Itoa(o.gid) }

func newPlan(eff *manifest.Effective, opts Options) (*plan, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	slug := eff.Agent.Name
	if opts.Slug != "" {
		slug = opts.Slug
	}
	if err := contract.ValidSlug(slug); err != nil {
		return nil, fmt.Errorf("agent %q cannot name a bottle: %w; rename %s", slug, err, eff.Agent.File)
	}
	p := &plan{slug: slug, secrets: map[string][]byte{}, owner: operatorOwner(opts)}
	var problems []string
	p.routes, problems = routesFile(eff.Bottle, getenv, p.secrets, problems)
	problems = providerRoutes(p.routes, eff.Bottle.Provider, getenv, opts.CodexAccessToken, p.secrets, problems)
	for _, v := range eff.Bottle.Env {
		if slices.Contains(provider.ReservedEnv(eff.Bottle.Provider.Template), v.Name) {
			problems = append(problems, fmt.Sprintf("env %s (%s:%d) is the %s provider's own: bot-bottle gives the agent a placeholder there and egress the real credential; remove it (a token belongs in agent_provider, where egress holds it)",
				v.Name, v.File, v.Line, eff.Bottle.Provider.Template))
		}
	}
	p.routes.SSRFAllow = eff.Bottle.SSRFAllow
	if ca := eff.Bottle.UpstreamCA; ca != "" {
		var err error
		if p.upstreamCA, err = readUpstreamCA(ca); err != nil {
			problems = append(problems, fmt.Sprintf("egress.upstream_ca: %v", err))
		}
	}
	p.gate, problems = gateFile(eff.Bottle, p.secrets, problems)
	hostCPUs := opts.HostCPUs
	if hostCPUs <= 0 {
		hostCPUs = runtime.NumCPU()
	}
	if c := eff.Bottle.Resources.CPUs; c > float64(hostCPUs) {
		problems = append(problems, fmt.Sprintf("resources.cpus %s is more than this machine's %d CPUs, which Docker refuses; lower it or leave it out (the default is %s, or all CPUs if fewer)",
			manifest.FormatCPUs(c), hostCPUs, manifest.FormatCPUs(manifest.DefaultCPUs)))
	}
	limits := eff.Bottle.Resources.WithDefaults(hostCPUs)
	agentImage := opts.AgentImage
	if agentImage == "" {
		var err error
		if agentImage, err = AgentImage(eff.Bottle); err != nil {
			problems = append(problems, err.Error())
		}
	}
	p.agentEnv, problems = agentEnv(eff.Bottle, opts, problems)
	if len(problems) > 0 {
		return nil, fmt.Errorf("cannot render agent %q:\n  %s", slug, strings.Join(problems, "\n  "))
	}
	if err := p.routes.Validate(); err != nil {
		return nil, fmt.Errorf("agent %q: the routes file would be invalid: %w", slug, err)
	}
	if p.gate != nil {
		if err := p.gate.Validate(); err != nil {
			return nil, fmt.Errorf("agent %q: the gate file would be invalid: %w", slug, err)
		}
	}
	ca, err := newBottleCA(slug, now())
	if err != nil {
		return nil, err
	}
	p.ca = ca
	p.secrets[contract.CAKeySecret] = ca.keyPEM

	images := opts.Images
	if images == (compose.Images{}) {
		images = compose.DefaultImages(DefaultImageTag)
	}
	literal := map[string]string{}
	for k, v := range provider.AgentEnv(eff.Bottle.Provider, opts.AgentHome) {
		literal[k] = v
	}
	for _, v := range eff.Bottle.Env {
		if v.Value.Kind == manifest.EnvLiteral {
			literal[v.Name] = v.Value.Literal
		}
	}
	p.spec = compose.Spec{
		Slug:          slug,
		Agent:         eff.Agent.Name,
		AgentImage:    agentImage,
		AgentEnv:      literal,
		Images:        images,
		SidecarUser:   p.owner.user(),
		EgressSecrets: egressSecrets(p.routes),
		GitGate:       p.gate != nil,
		Supervise:     eff.Bottle.Supervise,
		Runtime:       opts.Runtime,
		AgentUser:     opts.AgentUser,
		Workspace:     opts.Workspace,
		UpstreamCA:    p.upstreamCA != nil,
		Resources:     compose.Resources{Memory: limits.Memory, CPUs: limits.CPUs, Pids: limits.Pids},
	}
	if len(p.agentEnv) > 0 {
		p.spec.AgentEnvFile = "./" + contract.BottleAgentEnvFile
	}
	if p.gate != nil {
		p.spec.GitGateSecrets = gateSecrets(p.gate)
	}
	if err := p.spec.Validate(); err != nil {
		return nil, fmt.Errorf("agent %q: %w", slug, err)
	}
	return p, nil
}

func operatorOwner(opts Options) owner {
	uid, gid := os.Geteuid(), os.Getegid()
	if opts.Euid != nil {
		uid = *opts.Euid
	}
	if opts.Egid != nil {
		gid = *opts.Egid
	}
	if uid == 0 {
		return owner{uid: SidecarUID, gid: SidecarUID, chown: true}
	}
	return owner{uid: uid, gid: gid}
}

// TokenSecretName is the secret a route's token_ref is stored under.
func TokenSecretName(tokenRef string) string {
	return "token_" + strings.ToLower(tokenRef)
}

// IdentitySecretName is the secret a repo's SSH identity is stored under.
func IdentitySecretName(repo string) string {
	return "ssh_" + repo
}

// readUpstreamCA reads a PEM bundle of certificates (and nothing else).
func readUpstreamCA(path string) ([]byte, error) {
	p, err := expandHome(path)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	rest, n := data, 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%s holds a %s; give only certificates", p, block.Type)
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate", p)
	}
	return data, nil
}

// providerRoutes adds the routes the provider needs to f, replacing
// manifest routes for the same hosts, with the provider's credential read
// into secrets.
func providerRoutes(f *contract.RoutesFile, p manifest.Provider, getenv func(string) string, codexToken func() (string, error), secrets map[string][]byte, problems []string) []string {
	routes := provider.Routes(p)
	if len(routes) == 0 {
		return problems
	}
	switch {
	case p.Template == provider.Claude && p.AuthToken != "":
		token := strings.TrimSpace(getenv(p.AuthToken))
		if token == "" {
			problems = append(problems, fmt.Sprintf("agent_provider.auth_token names $%s, which is not set in your environment; export it (the token goes only to the egress sidecar)", p.AuthToken))
		}
		secrets[provider.ClaudeTokenSecret] = []byte(token)
	case p.Template == provider.Codex && p.ForwardHostCredentials:
		if codexToken == nil {
			problems = append(problems, "agent_provider.forward_host_credentials: the host's Codex login cannot be read here")
			break
		}
		token, err := codexToken()
		if err != nil {
			problems = append(problems, "agent_provider.forward_host_credentials: "+err.Error())
		}
		secrets[provider.CodexTokenSecret] = []byte(token)
	}
	for _, pr := range routes {
		f.Routes = slices.DeleteFunc(f.Routes, func(r contract.Route) bool {
			return contract.NormalizeHost(r.Host) == contract.NormalizeHost(pr.Host)
		})
		f.Routes = append(f.Routes, pr.Route)
	}
	return problems
}

func routesFile(b manifest.Bottle, getenv func(string) string, secrets map[string][]byte, problems []string) (*contract.RoutesFile, []string) {
	f := &contract.RoutesFile{Version: contract.Version}
	// refs maps each token secret to the token_ref and host it was made
	// for: two refs differing only in case would share the secret, and a
	// route would be sent another's token. The manifest refuses this too.
	type refUse struct{ ref, host string }
	refs := map[string]refUse{}
	for _, r := range b.Routes {
		cr := contract.Route{
			Host:           r.Host,
			PathAllowlist:  r.PathAllowlist,
			Methods:        r.Methods,
			Ports:          r.Ports,
			TLSPassthrough: r.TLSPassthrough,
			SSRFAllow:      r.SSRFAllow,
			DLPAllow:       r.DLPAllow,
			DLPStrict:      r.DLPStrict,
		}
		if r.Auth != nil {
			name := TokenSecretName(r.Auth.TokenRef)
			if first, ok := refs[name]; ok && first.ref != r.Auth.TokenRef {
				problems = append(problems, fmt.Sprintf("route %s: auth.token_ref %s and the token_ref %s of the route to %s differ only in case and would share the secret %s; use one variable, or rename one",
					r.Host, r.Auth.TokenRef, first.ref, first.host, name))
				continue
			}
			refs[name] = refUse{r.Auth.TokenRef, r.Host}
			token := strings.TrimSpace(getenv(r.Auth.TokenRef))
			if token == "" {
				problems = append(problems, fmt.Sprintf("route %s: auth.token_ref names $%s, which is not set in your environment; export it (the token goes only to the egress sidecar)", r.Host, r.Auth.TokenRef))
			} else if strings.ContainsAny(token, "\r\n") {
				problems = append(problems, fmt.Sprintf("route %s: $%s holds more than one line; a token is a single line", r.Host, r.Auth.TokenRef))
			}
			secrets[name] = []byte(token)
			cr.Auth = &contract.Auth{Scheme: r.Auth.Scheme, Secret: name}
		}
		f.Routes = append(f.Routes, cr)
	}
	return f, problems
}

func gateFile(b manifest.Bottle, secrets map[string][]byte, problems []string) (*contract.GateFile, []string) {
	if len(b.Repos) == 0 {
		return nil, problems
	}
	f := &contract.GateFile{Version: contract.Version}
	for _, r := range b.Repos {
		name := IdentitySecretName(r.Name)
		key, err := readIdentity(r.Identity)
		if err != nil {
			problems = append(problems, fmt.Sprintf("git-gate repo %s: %v", r.Name, err))
		}
		secrets[name] = key
		f.Repos = append(f.Repos, contract.Repo{Name: r.Name, URL: r.URL, Identity: name, HostKey: r.HostKey,
			PushRefs: r.PushRefs, AllowBranchDelete: r.AllowBranchDelete})
	}
	return f, problems
}

// readIdentity reads an SSH private key file, expanding a leading "~/".
// The error names the file, never its content.
func readIdentity(path string) ([]byte, error) {
	expanded, err := expandHome(path)
	if err != nil {
		return nil, fmt.Errorf("identity %s: %w", path, err)
	}
	data, err := os.ReadFile(expanded)
	if err != nil {
		return nil, fmt.Errorf("identity: %w; point identity at the SSH private key the gate should push with", err)
	}
	if !strings.Contains(string(data), "PRIVATE KEY-----") {
		return nil, fmt.Errorf("identity %s does not look like an SSH private key (no PRIVATE KEY block); give the private key, not the .pub file", path)
	}
	return data, nil
}

// agentEnv returns the env values the agent.env file holds: those read
// from the host or asked at launch (literals are in compose.yaml). With
// no resolved env given, it resolves one, asking nothing while other
// problems would fail the render anyway.
func agentEnv(b manifest.Bottle, opts Options, problems []string) ([]envLine, []string) {
	env := opts.Env
	if env == nil {
		lookup := opts.LookupEnv
		if lookup == nil && opts.Getenv != nil {
			lookup = func(k string) (string, bool) { v := opts.Getenv(k); return v, v != "" }
		}
		if len(problems) > 0 {
			return nil, append(problems, hostEnvProblems(b, orOS(lookup))...)
		}
		var envProblems []string
		if env, envProblems = resolveEnv(b, lookup, opts.Prompt); len(envProblems) > 0 {
			return nil, append(problems, envProblems...)
		}
	}
	var out []envLine
	for _, o := range EnvOrigins(b) {
		if o.Kind == manifest.EnvLiteral {
			continue
		}
		value, ok := env.Values[o.Name]
		if !ok {
			problems = append(problems, o.where()+" has no resolved value; resolve the env of this configuration with ResolveEnv")
			continue
		}
		if msg := envFileProblem(value); msg != "" {
			problems = append(problems, o.where()+": the value "+msg)
			continue
		}
		out = append(out, envLine{o.Name, value})
	}
	return out, problems
}

func orOS(lookup func(string) (string, bool)) func(string) (string, bool) {
	if lookup == nil {
		return os.LookupEnv
	}
	return lookup
}

func egressSecrets(f *contract.RoutesFile) []string {
	names := []string{contract.CAKeySecret}
	for _, r := range f.Routes {
		if r.Auth != nil {
			names = append(names, r.Auth.Secret)
		}
	}
	return uniqueSorted(names)
}

func gateSecrets(f *contract.GateFile) []string {
	var names []string
	for _, r := range f.Repos {
		names = append(names, r.Identity)
		if r.HostKeyIsSecret() {
			names = append(names, r.HostKey)
		}
	}
	return uniqueSorted(names)
}

func uniqueSorted(in []string) []string {
	sort.Strings(in)
	out := in[:0]
	for i, s := range in {
		if i == 0 || s != in[i-1] {
			out = append(out, s)
		}
	}
	return out
}

func (p *plan) result(dir string) *Result {
	r := &Result{Dir: dir, Slug: p.slug, Project: ProjectPrefix + p.slug}
	r.Services = []string{compose.AgentService, compose.AgentNetService, compose.NetGuardService, contract.EgressHost}
	if p.spec.GitGate {
		r.Services = append(r.Services, contract.GitGateHost)
	}
	if p.spec.Supervise {
		r.Services = append(r.Services, contract.SuperviseHost)
	}
	sort.Strings(r.Services)
	for name := range p.secrets {
		r.Secrets = append(r.Secrets, name)
	}
	sort.Strings(r.Secrets)
	return r
}
