// Package compose will generate a bottle's docker compose project from its
// manifest, using compose-go types. It is empty until the compose issue.
package compose
