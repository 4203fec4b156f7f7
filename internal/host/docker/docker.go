// Package docker runs the docker CLI and its compose plugin for the host
// side: one bottle's compose project (Compose), and the engine as a whole
// (Engine: what is installed, which bottles have containers). It shells
// out rather than linking the engine's client: the operator's `docker`
// (with its context, config and compose plugin) is what runs the bottle,
// and a bottle started by `bot-bottle up` stays a plain compose project
// they can inspect with the same tool.
//
// Nothing secret is ever put on a command line here: values reach
// containers through files in the bottle directory (compose secrets and
// the agent's env file) or through a process's standard input.
package docker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
)

// maxErrOutput bounds how much of a failed command's standard error an
// error carries.
const maxErrOutput = 4 << 10

// Runner runs the docker CLI. The zero value runs "docker" from PATH.
type Runner struct {
	// Bin is the docker CLI; "" means "docker".
	Bin string
	// Env is the commands' environment; nil means this process's.
	Env []string
}

func (r Runner) bin() string {
	if r.Bin == "" {
		return "docker"
	}
	return r.Bin
}

// Command returns the command `docker args...`, not started.
func (r Runner) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, r.bin(), args...)
	cmd.Env = r.Env
	return cmd
}

// Output runs `docker args...` and returns its standard output. A failure
// is an *Error holding the tail of its standard error.
func (r Runner) Output(ctx context.Context, args ...string) ([]byte, error) {
	cmd := r.Command(ctx, args...)
	var stdout bytes.Buffer
	stderr := &tailBuffer{max: maxErrOutput}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), &Error{Args: args, Err: err, Stderr: stderr.String()}
	}
	return stdout.Bytes(), nil
}

// Run runs `docker args...` with its output going to stdout and stderr
// (nil: discarded; a failure's error then carries the tail of stderr).
func (r Runner) Run(ctx context.Context, stdout, stderr io.Writer, args ...string) error {
	cmd := r.Command(ctx, args...)
	tail := &tailBuffer{max: maxErrOutput}
	cmd.Stdout = stdout
	if stderr != nil {
		cmd.Stderr = io.MultiWriter(stderr, tail)
	} else {
		cmd.Stderr = tail
	}
	if err := cmd.Run(); err != nil {
		e := &Error{Args: args, Err: err}
		if stderr == nil {
			e.Stderr = tail.String()
		}
		return e
	}
	return nil
}

// Error is a docker command that failed.
type Error struct {
	Args   []string
	Err    error
	Stderr string // the tail of its standard error, when not shown already
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("docker %s: %v", strings.Join(e.Args, " "), e.Err)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ": " + s
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// ExitCode is the command's exit status, or -1 when it did not exit.
func (e *Error) ExitCode() int {
	var ee *exec.ExitError
	if errors.As(e.Err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

// decodeLines decodes a stream of JSON objects, one per line (what
// `--format json` prints), skipping blank lines.
func decodeLines[T any](data []byte) ([]T, error) {
	var out []T
	dec := json.NewDecoder(bytes.NewReader(data))
	for dec.More() {
		var v T
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("read docker's JSON: %w", err)
		}
		out = append(out, v)
	}
	return out, nil
}

func jsonUnmarshal(data []byte, v any) error {
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("read docker's JSON: %w", err)
	}
	return nil
}
