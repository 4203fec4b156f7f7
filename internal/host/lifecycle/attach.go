package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/host/compose"
	"github.com/bot-bottle/bot-bottle/internal/shared/queue"
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

// Exec runs argv in b's agent container as user ("uid:gid"), with stdin,
// and returns what it printed.
func (m *Manager) Exec(ctx context.Context, b *Bottle, user string, stdin io.Reader, argv ...string) ([]byte, error) {
	cmd := b.Compose.Command(ctx, append([]string{"exec", "--no-TTY", "--user", user, compose.AgentService}, argv...)...)
	cmd.Stdin = stdin
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s in the agent: %v: %s", strings.Join(argv, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// KeepReasons says why b should outlive its agent session, in words for
// the operator: work in the workspace that would be lost with its volume
// (uncommitted changes, commits no remote has, files of a workspace that
// is not a git repository), or a capability-block proposal the agent is
// waiting on. None: it can be torn down.
func (m *Manager) KeepReasons(ctx context.Context, b *Bottle) []string {
	var why []string
	ws := b.Workspace
	user := agentUser(b.User)
	if out, err := m.Exec(ctx, b, user, nil, "git", "-C", ws, "rev-parse", "--is-inside-work-tree"); err == nil && strings.TrimSpace(string(out)) == "true" {
		if out, err := m.Exec(ctx, b, user, nil, "git", "-C", ws, "status", "--porcelain"); err != nil || len(strings.TrimSpace(string(out))) > 0 {
			why = append(why, "the workspace has uncommitted changes")
		}
		if out, err := m.Exec(ctx, b, user, nil, "git", "-C", ws, "rev-list", "--max-count=1", "--branches", "--tags", "--not", "--remotes"); err != nil || len(strings.TrimSpace(string(out))) > 0 {
			why = append(why, "the workspace has commits no remote has (push them through the gate)")
		}
	} else if out, err := m.Exec(ctx, b, user, nil, "ls", "-A", ws); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		why = append(why, "the workspace holds files and is not a git repository, so bot-bottle cannot tell they are saved elsewhere")
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

// PromptPath is where provisioning leaves the agent's prompt: a file in
// its home.
func (b *Bottle) PromptPath() string { return path.Join(b.User.Home, PromptFile) }
