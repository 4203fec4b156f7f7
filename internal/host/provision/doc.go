// Package provision prepares a started agent container for its session:
// the bottle CA in the system trust store, a TLS self-test through egress,
// the prompt file, the skills, ~/.gitconfig with the git gate's insteadOf
// rewrites, and the provider's registration of the supervise MCP server.
//
// It works through a Target, which runs one command in the container as
// a given user ("0:0" for root, "UID:GID" for the agent): `docker exec`
// (DockerExec) or `docker compose exec`. The agent container has no
// capability at all, so root there writes root's files by ownership (the
// trust store) but cannot chown or write into the agent's home; every file
// for the agent is therefore written as the agent. Data never goes through
// a shell string: file contents arrive on standard input, and values a
// script needs are its positional parameters, never spliced into its text.
//
// Identify learns the agent's user, home and tools from inside the image;
// Run performs the steps in order, prints one line per step and stops at
// the first failure with an error naming the step. Every step is
// idempotent: running Run again leaves the container as one run does.
//
// The container is the agent's, and the agent is untrusted: what comes
// back from it (command output, error text) is bounded, parsed strictly,
// and escaped before it reaches the operator's terminal. Commands run as
// root resolve programs only in the system directories (SystemPath), so a
// program the agent put in its own PATH is never run as root.
package provision
