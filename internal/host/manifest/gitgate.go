package manifest

import (
	"fmt"

	"go.yaml.in/yaml/v3"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// repos decodes git-gate.repos: a mapping from the gate's repo name to its
// upstream. A null or empty mapping is an empty (clearing) list.
func (r *reader) repos(n *yaml.Node, field string) []Repo {
	entries, _ := r.mapping(n, field)
	out := []Repo{}
	for _, e := range entries {
		if err := contract.ValidRepoName(e.key); err != nil {
			r.add(e.keyN, e.field, fmt.Sprintf("repo name %q: %v", e.key, err), "use letters, digits, '.', '_' and '-'")
			continue
		}
		if repo, ok := r.repo(e.key, e.value, e.field); ok {
			out = append(out, repo)
		}
	}
	sortRepos(out)
	return out
}

func (r *reader) repo(name string, n *yaml.Node, field string) (Repo, bool) {
	repo := Repo{Name: name}
	entries, ok := r.mapping(n, field)
	if !ok {
		return repo, false
	}
	present := map[string]bool{}
	for _, e := range r.knownKeys(entries, "a git-gate repo", repoKeys, nil) {
		present[e.key] = true
		switch e.key {
		case "push_refs":
			refs, good := r.strList(e.value, e.field, contract.ValidPushRefPrefix)
			if good && len(refs) > contract.MaxPushRefs {
				r.add(e.value, e.field, fmt.Sprintf("has %d entries; the limit is %d", len(refs), contract.MaxPushRefs), "")
				good = false
			}
			repo.PushRefs = refs
			ok = ok && good
			continue
		case "allow_branch_delete":
			b, good := r.boolean(e.value, e.field)
			repo.AllowBranchDelete = b
			ok = ok && good
			continue
		}
		s, good := r.nonEmptyStr(e.value, e.field)
		if !good {
			ok = false
			continue
		}
		switch e.key {
		case "url":
			u, err := contract.ParseSSHURL(s)
			if err != nil {
				r.add(e.value, e.field, err.Error(), "")
				ok = false
				continue
			}
			repo.URL, repo.SSH = s, u
		case "identity":
			repo.Identity = s
		case "host_key":
			if err := contract.ValidHostKeyLine(s); err != nil {
				r.add(e.value, e.field, err.Error(), "paste a line from `ssh-keyscan -p PORT HOST`, e.g. \"ssh-ed25519 AAAAC3Nza...\"")
				ok = false
				continue
			}
			repo.HostKey = s
		}
	}
	for _, req := range []struct{ key, hint string }{
		{"url", "add url: ssh://git@host[:port]/path.git"},
		{"identity", "add identity: the path of the SSH private key the gate pushes with (e.g. ~/.ssh/id_ed25519)"},
		{"host_key", "the gate checks the upstream's host key strictly and never trusts on first use; add host_key: a line from `ssh-keyscan -p PORT HOST`"},
	} {
		if !present[req.key] {
			r.add(n, field, "missing required key "+req.key, req.hint)
			ok = false
		}
	}
	return repo, ok
}
