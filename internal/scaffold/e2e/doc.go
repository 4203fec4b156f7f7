// Package e2e holds the Docker end-to-end tests: real bottles, rendered by
// internal/host/render and started with docker compose on this machine's
// engine, are attacked from inside their agent containers. Each security
// invariant of the design is tried there, with a positive control beside
// it so that a refusal cannot come from a broken test.
//
// The tests build the images they need (images/build.sh, a no-op when
// nothing changed) and skip, saying why, only when no Docker engine is
// reachable. They need docker compose v2 ("make compose-plugin").
package e2e
