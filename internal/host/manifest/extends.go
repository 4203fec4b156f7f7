package manifest

import (
	"fmt"
	"sort"
	"strings"
)

// resolver applies extends chains. Merge rules (the original's PRD 0025):
//   - env merges by name, the child winning;
//   - git-gate.user overlays field by field;
//   - git-gate.repos merges by name, the child's entry replacing the
//     parent's whole; an explicit empty map clears what was inherited;
//   - egress, agent_provider, supervise and resources are replaced when
//     the child declares them and inherited otherwise (a child's resources
//     block replaces the parent's whole: a limit it leaves out takes its
//     default, not the parent's value).
type resolver struct {
	decls    map[string]*bottleDecl
	done     map[string]*Bottle // resolved; nil value: failed
	problems *[]Problem
}

func resolveBottles(decls map[string]*bottleDecl, problems *[]Problem) map[string]*Bottle {
	rs := &resolver{decls: decls, done: map[string]*Bottle{}, problems: problems}
	names := make([]string, 0, len(decls))
	for n := range decls {
		names = append(names, n)
	}
	sort.Strings(names)
	out := map[string]*Bottle{}
	for _, n := range names {
		if b := rs.resolve(n, nil); b != nil {
			out[n] = b
		}
	}
	return out
}

func (rs *resolver) resolve(name string, stack []string) *Bottle {
	if b, ok := rs.done[name]; ok {
		return b
	}
	d := rs.decls[name]
	for i, s := range stack {
		if s == name {
			chain := strings.Join(append(stack[i:], name), " -> ")
			rs.fail(d, fmt.Sprintf("extends cycle: %s", chain), "remove extends from one of these bottles")
			return nil
		}
	}
	if !d.ok {
		rs.done[name] = nil
		return nil
	}
	if d.extends == "" {
		b := d.fields
		rs.done[name] = &b
		return &b
	}
	if d.extends == name {
		rs.fail(d, "bottle extends itself", "remove the extends line or name another bottle")
		return nil
	}
	if _, ok := rs.decls[d.extends]; !ok {
		rs.fail(d, fmt.Sprintf("extends %q, which is not defined", d.extends), missingBottleHint(d.extends, rs.decls))
		return nil
	}
	parent := rs.resolve(d.extends, append(stack, name))
	if parent == nil {
		// The parent's own problems are reported at the parent.
		rs.done[name] = nil
		return nil
	}
	b := merge(*parent, d)
	rs.done[name] = &b
	return &b
}

func (rs *resolver) fail(d *bottleDecl, msg, hint string) {
	line := 0
	if d.extendsN != nil {
		line = d.extendsN.Line + d.lineBase
	}
	*rs.problems = append(*rs.problems, Problem{File: d.file, Line: line, Field: "extends", Msg: msg, Hint: hint})
	rs.done[d.name] = nil
}

func missingBottleHint(name string, decls map[string]*bottleDecl) string {
	names := make([]string, 0, len(decls))
	for n := range decls {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return "no bottles are defined; create bottles/" + name + ".md"
	}
	hint := "defined bottles: " + strings.Join(names, ", ")
	if s := suggest(name, names); s != "" {
		hint = fmt.Sprintf("did you mean %q? (%s)", s, hint)
	}
	return hint
}

// merge returns the child declaration applied over its resolved parent.
func merge(parent Bottle, child *bottleDecl) Bottle {
	c := child.fields
	out := Bottle{
		Name:       child.name,
		File:       child.file,
		Extends:    append([]string{parent.Name}, parent.Extends...),
		Env:        mergeEnv(parent.Env, c.Env),
		Provider:   parent.Provider,
		GitUser:    parent.GitUser.overlay(c.GitUser),
		Repos:      parent.Repos,
		Routes:     parent.Routes,
		SSRFAllow:  parent.SSRFAllow,
		UpstreamCA: parent.UpstreamCA,
		Supervise:  parent.Supervise,
		Resources:  parent.Resources,
		// Not inherited: each bottle a repository agent may choose says
		// so itself, so opening a base never opens what extends it.
		RepoAgents: c.RepoAgents,
	}
	if child.has["agent_provider"] {
		out.Provider = c.Provider
	}
	if child.has["egress"] {
		out.Routes, out.SSRFAllow, out.UpstreamCA = c.Routes, c.SSRFAllow, c.UpstreamCA
	}
	if child.has["supervise"] {
		out.Supervise = c.Supervise
	}
	if child.has["resources"] {
		out.Resources = c.Resources
	}
	if child.reposDeclared {
		out.Repos = mergeRepos(parent.Repos, c.Repos)
	}
	return out
}

func mergeEnv(parent, child []EnvVar) []EnvVar {
	out := mergeByName(parent, child, func(v EnvVar) string { return v.Name })
	sortEnv(out)
	return out
}

// mergeRepos merges by name; an empty child list clears.
func mergeRepos(parent, child []Repo) []Repo {
	if len(child) == 0 {
		return nil
	}
	out := mergeByName(parent, child, func(r Repo) string { return r.Name })
	sortRepos(out)
	return out
}

// mergeByName returns parent's and child's items, the child's replacing a
// parent's of the same name, in no particular order.
func mergeByName[T any](parent, child []T, name func(T) string) []T {
	byName := make(map[string]T, len(parent)+len(child))
	for _, v := range parent {
		byName[name(v)] = v
	}
	for _, v := range child {
		byName[name(v)] = v
	}
	out := make([]T, 0, len(byName))
	for _, v := range byName {
		out = append(out, v)
	}
	return out
}
