package compose

import (
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/host/provision"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// Spec is everything the generator needs to lay out one bottle's compose
// project. It holds no secret values, only the names of the secrets each
// sidecar is given; the values live in the project's secrets/ directory,
// which someone else writes.
//
// Paths in a Spec are relative to the project directory (written "./name")
// unless a field says otherwise, so the directory stays self-contained.
type Spec struct {
	// Slug is the bottle slug (contract.ValidSlug). The project is named
	// "bot-bottle-<slug>" (see ProjectName).
	Slug string
	// Agent is the agent's name; it only labels the containers.
	Agent string
	// AgentImage is the agent container's image, such as
	// "bot-bottle/agent-test:local".
	AgentImage string
	// AgentEnv is the agent's literal, non-secret environment. Names must not
	// collide with the wiring the generator sets itself (the proxy
	// variables, in any case, every BOT_BOTTLE_ name, and the CA variables
	// of provision.CAEnv); see Validate.
	AgentEnv map[string]string
	// AgentEnvFile is an optional env_file for the agent, a file directly
	// in the project directory written "./agent.env"; "" means none.
	AgentEnvFile string
	// Images are the sidecar images.
	Images Images
	// SidecarUser is the numeric "uid:gid" every sidecar and agent-net run
	// as. netguard is the exception: it runs as root to rewrite the
	// agent's routes.
	SidecarUser string
	// EgressSecrets are the secrets egress gets: always contract.CAKeySecret,
	// plus the routes' tokens.
	EgressSecrets []string
	// GitGate adds the git-gate service (the bottle declares repos).
	GitGate bool
	// GitGateSecrets are the secrets git-gate gets: SSH identities and
	// known_hosts files. Only with GitGate.
	GitGateSecrets []string
	// Supervise adds the supervise service.
	Supervise bool
	// UpstreamCA gives egress the extra upstream roots in the project's
	// config directory (contract.BottleUpstreamCAFile).
	UpstreamCA bool
	// AgentUser is who the agent container runs as: a numeric "uid" (the
	// image's passwd entry then gives the group) or "uid:gid"; "" keeps
	// the image's USER. bot-bottle up sets the bare uid where it can,
	// because Docker's copy into a container (the workspace) needs a user
	// it can look up.
	AgentUser string
	// Workspace is where the agent's workspace volume is mounted in the
	// agent container, which also starts its sessions there: an absolute
	// path such as "/home/agent/workspace". "" means no workspace volume.
	Workspace string
	// Runtime is the agent's OCI runtime, "runsc" when Docker has gVisor;
	// "" leaves Docker's default.
	Runtime string
	// Resources limit the agent container. Every field is required: the
	// caller fills in the defaults, so a bottle is never unlimited.
	Resources Resources
}

// Resources limit the agent container.
type Resources struct {
	// Memory is the memory limit in bytes; the agent gets no swap beyond
	// it. At least 6 MiB (Docker's minimum).
	Memory int64
	// CPUs is how many CPUs' worth of time the agent may use; at least
	// 0.01, and Docker refuses more than the machine has.
	CPUs float64
	// Pids bounds the agent's processes and threads together; positive.
	Pids int64
}

// Images names the sidecar images.
type Images struct {
	// Egress runs the egress proxy.
	Egress string
	// GitGate runs the git gate; needed only with Spec.GitGate.
	GitGate string
	// Supervise runs the supervise MCP server; needed only with
	// Spec.Supervise.
	Supervise string
	// NetGuard runs agent-net, which owns the agent's network namespace
	// ('netguard hold'), and netguard, which locks it down.
	NetGuard string
}

// DefaultImages returns the images bot-bottle builds, all tagged tag:
// bot-bottle/egress:<tag>, bot-bottle/gitgate:<tag>,
// bot-bottle/supervise:<tag> and bot-bottle/netguard:<tag>.
func DefaultImages(tag string) Images {
	return Images{
		Egress:    "bot-bottle/egress:" + tag,
		GitGate:   "bot-bottle/gitgate:" + tag,
		Supervise: "bot-bottle/supervise:" + tag,
		NetGuard:  "bot-bottle/netguard:" + tag,
	}
}

// ProjectName returns the compose project name of the bottle slug:
// "bot-bottle-<slug>".
func ProjectName(slug string) string { return "bot-bottle-" + slug }

// Validate reports every problem with s at once, as a
// *contract.ValidationError of *contract.FieldError values whose Field is
// the Spec field's name ("Slug", "EgressSecrets[1]", "AgentEnv[HTTP_PROXY]",
// "Images.GitGate"). It returns nil when s is usable.
func (s Spec) Validate() error {
	var ps problems
	if err := contract.ValidSlug(s.Slug); err != nil {
		ps.add("Slug", err)
	}
	if err := validLabelValue(s.Agent); err != nil {
		ps.add("Agent", err)
	}
	if err := validImage(s.AgentImage); err != nil {
		ps.add("AgentImage", err)
	}
	for _, name := range sortedKeys(s.AgentEnv) {
		if err := validAgentEnvName(name); err != nil {
			ps.add("AgentEnv["+name+"]", err)
		} else if strings.ContainsRune(s.AgentEnv[name], 0) {
			ps.addf("AgentEnv["+name+"]", "value contains a NUL byte")
		}
	}
	if s.AgentEnvFile != "" {
		if err := validEnvFile(s.AgentEnvFile); err != nil {
			ps.add("AgentEnvFile", err)
		}
	}

	ps.image("Images.NetGuard", s.Images.NetGuard)
	ps.image("Images.Egress", s.Images.Egress)
	if s.GitGate {
		ps.image("Images.GitGate", s.Images.GitGate)
	}
	if s.Supervise {
		ps.image("Images.Supervise", s.Images.Supervise)
	}

	if err := validUser(s.SidecarUser); err != nil {
		ps.add("SidecarUser", err)
	}

	ps.secrets("EgressSecrets", s.EgressSecrets)
	if !slices.Contains(s.EgressSecrets, contract.CAKeySecret) {
		ps.addf("EgressSecrets", "must include %q, the bottle CA's private key egress signs with", contract.CAKeySecret)
	}
	ps.secrets("GitGateSecrets", s.GitGateSecrets)
	if !s.GitGate && len(s.GitGateSecrets) > 0 {
		ps.addf("GitGateSecrets", "names %d secrets but GitGate is false; there is no git-gate service to give them to", len(s.GitGateSecrets))
	}
	if slices.Contains(s.GitGateSecrets, contract.CAKeySecret) {
		ps.addf("GitGateSecrets", "must not include %q; the CA private key goes to egress only", contract.CAKeySecret)
	}

	if s.AgentUser != "" {
		uid, gid, hasGID := strings.Cut(s.AgentUser, ":")
		if !isDecimal(uid) || (hasGID && !isDecimal(gid)) {
			ps.addf("AgentUser", "%q is not a numeric uid or uid:gid, as in %q", s.AgentUser, "1000")
		} else if uid == "0" {
			ps.addf("AgentUser", "%q is root; the agent runs as an unprivileged user", s.AgentUser)
		}
	}
	if s.Workspace != "" {
		if err := validWorkspace(s.Workspace); err != nil {
			ps.add("Workspace", err)
		}
	}
	if s.Runtime != "" {
		if err := validRuntime(s.Runtime); err != nil {
			ps.add("Runtime", err)
		}
	}
	if s.Resources.Memory < 6<<20 {
		ps.addf("Resources.Memory", "%d bytes is below Docker's minimum of 6 MiB", s.Resources.Memory)
	}
	if !(s.Resources.CPUs >= 0.01) {
		ps.addf("Resources.CPUs", "%g is below Docker's minimum of 0.01", s.Resources.CPUs)
	}
	if s.Resources.Pids <= 0 {
		ps.addf("Resources.Pids", "%d leaves the agent's processes unlimited; give a positive limit", s.Resources.Pids)
	}
	return ps.err()
}

// problems collects the FieldErrors of one Validate call.
type problems []error

func (p *problems) add(field string, err error) {
	*p = append(*p, &contract.FieldError{Field: field, Err: err})
}

func (p *problems) addf(field, format string, args ...any) {
	p.add(field, fmt.Errorf(format, args...))
}

func (p *problems) image(field, image string) {
	if err := validImage(image); err != nil {
		p.add(field, err)
	}
}

// secrets checks a list of secret names: each valid, none repeated.
func (p *problems) secrets(field string, names []string) {
	seen := map[string]bool{}
	for i, name := range names {
		f := fmt.Sprintf("%s[%d]", field, i)
		if err := contract.ValidSecretName(name); err != nil {
			p.add(f, err)
			continue
		}
		if seen[name] {
			p.addf(f, "secret %q is listed twice", name)
		}
		seen[name] = true
	}
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return &contract.ValidationError{Errs: p}
}

// validLabelValue accepts a non-empty, single-line, printable string.
func validLabelValue(s string) error {
	if s == "" {
		return fmt.Errorf("is empty")
	}
	if i := strings.IndexFunc(s, isControl); i >= 0 {
		return fmt.Errorf("%q contains a control character", s)
	}
	return nil
}

// validImage accepts a non-empty image reference without whitespace or
// control characters; Docker judges the rest when it pulls or builds.
func validImage(s string) error {
	if s == "" {
		return fmt.Errorf("image is empty; name one, as in %q", "bot-bottle/egress:local")
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return r == ' ' || r == '\t' || isControl(r) }); i >= 0 {
		return fmt.Errorf("image %q contains whitespace or a control character", s)
	}
	if s[0] == '-' {
		return fmt.Errorf("image %q must not start with '-'", s)
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// proxyEnv are the proxy variables the generator points at egress; the
// agent's environment may not set them, in any case.
var proxyEnv = []string{"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY"}

// validAgentEnvName accepts a POSIX-style variable name that does not
// collide with the generator's own wiring.
func validAgentEnvName(name string) error {
	if name == "" {
		return fmt.Errorf("variable name is empty")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return fmt.Errorf("%q is not a variable name; use letters, digits and '_', not starting with a digit", name)
		}
	}
	upper := strings.ToUpper(name)
	if slices.Contains(proxyEnv, upper) {
		return fmt.Errorf("%s is wired by bot-bottle to the egress proxy and cannot be set", name)
	}
	if strings.HasPrefix(upper, "BOT_BOTTLE_") {
		return fmt.Errorf("%s is reserved: BOT_BOTTLE_ variables are bot-bottle's wiring", name)
	}
	if _, ok := provision.CAEnv()[name]; ok {
		return fmt.Errorf("%s is wired by bot-bottle to the bottle CA certificate and cannot be set", name)
	}
	return nil
}

// validEnvFile accepts "./<name>": one file directly in the project
// directory, so an env_file can never pull a secret (secrets/...) into the
// agent's environment.
func validEnvFile(p string) error {
	name, ok := strings.CutPrefix(p, "./")
	if !ok || name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
		return fmt.Errorf("%q must name a file directly in the project directory, as in %q", p, "./agent.env")
	}
	if name == contract.AuditFileName {
		return fmt.Errorf("%q is the audit log, not an env file", p)
	}
	return nil
}

