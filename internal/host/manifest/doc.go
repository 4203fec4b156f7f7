// Package manifest loads the operator's bottle and agent manifests.
//
// A manifest is a Markdown file with YAML frontmatter. Bottles live in
// <home>/bottles/*.md and grant capabilities (env, egress routes, git-gate
// repos, the agent provider, supervise). Agents live in <home>/agents/*.md
// and in <cwd>/.bot-bottle/agents/*.md; an agent names its bottle, may list
// skills and a git identity, and its Markdown body is its prompt. Bottles
// are never read from the working directory: a cloned repository may bring
// an agent, never a capability. Nor may it choose among the operator's
// capabilities unseen: a working-directory agent may name only a bottle
// that sets repo_agents: true, and replaces a home agent of the same name
// only when the operator asks (Options.RepoOverrides).
//
// Loading is strict. Unknown keys, wrong types and invalid values are
// reported as [Problem]s that name the file, the line, the key and how to
// fix it; a load reports every problem it finds, not only the first.
package manifest
