package manifest

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// agent decodes an agent file. Bottle keys are refused with a message that
// says why: an agent may come from a cloned repository and must not be
// able to grant itself capabilities.
func (r *reader) agent(name string, top *yaml.Node, body []byte) (*Agent, bool) {
	a := &Agent{Name: name, File: r.file, Prompt: strings.TrimSpace(string(body))}
	before := len(*r.problems)
	entries, _ := r.mapping(top, "")
	special := map[string][2]string{}
	for k, v := range agentSpecialKeys {
		special[k] = v
	}
	for _, k := range bottleKeys {
		special[k] = [2]string{fmt.Sprintf("%q is a bottle key, not allowed in an agent", k), bottleOnlyHint}
	}
	hasBottle := false
	for _, e := range r.knownKeys(entries, "an agent", agentKeys, special) {
		switch e.key {
		case "bottle":
			hasBottle = true
			if s, ok := r.nonEmptyStr(e.value, e.field); ok {
				a.Bottle = s
			}
		case "skills":
			a.Skills, _ = r.strList(e.value, e.field, checkSkill)
		case "git-gate":
			a.GitUser = r.agentGitGate(e.value, e.field)
		default:
			if slices.Contains(claudeCodeKeys, e.key) {
				a.ClaudeCodeKeys = append(a.ClaudeCodeKeys, e.key)
			}
		}
	}
	if !hasBottle && top != nil {
		r.add(top, "bottle", "missing required key bottle", "add `bottle: NAME` naming a file in bottles/")
	}
	sort.Strings(a.ClaudeCodeKeys)
	return a, len(*r.problems) == before
}

// agentGitGate decodes an agent's git-gate block, which may hold only the
// commit identity: repos carry credentials and host trust and stay in bottles.
func (r *reader) agentGitGate(n *yaml.Node, field string) GitUser {
	var u GitUser
	entries, _ := r.mapping(n, field)
	special := map[string][2]string{
		"repos": {"git-gate.repos is not allowed in an agent", "repos carry credentials and host trust; declare them in the bottle"},
	}
	for _, e := range r.knownKeys(entries, "an agent's git-gate", []string{"user"}, special) {
		u = r.gitUser(e.value, e.field)
	}
	return u
}

func checkSkill(s string) error {
	if !skillNameRE.MatchString(s) {
		return fmt.Errorf("%q is not a skill name (letters, digits, '.', '_', '-'; no paths)", s)
	}
	return nil
}
