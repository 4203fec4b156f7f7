package manifest

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"

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
			eg := r.egress(e.value, e.field)
			d.fields.Routes, d.fields.SSRFAllow, d.fields.UpstreamCA = eg.routes, eg.ssrfAllow, eg.upstreamCA
		case "supervise":
			d.fields.Supervise, _ = r.boolean(e.value, e.field)
		case "resources":
			d.fields.Resources = r.resources(e.value, e.field)
		case "repo_agents":
			d.fields.RepoAgents, _ = r.boolean(e.value, e.field)
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
		out = append(out, EnvVar{Name: e.key, Value: v, File: r.file, Line: r.line(e.keyN)})
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
	entries, ok := r.mapping(n, field)
	// nodes holds each key's value node, for problems about how the keys
	// combine, which can only be judged once the template is known.
	nodes := map[string]*yaml.Node{}
	badTemplate := false
	for _, e := range r.knownKeys(entries, "agent_provider", providerKeys, nil) {
		switch e.key {
		case "template":
			s, good := r.nonEmptyStr(e.value, e.field)
			if !good {
				badTemplate = true
				continue
			}
			if !slices.Contains(templates, s) {
				badTemplate = true
				hint := "use " + templateList
				if sg := suggest(s, templates); sg != "" {
					hint = fmt.Sprintf("did you mean %q? (%s)", sg, templateList)
				}
				r.add(e.value, e.field, fmt.Sprintf("unknown template %q", s), hint)
				continue
			}
			p.Template = s
			nodes[e.key] = e.value
		case "dockerfile":
			if s, good := r.nonEmptyStr(e.value, e.field); good {
				p.Dockerfile = r.localPath(s)
				nodes[e.key] = e.value
			}
		case "image":
			s, good := r.nonEmptyStr(e.value, e.field)
			if !good {
				continue
			}
			if err := validImageRef(s); err != nil {
				r.add(e.value, e.field, err.msg, err.hint)
				continue
			}
			p.Image = s
			nodes[e.key] = e.value
		case "command":
			if argv, good := r.command(e.value, e.field); good {
				p.Command = argv
				nodes[e.key] = e.value
			}
		case "prompt_arg":
			if s, good := r.nonEmptyStr(e.value, e.field); good {
				if err := checkPromptArg(s); err != nil {
					r.add(e.value, e.field, err.Error(), "write the flag alone, e.g. --prompt-file; the launcher adds the prompt file's path as the next argument")
					continue
				}
				p.PromptArg = s
				nodes[e.key] = e.value
			}
		case "auth_token":
			if s, good := r.nonEmptyStr(e.value, e.field); good {
				if !envNameRE.MatchString(s) {
					r.add(e.value, e.field, fmt.Sprintf("%q is not an environment variable name", s),
						"auth_token names the host variable that holds the token (e.g. CLAUDE_CODE_OAUTH_TOKEN), never the token itself")
					continue
				}
				p.AuthToken = s
				nodes[e.key] = e.value
			}
		case "forward_host_credentials":
			if v, good := r.boolean(e.value, e.field); good {
				p.ForwardHostCredentials = v
				if v {
					nodes[e.key] = e.value
				}
			}
		}
	}
	if badTemplate || !ok {
		// Which keys go together depends on the template: with no
		// template to judge by, its own problem is the one to fix.
		return p
	}
	if p.AuthToken != "" && p.Template != TemplateClaude {
		r.add(nodes["auth_token"], joinField(field, "auth_token"), "is only supported with template claude", "remove it or set template: claude")
	}
	if p.ForwardHostCredentials && p.Template != TemplateCodex {
		r.add(nodes["forward_host_credentials"], joinField(field, "forward_host_credentials"), "is only supported with template codex", "remove it or set template: codex")
	}
	if p.Template != TemplateCustom {
		for _, k := range customOnlyKeys {
			if nodes[k] != nil {
				r.add(nodes[k], joinField(field, k), "is only for template custom; the "+p.Template+" template brings its own",
					"remove it, or set template: custom to run an agent image of your own")
			}
		}
		return p
	}
	// A custom agent needs an image to run and a command to run in it;
	// what is missing is reported where "template: custom" asks for it.
	switch {
	case nodes["image"] != nil && nodes["dockerfile"] != nil:
		r.add(nodes["image"], joinField(field, "image"), "is set together with dockerfile; a custom provider takes one of them",
			"keep image to run an image that exists, or dockerfile to have up build one")
	case !hasKey(entries, "image", "dockerfile"):
		r.add(nodes["template"], field, "template custom needs image or dockerfile",
			"add image: NAME[:TAG] (e.g. bot-bottle/agent-test:local), or dockerfile: PATH to build one")
	}
	if !hasKey(entries, "command") {
		r.add(nodes["template"], field, "template custom needs command, the program to run in the agent container",
			"add command: [PROGRAM, ARG...], e.g. command: [sh]")
	}
	return p
}

