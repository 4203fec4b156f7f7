// Package sidecarinit is PID 1 of the sidecar images. It starts the named
// daemons, prefixes their output with their names, reaps every zombie
// (orphans included: it is a child subreaper when not PID 1), restarts a
// daemon that dies (with backoff, giving up on one that keeps dying at
// start), forwards SIGHUP to egress, restarts egress on SIGUSR1 (requests
// coalesce; shutdown wins), and on SIGTERM or SIGINT stops every daemon
// within a grace period, then kills what is left. Its exit code is the
// worst positive exit code any daemon had; a shutdown in which daemons only
// died of its signals exits 0.
//
// 'sidecar-init --health URL' is the healthcheck of images without a shell
// (FROM scratch): it GETs URL and exits 0 on HTTP 200, 1 otherwise.
package sidecarinit

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/shared/daemon"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// Config is what sidecar-init runs.
type Config struct {
	// Daemons are the daemon names, each an executable in BinDir.
	Daemons []string
	// BinDir is where daemons are found; default /usr/local/bin.
	BinDir string
	// Grace is how long daemons get after SIGTERM; default 10s.
	Grace time.Duration
	// HUP names the daemon SIGHUP is forwarded to; default "egress".
	HUP string
	// USR1 names the daemon SIGUSR1 restarts; default "egress".
	USR1 string
	// Backoff is the first restart delay after a crash (doubling to 30s);
	// default 500ms.
	Backoff time.Duration
	// GiveUp is how many consecutive quick deaths (within 5s of start)
	// end sidecar-init; default 5.
	GiveUp int
	// Health, when set, is a URL to check instead of running daemons
	// (--health); empty runs the daemons.
	Health string
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)

// newFlagSet binds c's fields to sidecar-init's flags and their
// environment variables.
func newFlagSet(c *Config, out io.Writer) *daemon.FlagSet {
	fs := daemon.NewFlagSet("sidecar-init", out, func(w io.Writer) {
		fmt.Fprintf(w, "usage: sidecar-init [flags] [--] DAEMON...   (or %s=egress,gitgate,...)\n"+
			"       sidecar-init --health URL\n\n"+
			"PID 1 of the bot-bottle sidecar images: runs the daemons, prefixes their output,\n"+
			"reaps zombies, restarts daemons that die, forwards SIGHUP to egress, restarts\n"+
			"egress on SIGUSR1, and shuts everything down on SIGTERM/SIGINT.\n\n"+
			"--health URL is the healthcheck of these shell-less images, e.g.\n"+
			"  healthcheck: {test: [\"CMD\", \"/usr/local/bin/sidecar-init\", \"--health\", \"http://127.0.0.1:9901/healthz\"]}\n"+
			"It exits 0 on HTTP 200 and 1 otherwise (any other status, no answer, a bad URL),\n"+
			"printing one line saying why.\n", contract.EnvSidecarDaemons)
	})
	fs.String(&c.BinDir, "bin-dir", contract.EnvSidecarBinDir, "/usr/local/bin", "directory holding the daemon executables")
	fs.Duration(&c.Grace, "grace", contract.EnvSidecarGrace, 10*time.Second, "time daemons get to exit after SIGTERM before SIGKILL")
	// The rest are for tests and the health mode; the images never set them.
	fs.String(&c.HUP, "hup", "", "egress", "daemon that SIGHUP is forwarded to")
	fs.String(&c.USR1, "usr1", "", "egress", "daemon that SIGUSR1 restarts")
	fs.Duration(&c.Backoff, "backoff", "", 500*time.Millisecond, "first delay before restarting a daemon that died (doubles, up to 30s)")
	fs.String(&c.Health, "health", "", "", "instead of running daemons, GET this URL (no proxy, 3s limit) and exit 0 on HTTP 200, 1 otherwise")
	return fs
}

// ParseConfig reads flags, then the environment.
func ParseConfig(args []string, getenv func(string) string, usage io.Writer) (Config, error) {
	c := Config{}
	fs := newFlagSet(&c, usage)
	if err := fs.Parse(args, getenv); err != nil {
		return c, err
	}
	if c.Health != "" {
		if len(fs.Args()) > 0 {
			return c, fmt.Errorf("--health takes no daemon names (got %q)", fs.Args())
		}
		return c, nil
	}
	c.Daemons = fs.Args()
	if len(c.Daemons) == 0 {
		for _, d := range strings.Split(getenv(contract.EnvSidecarDaemons), ",") {
			if d = strings.TrimSpace(d); d != "" {
				c.Daemons = append(c.Daemons, d)
			}
		}
	}
	return c, c.validate()
}

