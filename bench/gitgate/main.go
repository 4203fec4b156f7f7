// Command gitgate-bench measures the git gate against the targets of its
// issue: cloning a 2,000-commit repository through the gate against
// cloning it straight from the SSH upstream, pushing a new branch of 500
// commits (scanned and forwarded), and the scan's throughput in MB/s of
// patch text. Run it from the repository with 'make bench-gitgate' (or
// 'go run ./bench/gitgate').
//
// Everything runs on loopback: the upstream is a gliderlabs/ssh git server
// in this process (internal/scaffold/gitsshd), the gate is the binary built
// from ./cmd/gitgate, and the client is the git CLI (over OpenSSH's ssh
// for the direct clone). Direct and gated clones alternate for several
// rounds and the report shows medians. It exits 1 if anything did not
// work; a missed target is reported, not an error.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/scaffold/gitsshd"
	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

type options struct {
	rounds      int
	commits     int
	pushCommits int
	gitgateBin  string
	keep        bool
}

func main() {
	var o options
	flag.IntVar(&o.rounds, "rounds", 5, "rounds of each measurement (medians are reported)")
	flag.IntVar(&o.commits, "commits", 2000, "commits in the cloned repository")
	flag.IntVar(&o.pushCommits, "push-commits", 500, "commits on each pushed branch")
	flag.StringVar(&o.gitgateBin, "gitgate", "", "use this gitgate binary instead of building ./cmd/gitgate")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary directory (repositories, gate log)")
	flag.Parse()
	log.SetFlags(log.Ltime)
	log.SetPrefix("bench-gitgate: ")
	if o.rounds < 1 || o.commits < 1 || o.pushCommits < 1 {
		log.Fatal("-rounds, -commits and -push-commits must be positive")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	if err != nil {
		log.Printf("%v", err)
		os.Exit(1)
	}
}

// bench is one benchmark run's setup.
type bench struct {
	o       options
	dir     string
	up      *gitsshd.Server
	gate    *exec.Cmd
	gateLog *testutil.SyncBuffer
	gateURL string
	sshCmd  string              // GIT_SSH_COMMAND for direct access
	files   map[string][]string // file → its lines on main
}

func run(ctx context.Context, o options) error {
	dir, err := os.MkdirTemp("", "bench-gitgate-")
	if err != nil {
		return err
	}
	if o.keep {
		log.Printf("keeping %s", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	b := &bench{o: o, dir: dir, gateLog: &testutil.SyncBuffer{}, files: map[string][]string{}}
	defer b.close()
	if err := b.setup(ctx); err != nil {
		return fmt.Errorf("setup: %w", err)
	}

	log.Printf("first clone through the gate (creates the mirror)")
	first, err := b.timed(ctx, b.dir, "clone", "--quiet", b.gateURL+"/demo.git", b.tmp("first"))
	if err != nil {
		return err
	}
	var direct, gated, pushes []time.Duration
	var scans []scanLine
	for i := range o.rounds {
		log.Printf("round %d/%d", i+1, o.rounds)
		d, err := b.timed(ctx, b.dir, "clone", "--quiet", b.up.URL("demo"), b.tmp(fmt.Sprintf("direct%d", i)))
		if err != nil {
			return err
		}
		g, err := b.timed(ctx, b.dir, "clone", "--quiet", b.gateURL+"/demo.git", b.tmp(fmt.Sprintf("gated%d", i)))
		if err != nil {
			return err
		}
		direct, gated = append(direct, d), append(gated, g)
		p, s, err := b.push(ctx, i)
		if err != nil {
			return err
		}
		pushes, scans = append(pushes, p), append(scans, s)
	}
	b.report(os.Stdout, first, direct, gated, pushes, scans)
	return nil
}

func (b *bench) tmp(name string) string { return filepath.Join(b.dir, "clones", name) }

// setup builds the gate, starts the upstream with a generated repository,
// and starts the gate in front of it.
func (b *bench) setup(ctx context.Context) error {
	bin := b.o.gitgateBin
	if bin == "" {
		bin = filepath.Join(b.dir, "gitgate")
		log.Printf("building ./cmd/gitgate")
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", bin, "./cmd/gitgate")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/gitgate: %v\n%s", err, out)
		}
	}
	root := filepath.Join(b.dir, "upstream")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	up, err := gitsshd.Start(root)
	if err != nil {
		return err
	}
	b.up = up
	up.Env = gitEnv(b.dir)

	log.Printf("generating a %d-commit repository", b.o.commits)
	bare := filepath.Join(root, "demo.git")
	if _, err := b.git(ctx, b.dir, "init", "--bare", "--quiet", "--initial-branch=main", bare); err != nil {
		return err
	}
	if err := b.fastImport(ctx, bare, "refs/heads/main", "", b.o.commits, "src", 0); err != nil {
		return err
	}

	secrets := filepath.Join(b.dir, "secrets")
	if err := os.MkdirAll(secrets, 0o700); err != nil {
		return err
	}
	key := filepath.Join(secrets, "upstream_key")
	if err := os.WriteFile(key, up.ClientKeyPEM, 0o600); err != nil {
		return err
	}
	knownHosts := filepath.Join(b.dir, "known_hosts")
	if err := os.WriteFile(knownHosts, []byte("["+strings.Replace(up.Addr, ":", "]:", 1)+" "+up.HostKeyLine()+"\n"), 0o600); err != nil {
		return err
	}
	b.sshCmd = fmt.Sprintf("ssh -i %s -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o BatchMode=yes -F /dev/null", key, knownHosts)

	gate := &contract.GateFile{Version: contract.Version, Repos: []contract.Repo{{
		Name: "demo", URL: up.URL("demo"), Identity: "upstream_key", HostKey: up.HostKeyLine()}}}
	y, err := gate.Marshal()
	if err != nil {
		return err
	}
	cfg := filepath.Join(b.dir, "gate.yaml")
	if err := os.WriteFile(cfg, y, 0o600); err != nil {
		return err
	}
	listen, err := testutil.FreeAddr()
	if err != nil {
		return err
	}
	admin, err := testutil.FreeAddr()
	if err != nil {
		return err
	}
	b.gateURL = "http://" + listen
	b.gate = exec.Command(bin, "--config", cfg, "--data", filepath.Join(b.dir, "gate-data"),
		"--secrets-dir", secrets, "--listen", listen, "--admin", admin)
	b.gate.Env = []string{"PATH=" + os.Getenv("PATH")}
	b.gate.Stderr = b.gateLog
	b.gate.Stdout = io.Discard
	if err := b.gate.Start(); err != nil {
		return err
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		resp, err := http.Get("http://" + admin + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("gitgate did not come up:\n%s", b.gateLog.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *bench) close() {
	if b.gate != nil && b.gate.Process != nil {
		_ = b.gate.Process.Signal(syscall.SIGTERM)
		_ = b.gate.Wait()
	}
	if b.up != nil {
		_ = b.up.Close()
	}
}

// push pushes a new branch of pushCommits commits through the gate from a
// clone, and returns how long git push took and the gate's scan line.
func (b *bench) push(ctx context.Context, round int) (time.Duration, scanLine, error) {
	work := b.tmp(fmt.Sprintf("gated%d", round))
	branch := fmt.Sprintf("refs/heads/bench-%d", round)
	main, err := b.git(ctx, work, "rev-parse", "HEAD")
	if err != nil {
		return 0, scanLine{}, err
	}
	if err := b.fastImport(ctx, filepath.Join(work, ".git"), branch, strings.TrimSpace(main), b.o.pushCommits, fmt.Sprintf("feature%d", round), uint64(round+1)); err != nil {
		return 0, scanLine{}, err
	}
	d, err := b.timed(ctx, work, "push", "--quiet", "origin", branch+":"+branch)
	if err != nil {
		return 0, scanLine{}, err
	}
	s, err := b.lastScan()
	return d, s, err
}

// fastImport writes n commits onto ref (starting from commit from, or a
// new history) with git fast-import: each changes one or two files,
// adding a few lines of Go-like code; a quarter of them add a new file
// under dir.
func (b *bench) fastImport(ctx context.Context, gitDir, ref, from string, n int, dir string, seed uint64) error {
	r := mrand.New(mrand.NewPCG(seed, 7))
	files := map[string][]string{}
	var paths []string
	for p := range b.files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	var in bytes.Buffer
	ts := int64(1_700_000_000) + int64(seed)*10_000_000
	for i := range n {
		ts += 60 + int64(r.IntN(600))
		msg := fmt.Sprintf("%s: change %d\n\nAdjust the handlers and their tests.\n", dir, i)
		fmt.Fprintf(&in, "commit %s\ncommitter Bench <bench@example.test> %d +0000\ndata %d\n%s", ref, ts, len(msg), msg)
		if i == 0 && from != "" {
			fmt.Fprintf(&in, "from %s\n", from)
		}
		touch := 1 + r.IntN(2)
		for range touch {
			var path string
			if len(paths) == 0 || r.IntN(4) == 0 {
				path = fmt.Sprintf("%s/pkg%02d/file%04d.go", dir, r.IntN(20), i)
				paths = append(paths, path)
			} else {
				path = paths[r.IntN(len(paths))]
			}
			lines, ok := files[path]
			if !ok {
				lines = slices.Clone(b.files[path])
			}
			lines = append(lines, codeLines(r, 10+r.IntN(30))...)
			files[path] = lines
			content := strings.Join(lines, "\n") + "\n"
			fmt.Fprintf(&in, "M 100644 inline %s\ndata %d\n%s\n", path, len(content), content)
		}
	}
	cmd := exec.CommandContext(ctx, "git", "--git-dir", gitDir, "fast-import", "--quiet")
	cmd.Env = gitEnv(b.dir)
	cmd.Stdin = &in
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("fast-import: %v\n%s", err, out)
	}
	if from == "" {
		for p, l := range files {
			b.files[p] = l
		}
	}
	return nil
}

var words = []string{"request", "handler", "config", "router", "cache", "token", "bucket", "client", "server", "status", "result", "buffer", "stream", "reader", "writer"}

// codeLines returns n deterministic Go-like source lines.
func codeLines(r *mrand.Rand, n int) []string {
	title := func(s string) string { return strings.ToUpper(s[:1]) + s[1:] }
	out := make([]string, n)
	for i := range out {
		a, b, c := words[r.IntN(len(words))], words[r.IntN(len(words))], r.IntN(10000)
		switch r.IntN(4) {
		case 0:
			out[i] = fmt.Sprintf("func (s *%sService) handle%s%d(w http.ResponseWriter, r *http.Request) error {", title(a), title(b), c)
		case 1:
			out[i] = fmt.Sprintf("\t%s, err := s.%s.Lookup(r.Context(), %q)", a, b, fmt.Sprintf("%s-%d", a, c))
		case 2:
			out[i] = fmt.Sprintf("\tif err != nil {\n\t\treturn fmt.Errorf(\"%s %s: %%w\", err)\n\t}", a, b)
		default:
			out[i] = fmt.Sprintf("\t// %s keeps the %s warm for the next %d calls.", a, b, c)
		}
	}
	return out
}

func (b *bench) timed(ctx context.Context, dir string, args ...string) (time.Duration, error) {
	start := time.Now()
	_, err := b.git(ctx, dir, args...)
	return time.Since(start), err
}

func (b *bench) git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	cmd.Env = append(gitEnv(b.dir), "GIT_SSH_COMMAND="+b.sshCmd)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func gitEnv(home string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + home,
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_TERMINAL_PROMPT=0",
		"GIT_AUTHOR_NAME=Bench", "GIT_AUTHOR_EMAIL=bench@example.test",
		"GIT_COMMITTER_NAME=Bench", "GIT_COMMITTER_EMAIL=bench@example.test",
		"LC_ALL=C",
	}
}

// scanLine is the gate's "push scanned" log line.
type scanLine struct {
	Commits    int   `json:"commits"`
	Bytes      int64 `json:"bytes"`
	DurationMS int64 `json:"duration_ms"`
}

func (b *bench) lastScan() (scanLine, error) {
	var last *scanLine
	sc := bufio.NewScanner(strings.NewReader(b.gateLog.String()))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var l struct {
			Msg string `json:"msg"`
			scanLine
		}
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Msg == "push scanned" {
			s := l.scanLine
			last = &s
		}
	}
	if last == nil {
		return scanLine{}, errors.New("the gate logged no scan")
	}
	return *last, nil
}

func (b *bench) report(w io.Writer, first time.Duration, direct, gated, pushes []time.Duration, scans []scanLine) {
	med := func(ds []time.Duration) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[len(s)/2]
	}
	d, g, p := med(direct), med(gated), med(pushes)
	var scanMS, scanBytes []float64
	for _, s := range scans {
		scanMS = append(scanMS, float64(s.DurationMS))
		scanBytes = append(scanBytes, float64(s.Bytes))
	}
	slices.Sort(scanMS)
	slices.Sort(scanBytes)
	sMS, sBytes := scanMS[len(scanMS)/2], scanBytes[len(scanBytes)/2]
	throughput := 0.0
	if sMS > 0 {
		throughput = sBytes / 1e6 / (sMS / 1000)
	}
	ratio := g.Seconds() / d.Seconds()
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	gitVersion, _ := b.git(context.Background(), b.dir, "version")
	fmt.Fprintf(w, "\n## gitgate benchmark, %s\n\n", time.Now().Format("2006-01-02 15:04"))
	fmt.Fprintf(w, "%s, %d CPUs, %s, %s; upstream: gliderlabs/ssh git server on loopback; %d rounds, medians.\n\n",
		cpuModel(), runtime.NumCPU(), runtime.Version(), strings.TrimSpace(gitVersion), b.o.rounds)
	fmt.Fprintf(w, "| measurement | result | target |\n|---|---|---|\n")
	fmt.Fprintf(w, "| clone, %d commits, straight from the SSH upstream | %.2f s | |\n", b.o.commits, d.Seconds())
	fmt.Fprintf(w, "| clone through the gate (mirror refreshed first) | %.2f s = %.2f× direct | ≤ 1.5× direct: %s |\n", g.Seconds(), ratio, verdict(ratio <= 1.5))
	fmt.Fprintf(w, "| first clone through the gate (mirror created) | %.2f s | |\n", first.Seconds())
	fmt.Fprintf(w, "| push of a new branch of %d commits, scanned and forwarded | %.2f s | < 10 s: %s |\n", b.o.pushCommits, p.Seconds(), verdict(p < 10*time.Second))
	fmt.Fprintf(w, "| of which the gate's scan (%.2f MB of patch text) | %.2f s | |\n", sBytes/1e6, sMS/1000)
	fmt.Fprintf(w, "| scan throughput, patch text | %.2f MB/s | |\n\n", throughput)
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
