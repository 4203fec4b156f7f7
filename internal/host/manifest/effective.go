package manifest

import (
	"fmt"
	"sort"
	"strings"
)

// Effective is what an agent runs with: the agent and its bottle after
// extends and the agent's overlay.
type Effective struct {
	// Agent is the agent file.
	Agent *Agent
	// Bottle is the agent's bottle with the agent's git identity overlaid.
	Bottle Bottle
	// GitUserFrom says which files the identity's fields came from:
	// "agent", "bottle", "agent+bottle", or "" when no identity is set.
	GitUserFrom string
}

// Effective returns the named agent's effective configuration, or an error
// naming the defined agents when there is no such agent.
func (m *Manifest) Effective(agent string) (*Effective, error) {
	if p, refused := m.Refused[agent]; refused {
		return nil, fmt.Errorf("agent %q: %s", agent, p.String())
	}
	a, ok := m.Agents[agent]
	if !ok {
		return nil, fmt.Errorf("no agent %q: %s", agent, m.agentHint(agent))
	}
	b, ok := m.Bottles[a.Bottle]
	if !ok {
		return nil, fmt.Errorf("agent %q: bottle %q did not load; run `bot-bottle validate` to see why", agent, a.Bottle)
	}
	eff := &Effective{Agent: a, Bottle: *b}
	eff.Bottle.GitUser = b.GitUser.overlay(a.GitUser)
	switch {
	case a.GitUser.IsZero() && b.GitUser.IsZero():
	case a.GitUser.IsZero():
		eff.GitUserFrom = "bottle"
	case eff.Bottle.GitUser == a.GitUser || b.GitUser.IsZero():
		eff.GitUserFrom = "agent"
	default:
		eff.GitUserFrom = "agent+bottle"
	}
	return eff, nil
}

func (m *Manifest) agentHint(name string) string {
	names := m.AgentNames()
	if len(names) == 0 {
		return fmt.Sprintf("no agents are defined; create %s/agents/%s.md", m.Home, name)
	}
	hint := "defined agents: " + strings.Join(names, ", ")
	if s := suggest(name, names); s != "" {
		hint = fmt.Sprintf("did you mean %q? (%s)", s, hint)
	}
	return hint
}

// AgentNames returns the agent names, sorted.
func (m *Manifest) AgentNames() []string {
	return sortedKeys(m.Agents)
}

// BottleNames returns the bottle names, sorted.
func (m *Manifest) BottleNames() []string {
	return sortedKeys(m.Bottles)
}

func sortedKeys[V any](mp map[string]V) []string {
	out := make([]string, 0, len(mp))
	for k := range mp {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