func (c *Config) validate() error {
	if len(c.Daemons) == 0 {
		return fmt.Errorf("no daemons to run: name them as arguments or in %s (e.g. egress,gitgate)", contract.EnvSidecarDaemons)
	}
	seen := map[string]bool{}
	var errs []error
	for _, d := range c.Daemons {
		switch {
		case !nameRE.MatchString(d):
			errs = append(errs, fmt.Errorf("daemon name %q: use lower-case letters, digits and '-'", d))
		case seen[d]:
			errs = append(errs, fmt.Errorf("daemon %q is named twice", d))
		default:
			info, err := os.Stat(filepath.Join(c.BinDir, d))
			if err != nil || info.IsDir() || info.Mode()&0o111 == 0 {
				errs = append(errs, fmt.Errorf("daemon %q: no executable %s", d, filepath.Join(c.BinDir, d)))
			}
		}
		seen[d] = true
	}
	if c.Grace <= 0 {
		errs = append(errs, errors.New("--grace must be positive"))
	}
	return errors.Join(errs...)
}

func (c *Config) defaults() {
	if c.Backoff == 0 {
		c.Backoff = 500 * time.Millisecond
	}
	if c.GiveUp == 0 {
		c.GiveUp = 5
	}
	if c.Grace == 0 {
		c.Grace = 10 * time.Second
	}
}

// quickDeath: a daemon dying sooner than this after start counts towards GiveUp.
const quickDeath = 5 * time.Second

// child is one supervised daemon process.
type child struct {
	name    string
	path    string
	pid     int       // 0 when not running
	started time.Time // of the current run
	quick   int       // consecutive quick deaths
	backoff time.Duration
	restart bool // restart as soon as it exits (SIGUSR1)
	pending bool // a restart is scheduled (after backoff)
}

// Run is sidecar-init's main. It returns the exit code.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := ParseConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "sidecar-init: %v\n", err)
		return 2
	}
	if cfg.Health != "" {
		return health(ctx, cfg.Health, stdout, stderr)
	}
	return (&supervisor{cfg: cfg, out: &lockedWriter{w: stdout}, log: stderr}).run(ctx)
}

type supervisor struct {
	cfg     Config
	out     io.Writer // daemons' prefixed output
	log     io.Writer
	daemons []*child
	byPID   map[int]*child
	worst   int
	wg      sync.WaitGroup // output copiers
}

func (s *supervisor) logf(format string, args ...any) {
	fmt.Fprintf(s.log, "sidecar-init: "+format+"\n", args...)
}

func (s *supervisor) run(ctx context.Context) int {
	s.cfg.defaults()
	// Adopt orphans of our daemons so they are reaped here even when we
	// are not PID 1 (tests, or an image run under another init).
	_ = setSubreaper()
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGCHLD)
	defer signal.Stop(sigs)

	s.byPID = map[int]*child{}
	for _, name := range s.cfg.Daemons {
		d := &child{name: name, path: filepath.Join(s.cfg.BinDir, name), backoff: s.cfg.Backoff}
		s.daemons = append(s.daemons, d)
		if err := s.start(d); err != nil {
			s.logf("start %s: %v", name, err)
			s.worst = max(s.worst, 1)
		}
	}

	var shutdownAt time.Time
	var killTimer <-chan time.Time
	retry := time.NewTicker(100 * time.Millisecond)
	defer retry.Stop()
	shutdown := func(why string) {
		if !shutdownAt.IsZero() {
			return
		}
		shutdownAt = time.Now()
		s.logf("shutting down (%s); stopping daemons, %s grace", why, s.cfg.Grace)
		for _, d := range s.daemons {
			d.restart, d.pending = false, false
			s.signal(d, syscall.SIGTERM)
		}
		killTimer = time.After(s.cfg.Grace)
	}
	done := ctx.Done()
	for {
		if !shutdownAt.IsZero() && s.running() == 0 {
			break
		}
		select {
		case <-done:
			done = nil
			shutdown("context ended")
		case sig := <-sigs:
			switch sig {
			case syscall.SIGTERM, syscall.SIGINT:
				if !shutdownAt.IsZero() {
					s.logf("second %v: killing daemons now", sig)
					s.killAll()
					continue
				}
				shutdown(sig.String())
			case syscall.SIGHUP:
				if d := s.find(s.cfg.HUP); d != nil && shutdownAt.IsZero() {
					s.signal(d, syscall.SIGHUP)
				}
			case syscall.SIGUSR1:
				if d := s.find(s.cfg.USR1); d != nil && shutdownAt.IsZero() && !d.restart {
					// Coalesce: one pending restart rereads the latest config.
					d.restart = true
					s.signal(d, syscall.SIGTERM)
				}
			case syscall.SIGCHLD:
			}
			s.reap(!shutdownAt.IsZero())
		case <-killTimer:
			s.logf("grace period over: killing what is left")
			s.killAll()
		case <-retry.C:
			s.reap(!shutdownAt.IsZero())
			if shutdownAt.IsZero() {
				if code, gave := s.restartDue(); gave {
					shutdown(fmt.Sprintf("a daemon keeps dying at start (exit %d)", code))
				}
			}
		}
	}
	s.wg.Wait()
	return s.worst
}

