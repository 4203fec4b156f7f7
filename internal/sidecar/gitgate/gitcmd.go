package gitgate

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// gitConfig is passed with -c to every git the gate runs, so existing
// repositories pick up changes without a migration.
var gitConfig = []string{
	// Objects above this are streamed instead of inflated in memory
	// (index-pack, upload-pack's pack-objects).
	"core.bigFileThreshold=16m",
	// Bounded delta-base cache and window memory for index-pack and
	// pack-objects.
	"core.deltaBaseCacheLimit=32m",
	"pack.windowMemory=64m",
	// Partial clones (--filter) work through the gate.
	"uploadpack.allowFilter=true",
}

// gitEnv is the environment of every git the gate runs: PATH and HOME
// only, no system or global config, no prompts.
func gitEnv(extra ...string) []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_TERMINAL_PROMPT=0",
		"LC_ALL=C",
	}
	if home := os.Getenv("HOME"); home != "" {
		env = append(env, "HOME="+home)
	}
	return append(env, extra...)
}

// gitCommand prepares git with the gate's config, run in dir.
func gitCommand(ctx context.Context, dir string, env []string, args ...string) *exec.Cmd {
	argv := make([]string, 0, 2*len(gitConfig)+len(args))
	for _, c := range gitConfig {
		argv = append(argv, "-c", c)
	}
	cmd := exec.CommandContext(ctx, "git", append(argv, args...)...)
	cmd.Dir = dir
	cmd.Env = gitEnv(env...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// maxStderr bounds how much of a git's standard error is kept for errors.
const maxStderr = 4 << 10

// runGit runs git in dir with stdin and returns its standard output; an
// error carries the first part of its standard error.
func runGit(ctx context.Context, dir string, stdin io.Reader, env []string, args ...string) ([]byte, error) {
	cmd := gitCommand(ctx, dir, env, args...)
	cmd.Stdin = stdin
	var stdout bytes.Buffer
	stderr := &capBuffer{max: maxStderr}
	cmd.Stdout = &stdout
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), gitError(args, err, stderr)
	}
	return stdout.Bytes(), nil
}

func gitError(args []string, err error, stderr *capBuffer) error {
	name := "git"
	if len(args) > 0 {
		name = "git " + args[0]
	}
	if msg := strings.TrimSpace(stderr.String()); msg != "" {
		return fmt.Errorf("%s: %w: %s", name, err, msg)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// capBuffer keeps the first max bytes written to it and discards the rest.
type capBuffer struct {
	max int
	buf bytes.Buffer
}

func (b *capBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (b *capBuffer) String() string { return b.buf.String() }