// hasKey reports whether any of keys is among entries, valid or not: a key
// whose value was wrong already has its problem, and is not also missing.
func hasKey(entries []entry, keys ...string) bool {
	for _, e := range entries {
		if slices.Contains(keys, e.key) {
			return true
		}
	}
	return false
}

// localPath resolves a path written in this file: "~/..." is kept for
// the consumer to expand in the operator's home (as identity is), an
// absolute path is cleaned, and a relative one is taken from the
// directory of the file it is written in, so a parent bottle's path means
// the same in every bottle that extends it.
func (r *reader) localPath(s string) string {
	switch {
	case strings.HasPrefix(s, "~/"):
		return s
	case filepath.IsAbs(s):
		return filepath.Clean(s)
	}
	return filepath.Join(filepath.Dir(r.file), s)
}

// command decodes a custom provider's command: a non-empty list of
// non-empty arguments, the argv the agent is started with (an empty
// argument is almost always a YAML slip, such as a stray comma). As in
// env, a number or boolean is taken as written: [sleep, 5] is "sleep" "5".
func (r *reader) command(n *yaml.Node, field string) ([]string, bool) {
	if !r.plain(n, field) {
		return nil, false
	}
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!str":
		hint := "write it as a list: [PROGRAM, ARG...]"
		if words := strings.Fields(n.Value); len(words) > 0 && !strings.ContainsAny(n.Value, "'\"\\$`") {
			hint = "write it as a list, as no shell splits it: [" + strings.Join(quoteAll(words), ", ") + "]"
		}
		r.add(n, field, "must be a list of arguments, not a string", hint)
		return nil, false
	case n.Kind != yaml.SequenceNode:
		r.add(n, field, "must be a list of arguments, not "+contract.DescribeYAML(n), "write it as [PROGRAM, ARG...], e.g. [sh]")
		return nil, false
	case len(n.Content) == 0:
		r.add(n, field, "must not be empty", "name the program to run, e.g. command: [sh]")
		return nil, false
	}
	argv := make([]string, 0, len(n.Content))
	ok := true
	for i, item := range n.Content {
		f := fmt.Sprintf("%s[%d]", field, i)
		switch {
		case !r.plain(item, f):
			ok = false
		case item.Kind != yaml.ScalarNode || isNull(item):
			r.add(item, f, "must be an argument, not "+contract.DescribeYAML(item), "quote it if you mean the text")
			ok = false
		case item.Value == "":
			r.add(item, f, "must not be empty", "remove it, or write the argument meant")
			ok = false
		case strings.ContainsRune(item.Value, 0):
			r.add(item, f, "contains a NUL character, which no argument can hold", "remove it")
			ok = false
		default:
			argv = append(argv, item.Value)
		}
	}
	return argv, ok
}

// quoteAll quotes each word for YAML when it needs it.
func quoteAll(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = w
		if strings.ContainsAny(w, ",[]{}:#&*!|>%@") {
			out[i] = strconv.Quote(w)
		}
	}
	return out
}

// checkPromptArg accepts a command-line flag: it starts with '-', and is
// one argument that the prompt file's path can follow.
func checkPromptArg(s string) error {
	switch {
	case !strings.HasPrefix(s, "-"):
		return fmt.Errorf("%q is not a flag; prompt_arg names the option that takes the prompt file's path, starting with '-'", s)
	case s == "-" || s == "--":
		return fmt.Errorf("%q is not a flag of its own; name the option that takes the prompt file's path", s)
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return fmt.Errorf("%q contains whitespace or a control character; prompt_arg is one flag", s)
	case strings.Contains(s, "="):
		return fmt.Errorf("%q contains '='; the path is passed as the next argument, not joined to the flag", s)
	}
	return nil
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
