package provision

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/shared/termtext"
)

// Step is a provisioning action a provider plugs in (see Plan.MCP). It
// returns what it did, in a few words, for the progress line.
type Step func(ctx context.Context, t Target, a Agent) (did string, err error)

// Plan is everything Run needs besides the container and its agent.
type Plan struct {
	// Prompt is the agent's prompt, written to ~/.bot-bottle-prompt.txt;
	// "" writes an empty file.
	Prompt string
	// Skills are copied into SkillsDir, each replacing the agent's copy
	// (see ResolveSkills); nil copies none.
	Skills []Skill
	// SkillsDir is where skills go, relative to the agent's home; ""
	// means DefaultSkillsDir. Providers choose their own (Claude Code:
	// .claude/skills).
	SkillsDir string
	// MaxSkillBytes caps the skills' total file size; 0 means
	// DefaultMaxSkillBytes.
	MaxSkillBytes int64
	// Git is the commit identity; the zero value sets none.
	Git GitIdentity
	// Repos are the git gate's repositories; nil: none.
	Repos []GateRepo
	// SelfTestHost is the declared egress host the TLS self-test
	// connects to (see ChooseSelfTestHost); "" skips the self-test, and
	// SelfTestSkip says why.
	SelfTestHost string
	// SelfTestSkip is printed when SelfTestHost is "".
	SelfTestSkip string
	// MCP registers the supervise MCP server for the provider (for the
	// generic provider, GenericMCP(SuperviseURL)); nil registers nothing,
	// and MCPSkip says why.
	MCP Step
	// MCPSkip is printed when MCP is nil; "" means "supervise is off".
	MCPSkip string
	// Progress receives one line per step; nil discards them.
	Progress io.Writer
}

// Step names, as failures and progress lines name them.
const (
	StepCA       = "CA trust"
	StepSelfTest = "TLS self-test"
	StepPrompt   = "prompt"
	StepSkills   = "skills"
	StepGit      = "git config"
	StepMCP      = "MCP registration"
)

// Run provisions the agent in t, step by step, printing one line per step
// ("provision: ...") to p.Progress:
//
//  1. CA trust: the bottle CA into CABundlePath, as root
//     (update-ca-certificates when the image has it, else appended);
//  2. TLS self-test: a verified handshake to p.SelfTestHost through
//     egress, as the agent, with a client the image has;
//  3. the prompt file, ~/.bot-bottle-prompt.txt, 0600;
//  4. the skills, into ~/<p.SkillsDir>/<name>/;
//  5. ~/.gitconfig: identity and the gate's insteadOf rewrites;
//  6. the provider's MCP registration (p.MCP).
//
// Everything in the agent's home is written as the agent. The first
// failure stops Run with an error naming its step ("provision: <step>:
// ..."). Each step is idempotent, so Run may be run again.
func Run(ctx context.Context, t Target, a Agent, p Plan) error {
	out := p.Progress
	if out == nil {
		out = io.Discard
	}
	maxBytes := p.MaxSkillBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxSkillBytes
	}
	skillsDir := p.SkillsDir
	if skillsDir == "" {
		skillsDir = DefaultSkillsDir
	}
	steps := []struct {
		name string
		run  Step
	}{
		{StepCA, trustCA},
		{StepSelfTest, func(ctx context.Context, t Target, a Agent) (string, error) {
			if p.SelfTestHost == "" {
				return "TLS self-test skipped: " + cmp.Or(p.SelfTestSkip, "no host to test against"), nil
			}
			return selfTest(ctx, t, a, p.SelfTestHost)
		}},
		{StepPrompt, func(ctx context.Context, t Target, a Agent) (string, error) {
			return writePrompt(ctx, t, a, p.Prompt)
		}},
		{StepSkills, func(ctx context.Context, t Target, a Agent) (string, error) {
			return copySkills(ctx, t, a, p.Skills, skillsDir, maxBytes)
		}},
		{StepGit, func(ctx context.Context, t Target, a Agent) (string, error) {
			return writeGitConfig(ctx, t, a, p.Git, p.Repos)
		}},
		{StepMCP, func(ctx context.Context, t Target, a Agent) (string, error) {
			if p.MCP == nil {
				return "no MCP server registered: " + cmp.Or(p.MCPSkip, "supervise is off"), nil
			}
			return p.MCP(ctx, t, a)
		}},
	}
	for _, s := range steps {
		did, err := s.run(ctx, t, a)
		if err != nil {
			return fmt.Errorf("provision: %s: %w", s.name, err)
		}
		fmt.Fprintf(out, "provision: %s\n", termtext.Line(strings.TrimSpace(did)))
	}
	return nil
}
