package probe

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

const idleHelp = `usage: probe idle

Blocks until SIGTERM or SIGINT, then exits 0. It is the agent-test image's
CMD, so a test container stays up for 'docker exec' and stops at once on
'docker stop'. As PID 1 it also reaps the orphaned processes the kernel
hands it (what 'docker exec' leaves behind), so none stays a zombie.

exit codes:
  0  stopped by SIGTERM or SIGINT
  2  usage error
`

func runIdle(ctx context.Context, e *env, args []string) int {
	fs := newFlags(e, "idle", idleHelp)
	pos, code, ok := parseArgs(e, fs, args)
	if !ok {
		return code
	}
	if len(pos) != 0 {
		return usageError(e, fs, "takes no arguments")
	}
	// Only PID 1 reaps: elsewhere (tests) wait4(-1) would steal the exit
	// status of children someone else waits for.
	var chld chan os.Signal
	if os.Getpid() == 1 {
		chld = make(chan os.Signal, 1)
		signal.Notify(chld, syscall.SIGCHLD)
		defer signal.Stop(chld)
	}
	fmt.Fprintf(e.stderr, "probe idle: pid %d waiting for SIGTERM or SIGINT\n", os.Getpid())
	for {
		select {
		case <-ctx.Done():
			return ExitOK
		case <-chld:
			reapAll()
		}
	}
}

// reapAll collects every exited child without blocking.
func reapAll() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}
