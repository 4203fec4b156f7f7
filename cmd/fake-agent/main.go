// Command fake-agent stands in for Claude Code and Codex in the test
// agent image (as /usr/local/bin/claude and /usr/local/bin/codex). Test
// scaffolding, never shipped. See internal/scaffold/fakeagent.
package main

import (
	"context"
	"os"

	"github.com/bot-bottle/bot-bottle/internal/scaffold/fakeagent"
)

func main() { os.Exit(fakeagent.Main(context.Background(), os.Args, os.Stdout)) }
