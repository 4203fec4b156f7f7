package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/host/bottle"
	"github.com/bot-bottle/bot-bottle/internal/host/compose"
	"github.com/bot-bottle/bot-bottle/internal/shared/queue"
	"github.com/bot-bottle/bot-bottle/internal/shared/termtext"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// Session is how an agent session is attached: the operator's terminal
// (TTY true: docker compose exec puts it in raw mode, passes its size and
// signals through) or plain streams.
type Session struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	TTY            bool
}

// Attach runs argv as the agent in b's agent container, in its workspace,
// and returns the agent's exit status.
func (m *Manager) Attach(ctx context.Context, b *Bottle, argv []string, s Session) (int, error) {
	if len(argv) == 0 {
		return 0, errors.New("no command to start the agent with")
	}
	sub := []string{"exec"}
	if !s.TTY {
		sub = append(sub, "--no-TTY")
	}
	sub = append(sub, "--user", agentUser(b.User), "--workdir", b.Workspace, compose.AgentService)
	cmd := b.Compose.Command(ctx, append(sub, argv...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s.Stdin, s.Stdout, s.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	if err != nil {
		return 0, fmt.Errorf("attach to the agent: %w", err)
	}
	return 0, nil
}

// maxExecErr bounds how much of a failed exec's standard error its error
// carries: the agent's container wrote it, so it may be any size.
const maxExecErr = 2 << 10

// Exec runs argv in b's agent container as user ("uid:gid"), with stdin,
// and returns what it printed. A failure's error carries the last
// maxExecErr bytes of its standard error, escaped with termtext: the
// agent controls what runs in its container, and the error reaches the
// operator's terminal.
func (m *Manager) Exec(ctx context.Context, b *Bottle, user string, stdin io.Reader, argv ...string) ([]byte, error) {
	cmd := b.Compose.Command(ctx, append([]string{"exec", "--no-TTY", "--user", user, compose.AgentService}, argv...)...)
	cmd.Stdin = stdin
	stderr := &tailWriter{max: maxExecErr}
	cmd.Stderr = stderr
	out, err := cmd.Output()
	if err != nil {
		msg := strings.TrimSpace(string(stderr.b))
		if stderr.dropped > 0 {
			msg = fmt.Sprintf("(%d bytes before this) ...%s", stderr.dropped, msg)
		}
		return out, fmt.Errorf("%s in the agent: %v: %s", termtext.Line(strings.Join(argv, " ")), err, termtext.Line(msg))
	}
	return out, nil
}

// tailWriter keeps the last max bytes written to it and counts the rest.
type tailWriter struct {
	max     int
	b       []byte
	dropped int
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.dropped += over
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

// KeepReasons says why b should outlive its agent session, in words for
// the operator: work in the workspace that would be lost with its volume
// (changes not committed, commits no remote has, files of a workspace
// that is not a git repository) — never what was copied in from the
// host, which the host still has — or a capability-block proposal the
// agent is waiting on. None: it can be torn down.
func (m *Manager) KeepReasons(ctx context.Context, b *Bottle) []string {
	var why []string
	st, isGit, err := m.gitState(ctx, b)
	switch {
	case err != nil:
		why = append(why, "bot-bottle could not read the workspace ("+err.Error()+")")
	case isGit:
		var copied bottle.GitState
		if b.Meta.Copied != nil {
			copied = *b.Meta.Copied
		}
		if st.Tree != st.head && st.Tree != copied.Tree {
			why = append(why, "the workspace has changes that are not committed")
		}
		args := append([]string{"git", "-C", b.Workspace, "rev-list", "--max-count=1", "--branches", "--tags", "--not", "--remotes"}, copied.Tips...)
		if out, err := m.Exec(ctx, b, agentUser(b.User), nil, args...); err != nil || len(strings.TrimSpace(string(out))) > 0 {
			why = append(why, "the workspace has commits no remote has (push them through the gate)")
		}
	default:
		if out, err := m.Exec(ctx, b, agentUser(b.User), nil, "ls", "-A", b.Workspace); err != nil || len(strings.TrimSpace(string(out))) > 0 {
			why = append(why, "the workspace holds files and is not a git repository, so bot-bottle cannot tell they are saved elsewhere")
		}
	}
	if now, err := bottle.Read(b.Dir); err == nil && !now.Rebuilt.Equal(b.Meta.Rebuilt) {
		why = append(why, "its agent was recreated with a new image (an approved capability-block)")
	}
	entries, _ := queue.Queue{Dir: b.Dir.QueueDir()}.ListPending()
	for _, e := range entries {
		if e.Proposal.Tool == contract.ToolCapabilityBlock {
			why = append(why, "a capability-block proposal awaits your decision ('bot-bottle proposals list')")
			break
		}
	}
	return why
}

// gitStateScript prints the workspace's branch and tag tips, a line "--",
// the tree of its working files, and its HEAD's tree ("" without a
// commit), or "not-git". The working tree goes through a throwaway index,
// so the agent's own index is left as it is.
const gitStateScript = `cd "$1" || exit 1
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || { echo not-git; exit 0; }
git for-each-ref --format='%(objectname)' refs/heads refs/tags
echo --
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
GIT_INDEX_FILE=$tmp/index git add -A . >/dev/null 2>&1 && GIT_INDEX_FILE=$tmp/index git write-tree || exit 1
git rev-parse --verify --quiet 'HEAD^{tree}' || echo
`

type gitState struct {
	bottle.GitState
	head string
}

func (m *Manager) gitState(ctx context.Context, b *Bottle) (gitState, bool, error) {
	out, err := m.Exec(ctx, b, agentUser(b.User), nil, "sh", "-c", gitStateScript, "git-state", b.Workspace)
	if err != nil {
		return gitState{}, false, err
	}
	text := strings.TrimSpace(string(out))
	if text == "not-git" {
		return gitState{}, false, nil
	}
	tips, rest, ok := strings.Cut(string(out), "--\n")
	lines := strings.Split(strings.TrimRight(rest, "\n"), "\n")
	if !ok || len(lines) < 1 {
		return gitState{}, true, fmt.Errorf("unexpected git state %q", text)
	}
	var st gitState
	st.Tips = strings.Fields(tips)
	st.Tree = strings.TrimSpace(lines[0])
	if len(lines) > 1 {
		st.head = strings.TrimSpace(lines[1])
	}
	return st, true, nil
}

// PromptPath is where provisioning leaves the agent's prompt: a file in
// its home.
func (b *Bottle) PromptPath() string { return path.Join(b.User.Home, PromptFile) }
