package manifest

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
	"go.yaml.in/yaml/v3"
)

// bottleDecl is one bottle file as written: its fields plus which of them
// it declares, which extends needs to tell "inherit" from "replace".
type bottleDecl struct {
	name, file string
	lineBase   int        // file line of YAML line 1, minus one
	extends    string     // parent name; "" when none
	extendsN   *yaml.Node // for problems about the parent
	fields     Bottle     // the declared fields (Name, File set)
	has        map[string]bool
	// reposDeclared is true when git-gate.repos is present, even empty
	// (an explicit empty map clears inherited repos).
	reposDeclared bool
	hasGitUser    bool
	ok            bool // false when the file had problems
}

func (r *reader) bottle(name string, top *yaml.Node) *bottleDecl {
	d := &bottleDecl{name: name, file: r.file, lineBase: r.lineBase, has: map[string]bool{}, ok: true}
	d.fields = Bottle{Name: name, File: r.file, Provider: Provider{Template: TemplateClaude}}
	before := len(*r.problems)
	entries, _ := r.mapping(top, "")
	for _, e := range r.knownKeys(entries, "a bottle", bottleKeys, bottleSpecialKeys) {
		d.has[e.key] = true
		switch e.key {
		case "env":
			d.fields.Env = r.env(e.value, e.field)
		case "extends":
			if s, ok := r.nonEmptyStr(e.value, e.field); ok {
				d.extends, d.extendsN = s, e.value
			}
		case "agent_provider":
			d.fields.Provider = r.provider(e.value, e.field)
		case "git-gate":
			d.gitGate(r, e.value, e.field)
		case "egress":
			d.fields.Routes = r.egress(e.value, e.field)
		case "supervise":
			d.fields.Supervise, _ = r.boolean(e.value, e.field)
		case "resources":
			d.fields.Resources = r.resources(e.value, e.field)
		}
	}
	d.ok = len(*r.problems) == before
	return d
}

func (d *bottleDecl) gitGate(r *reader, n *yaml.Node, field string) {
	entries, _ := r.mapping(n, field)
	for _, e := range r.knownKeys(entries, "git-gate", gitGateKeys, gitGateSpecialKeys) {
		switch e.key {
		case "user":
			d.fields.GitUser = r.gitUser(e.value, e.field)
			d.hasGitUser = true
		case "repos":
			d.reposDeclared = true
			d.fields.Repos = r.repos(e.value, e.field)
		}
	}
}

// env decodes the env mapping. Values are strings; numbers and booleans
// are taken as written ("8080", "true"), which is what a shell would see.
func (r *reader) env(n *yaml.Node, field string) []EnvVar {
	entries, _ := r.mapping(n, field)
	var out []EnvVar
	for _, e := range entries {
		if !envNameRE.MatchString(e.key) {
			r.add(e.keyN, e.field, fmt.Sprintf("%q is not a valid environment variable name", e.key),
				"use letters, digits and _, not starting with a digit")
			continue
		}
		if slices.Contains(reservedEnvNames, strings.ToUpper(e.key)) || strings.HasPrefix(strings.ToUpper(e.key), "BOT_BOTTLE_") {
			r.add(e.keyN, e.field, fmt.Sprintf("%s is set by bot-bottle itself (proxy wiring)", e.key), "remove it from env")
			continue
		}
		if e.value.Kind != yaml.ScalarNode || isNull(e.value) {
			r.add(e.value, e.field, "must be a value, not "+contract.DescribeYAML(e.value), "write \"\" for an empty string")
			continue
		}
		v, err := parseEnvValue(e.value.Value)
		if err != nil {
			r.add(e.value, e.field, err.Error(), "")
			continue
		}
		out = append(out, EnvVar{Name: e.key, Value: v})
	}
	sortEnv(out)
	return out
}