// validUser accepts a numeric "uid:gid" with a non-zero uid.
func validUser(s string) error {
	uid, gid, ok := strings.Cut(s, ":")
	if !ok || !isDecimal(uid) || !isDecimal(gid) {
		return fmt.Errorf("%q is not a numeric uid:gid, as in %q", s, "1000:1000")
	}
	if n, _ := strconv.ParseUint(uid, 10, 32); n == 0 {
		return fmt.Errorf("%q runs the sidecars as root; give an unprivileged uid", s)
	}
	return nil
}

func isDecimal(s string) bool {
	if s == "" || len(s) > 10 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	_, err := strconv.ParseUint(s, 10, 32)
	return err == nil
}

// validWorkspace accepts a clean absolute path other than "/", without
// control characters (it becomes a mount target and the working directory).
func validWorkspace(p string) error {
	if !path.IsAbs(p) || path.Clean(p) != p || p == "/" {
		return fmt.Errorf("%q must be a clean absolute path below /, as in %q", p, "/home/agent/workspace")
	}
	if strings.IndexFunc(p, isControl) >= 0 || strings.ContainsAny(p, ":,") {
		return fmt.Errorf("%q contains a control character, ':' or ','; a mount target cannot", p)
	}
	return nil
}

// validRuntime accepts a runtime name such as "runsc".
func validRuntime(s string) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("runtime %q is not a runtime name, as in %q", s, "runsc")
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
