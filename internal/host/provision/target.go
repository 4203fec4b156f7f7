package provision

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/shared/termtext"
)

// Target runs commands in the agent container.
type Target interface {
	// Exec runs argv in the container as user ("UID:GID", "0:0" for root;
	// "" for the container's own user) with stdin as its standard input
	// (nil: none) and returns its standard output. A command that cannot
	// be run or exits non-zero returns an error that includes its standard
	// error, bounded (an *ExecError from DockerExec).
	Exec(ctx context.Context, user string, stdin io.Reader, argv ...string) (stdout []byte, err error)
}

// Output limits. The container is the agent's: whatever it prints is
// bounded before it is kept.
const (
	// MaxStdout is the most standard output Exec keeps; a command that
	// prints more fails.
	MaxStdout = 4 << 20
	// MaxStderr is how much of a command's standard error an ExecError
	// keeps; the rest is counted and dropped.
	MaxStderr = 2 << 10
)

// DockerExec is the Target `docker exec -i [-u USER] CONTAINER argv...`.
type DockerExec struct {
	// Container is the container's id or name; it is required.
	Container string
	// Docker is the docker CLI to run; "" means "docker" on PATH.
	Docker string
}

var _ Target = DockerExec{}

// Exec implements Target.
func (d DockerExec) Exec(ctx context.Context, user string, stdin io.Reader, argv ...string) ([]byte, error) {
	if d.Container == "" {
		return nil, errors.New("docker exec: no container given")
	}
	if len(argv) == 0 {
		return nil, errors.New("docker exec: no command given")
	}
	docker := d.Docker
	if docker == "" {
		docker = "docker"
	}
	args := []string{"exec"}
	if stdin != nil {
		args = append(args, "-i")
	}
	if user != "" {
		args = append(args, "-u", user)
	}
	// "--" is not needed: docker exec stops parsing its flags at the
	// container, and the container id is ours, not the agent's.
	args = append(args, d.Container)
	args = append(args, argv...)
	cmd := exec.CommandContext(ctx, docker, args...)
	cmd.WaitDelay = 5 * time.Second // for the output pipes, once ctx is done
	return run(ctx, cmd, user, stdin, argv)
}

// run runs cmd with bounded output and turns a failure into an *ExecError
// about argv (the command inside the container) run as user.
func run(ctx context.Context, cmd *exec.Cmd, user string, stdin io.Reader, argv []string) ([]byte, error) {
	stdout := &capped{max: MaxStdout}
	stderr := &capped{max: MaxStderr}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	err := cmd.Run()
	if err == nil && stdout.dropped > 0 {
		err = fmt.Errorf("standard output is over %d bytes", MaxStdout)
	}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return nil, &ExecError{Argv: argv, User: user, Stderr: stderr.buf.Bytes(), Dropped: stderr.dropped, Err: err}
	}
	return stdout.buf.Bytes(), nil
}

// ExecError is a command in the container that could not be run or
// failed.
type ExecError struct {
	// Argv is the command as run in the container.
	Argv []string
	// User is who ran it ("" the container's user).
	User string
	// Stderr is the start of its standard error, at most MaxStderr bytes,
	// as it printed it (not escaped).
	Stderr []byte
	// Dropped counts the standard error bytes beyond Stderr.
	Dropped int64
	// Err is why it failed: usually an *exec.ExitError.
	Err error
}

// Error says which program failed and how, with its standard error on
// the same line, escaped so that no byte of it reaches the terminal as a
// control character.
func (e *ExecError) Error() string {
	var b strings.Builder
	b.WriteString(commandName(e.Argv))
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	if msg := strings.TrimSpace(string(e.Stderr)); msg != "" {
		b.WriteString(": ")
		b.WriteString(termtext.Line(msg))
		if e.Dropped > 0 {
			fmt.Fprintf(&b, " [%d more bytes]", e.Dropped)
		}
	}
	return b.String()
}

// Unwrap returns Err.
func (e *ExecError) Unwrap() error { return e.Err }

// ExitCode is the command's exit status, or -1 when it did not exit (it
// could not be started, or was killed).
func (e *ExecError) ExitCode() int {
	var ee interface{ ExitCode() int } // *exec.ExitError, or a test's
	if errors.As(e.Err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// commandName names a command for an error: the program, or for our own
// scripts (sh -c SCRIPT NAME ...) the name the script was given.
func commandName(argv []string) string {
	if len(argv) >= 4 && argv[1] == "-c" {
		return termtext.Line(argv[3])
	}
	if len(argv) == 0 {
		return "command"
	}
	return termtext.Line(argv[0])
}

// capped keeps the first max bytes written to it and counts the rest.
type capped struct {
	buf     bytes.Buffer
	max     int
	dropped int64
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); room > 0 {
		n := min(room, len(p))
		c.buf.Write(p[:n])
		c.dropped += int64(len(p) - n)
	} else {
		c.dropped += int64(len(p))
	}
	return len(p), nil
}

// SystemPath is PATH for every script provisioning runs: the system
// directories only, which root owns in any sane image. Commands run as
// root thus never resolve a program the agent put in a directory of its
// own.
const SystemPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// shell is the shell every script runs under; Identify refuses an image
// without it.
const shell = "/bin/sh"

// script runs a POSIX sh script as user. name becomes $0, which error
// messages show; args are $1...: values go there and are quoted as "$1"
// in the script, never spliced into its text. PATH is SystemPath.
func script(ctx context.Context, t Target, user string, stdin io.Reader, name, body string, args ...string) ([]byte, error) {
	argv := append([]string{shell, "-c", "set -eu\nPATH=" + SystemPath + "\nexport PATH\n" + body, name}, args...)
	return t.Exec(ctx, user, stdin, argv...)
}