func (s *supervisor) find(name string) *child {
	for _, d := range s.daemons {
		if d.name == name {
			return d
		}
	}
	return nil
}

func (s *supervisor) running() int {
	n := 0
	for _, d := range s.daemons {
		if d.pid != 0 {
			n++
		}
	}
	return n
}

func (s *supervisor) signal(d *child, sig syscall.Signal) {
	if d.pid != 0 {
		_ = syscall.Kill(d.pid, sig)
	}
}

func (s *supervisor) killAll() {
	for _, d := range s.daemons {
		s.signal(d, syscall.SIGKILL)
	}
}

// start launches d with its output piped through a prefixing copier.
func (s *supervisor) start(d *child) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd := exec.Command(d.path)
	cmd.Stdout, cmd.Stderr = w, w
	cmd.Env = os.Environ()
	err = cmd.Start()
	w.Close()
	if err != nil {
		r.Close()
		return err
	}
	d.pid, d.started, d.pending = cmd.Process.Pid, time.Now(), false
	// The reaper collects the exit status with wait4(-1); release the
	// handle (a pidfd) os/exec holds, or every restart would leak one.
	_ = cmd.Process.Release()
	s.byPID[d.pid] = d
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer r.Close()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			fmt.Fprintf(s.out, "[%s] %s\n", d.name, sc.Bytes())
		}
	}()
	s.logf("started %s (pid %d)", d.name, d.pid)
	return nil
}

// reap collects every exited child (ours or adopted orphans) without
// blocking and decides what follows for our daemons.
func (s *supervisor) reap(shuttingDown bool) {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
		d, ok := s.byPID[pid]
		if !ok {
			continue // an orphan: reaped, nothing else to do
		}
		delete(s.byPID, pid)
		d.pid = 0
		code := ws.ExitStatus()
		if ws.Signaled() {
			s.logf("%s (pid %d) killed by %v", d.name, pid, ws.Signal())
		} else {
			s.logf("%s (pid %d) exited with code %d", d.name, pid, code)
			if code > 0 {
				s.worst = max(s.worst, code)
			}
		}
		if shuttingDown {
			continue
		}
		if d.restart { // SIGUSR1: back at once, and it was not a crash
			d.restart, d.quick, d.backoff = false, 0, s.cfg.Backoff
			if err := s.start(d); err != nil {
				s.logf("restart %s: %v", d.name, err)
			}
			continue
		}
		if time.Since(d.started) < quickDeath {
			d.quick++
		} else {
			d.quick, d.backoff = 0, s.cfg.Backoff
		}
		d.pending = true
		d.started = time.Now() // the backoff runs from now
	}
}

// restartDue restarts crashed daemons whose backoff has passed; it
// reports whether one has died quickly too often (then sidecar-init
// gives up, so the container's failure is visible).
func (s *supervisor) restartDue() (int, bool) {
	for _, d := range s.daemons {
		if !d.pending {
			continue
		}
		if d.quick >= s.cfg.GiveUp {
			s.logf("%s died %d times within %s of starting; giving up", d.name, d.quick, quickDeath)
			return max(s.worst, 1), true
		}
		if time.Since(d.started) < d.backoff {
			continue
		}
		d.backoff = min(2*d.backoff, 30*time.Second)
		if err := s.start(d); err != nil {
			s.logf("restart %s: %v", d.name, err)
		}
	}
	return 0, false
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// setSubreaper makes this process adopt orphaned descendants (Linux).
func setSubreaper() error {
	const prSetChildSubreaper = 36
	_, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0)
	if errno != 0 {
		return errno
	}
	return nil
}
