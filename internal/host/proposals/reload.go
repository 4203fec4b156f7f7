package proposals

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/bot-bottle/bot-bottle/internal/shared/fileinfo"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// Reloader makes a bottle's running egress reread its routes file. The
// compose issue implements it with `docker compose kill -s HUP egress`.
type Reloader interface {
	ReloadEgress(ctx context.Context, slug string) error
}

// ErrNotRunning means the bottle's egress is not running: a change to its
// routes file applies when it starts.
var ErrNotRunning = errors.New("egress is not running")

// PIDFileReloader sends SIGHUP to the PID in the bottle directory's
// contract.BottleEgressPIDFile.
type PIDFileReloader struct {
	// Home is the bot-bottle home.
	Home string
}

// ReloadEgress implements Reloader.
func (r PIDFileReloader) ReloadEgress(_ context.Context, slug string) error {
	d, err := contract.StateBottleDir(r.Home, slug)
	if err != nil {
		return err
	}
	data, err := fileinfo.ReadRegular(d.Path(contract.BottleEgressPIDFile), 64)
	if errors.Is(err, os.ErrNotExist) {
		return ErrNotRunning
	}
	if err != nil {
		return fmt.Errorf("read egress pid: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return fmt.Errorf("egress pid file holds %q, not a process id", strings.TrimSpace(string(data)))
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return ErrNotRunning
		}
		return fmt.Errorf("signal egress (pid %d): %w", pid, err)
	}
	return nil
}