// parseEnvValue reads the three forms of an env value: "?question" (asked
// at launch), "${HOST_VAR}" (read from the host at launch) and anything else
// as a literal. "??" and "$${" escape a literal leading "?" and a literal
// "${".
func parseEnvValue(s string) (EnvValue, error) {
	switch {
	case strings.HasPrefix(s, "??"):
		return EnvValue{Kind: EnvLiteral, Literal: s[1:]}, nil
	case strings.HasPrefix(s, "?"):
		return EnvValue{Kind: EnvPrompt, Prompt: strings.TrimSpace(s[1:])}, nil
	case strings.HasPrefix(s, "${") && strings.HasSuffix(s, "}"):
		name := s[2 : len(s)-1]
		if !envNameRE.MatchString(name) {
			return EnvValue{}, fmt.Errorf("%q does not name a host variable; write ${NAME} with letters, digits and _", s)
		}
		return EnvValue{Kind: EnvHost, HostVar: name}, nil
	}
	unescaped := strings.ReplaceAll(s, "$${", "\x00")
	if strings.Contains(unescaped, "${") {
		return EnvValue{}, fmt.Errorf("%q mixes text and ${...}: only a whole value ${HOST_VAR} is read from the host; write $${ for a literal \"${\"", s)
	}
	return EnvValue{Kind: EnvLiteral, Literal: strings.ReplaceAll(unescaped, "\x00", "${")}, nil
}

func sortEnv(env []EnvVar) {
	sort.Slice(env, func(i, j int) bool { return env[i].Name < env[j].Name })
}

func (r *reader) provider(n *yaml.Node, field string) Provider {
	p := Provider{Template: TemplateClaude}
	entries, _ := r.mapping(n, field)
	var authN, fwdN *yaml.Node
	for _, e := range r.knownKeys(entries, "agent_provider", providerKeys, nil) {
		switch e.key {
		case "template":
			s, ok := r.nonEmptyStr(e.value, e.field)
			if !ok {
				continue
			}
			if s != TemplateClaude && s != TemplateCodex {
				hint := "use claude or codex"
				if sg := suggest(s, []string{TemplateClaude, TemplateCodex}); sg != "" {
					hint = fmt.Sprintf("did you mean %q? (claude or codex)", sg)
				}
				r.add(e.value, e.field, fmt.Sprintf("unknown template %q", s), hint)
				continue
			}
			p.Template = s
		case "dockerfile":
			p.Dockerfile, _ = r.nonEmptyStr(e.value, e.field)
		case "auth_token":
			if s, ok := r.nonEmptyStr(e.value, e.field); ok {
				if !envNameRE.MatchString(s) {
					r.add(e.value, e.field, fmt.Sprintf("%q is not an environment variable name", s),
						"auth_token names the host variable that holds the token (e.g. CLAUDE_CODE_OAUTH_TOKEN), never the token itself")
					continue
				}
				p.AuthToken, authN = s, e.value
			}
		case "forward_host_credentials":
			if v, ok := r.boolean(e.value, e.field); ok {
				p.ForwardHostCredentials, fwdN = v, e.value
			}
		}
	}
	if p.AuthToken != "" && p.Template != TemplateClaude {
		r.add(authN, joinField(field, "auth_token"), "is only supported with template claude", "remove it or set template: claude")
	}
	if p.ForwardHostCredentials && p.Template != TemplateCodex {
		r.add(fwdN, joinField(field, "forward_host_credentials"), "is only supported with template codex", "remove it or set template: codex")
	}
	return p
}

func (r *reader) gitUser(n *yaml.Node, field string) GitUser {
	var u GitUser
	entries, ok := r.mapping(n, field)
	known := r.knownKeys(entries, "git-gate.user", gitUserKeys, nil)
	ok = ok && len(known) == len(entries)
	for _, e := range known {
		s, good := r.str(e.value, e.field)
		if !good {
			ok = false
			continue
		}
		if e.key == "name" {
			u.Name = strings.TrimSpace(s)
		} else {
			u.Email = strings.TrimSpace(s)
		}
	}
	if ok && u.IsZero() {
		r.add(n, field, "is set but has neither name nor email", "fill in at least one, or remove the block")
	}
	return u
}

func sortRepos(repos []Repo) {
	sort.Slice(repos, func(i, j int) bool { return repos[i].Name < repos[j].Name })
}
