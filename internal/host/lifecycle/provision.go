package lifecycle

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/bot-bottle/bot-bottle/internal/host/compose"
	"github.com/bot-bottle/bot-bottle/internal/host/manifest"
	"github.com/bot-bottle/bot-bottle/internal/host/provider"
	"github.com/bot-bottle/bot-bottle/internal/host/provision"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// Provisioner returns a Manager.Provision that readies the agent with
// package provision: the bottle CA trusted and a TLS handshake through
// egress verified, the prompt, skills (already resolved on the host, so
// a missing one stopped the launch before anything started), the git
// config that sends every gate repo's URL through the gate, and the
// supervise MCP server registered. progress gets one line per step.
//
// codexAuth, when the bottle's Codex forwards the host's login, gives the
// stand-in auth.json the agent gets (nil: none is needed or given).
func Provisioner(skills []provision.Skill, progress io.Writer, codexAuth func() ([]byte, error)) func(context.Context, *Bottle, *manifest.Effective) error {
	return func(ctx context.Context, b *Bottle, eff *manifest.Effective) error {
		id, err := b.Compose.ContainerID(ctx, compose.AgentService)
		if err != nil || id == "" {
			return fmt.Errorf("no agent container (%v)", err)
		}
		t := provision.DockerExec{Container: id, Docker: b.Compose.Runner.Bin}
		agent, err := provision.Identify(ctx, t)
		if err != nil {
			return err
		}
		if agent.UID != b.User.UID || agent.Home != b.User.Home {
			return fmt.Errorf("the agent runs as uid %d with home %s, but its image said uid %d, home %s", agent.UID, agent.Home, b.User.UID, b.User.Home)
		}
		data, err := os.ReadFile(b.Dir.RoutesFile())
		if err != nil {
			return err
		}
		rf, err := contract.ParseRoutes(data)
		if err != nil {
			return fmt.Errorf("the bottle's routes file: %w", err)
		}
		plan := provision.Plan{
			Prompt:   eff.Agent.Prompt,
			Skills:   skills,
			Git:      provision.GitIdentity{Name: eff.Bottle.GitUser.Name, Email: eff.Bottle.GitUser.Email},
			Progress: progress,
		}
		for _, r := range eff.Bottle.Repos {
			plan.Repos = append(plan.Repos, provision.GateRepo{Name: r.Name, URL: r.URL})
		}
		plan.SelfTestHost, plan.SelfTestSkip = provision.ChooseSelfTestHost(rf.Routes)
		setup := provider.Setup{Provider: eff.Bottle.Provider, Prompt: eff.Agent.Prompt, Supervise: eff.Bottle.Supervise}
		if eff.Bottle.Provider.Template == provider.Codex && eff.Bottle.Provider.ForwardHostCredentials {
			if codexAuth == nil {
				return fmt.Errorf("this bottle forwards the host's Codex login, which cannot be read here")
			}
			if setup.CodexAuth, err = codexAuth(); err != nil {
				return err
			}
		}
		plan.MCP = provider.ConfigStep(setup)
		if plan.MCP == nil {
			plan.MCPSkip = "supervise is off"
		}
		if c, ok := provider.For(eff.Bottle.Provider.Template); ok {
			plan.SkillsDir = c.SkillsDir
		}
		return provision.Run(ctx, t, agent, plan)
	}
}
