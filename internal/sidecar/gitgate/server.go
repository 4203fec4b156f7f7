package gitgate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/shared/audit"
	"github.com/bot-bottle/bot-bottle/internal/shared/daemon"
	"github.com/bot-bottle/bot-bottle/internal/shared/version"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// shutdownGrace is how long in-flight requests get on shutdown.
const shutdownGrace = 30 * time.Second

// Server is the git gate: smart HTTP in front of the declared upstreams.
type Server struct {
	cfg   Config
	log   *slog.Logger
	audit *audit.Log
	repos map[string]*repo
	names []string // declared names, sorted, for 404 messages
	agent string
	// exceptions are the operator's DLP exceptions, reread from the gate
	// file at each push with findings.
	exceptions *exceptions

	// pushes holds a token per push in progress, gate-wide (pushSlot).
	pushes chan struct{}

	bg       sync.WaitGroup // background gc runs
	draining atomic.Bool
}

// NewServer prepares a gate for the repositories in gate, reading their
// keys from cfg.SecretsDir. Audit lines go to audit, one per push. The
// repositories' DLP exceptions start as gate has them and are reread from
// cfg.ConfigFile at every push with findings (never, if it is "").
func NewServer(cfg Config, gate *contract.GateFile, log *slog.Logger, auditW io.Writer) (*Server, error) {
	cfg.withDefaults()
	if _, err := exec.LookPath("git"); err != nil {
		return nil, fmt.Errorf("gitgate needs the git binary on PATH: %w", err)
	}
	if _, err := detector(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create --data: %w", err)
	}
	s := &Server{cfg: cfg, log: log, audit: audit.New(auditW, log), repos: map[string]*repo{},
		agent:      "gitgate/" + strings.ReplaceAll(version.String(), " ", "_"),
		exceptions: newExceptions(cfg.ConfigFile, gate, log), pushes: make(chan struct{}, cfg.MaxPushes)}
	var errs []error
	for _, r := range gate.Repos {
		up, err := loadUpstream(r, cfg.SecretsDir)
		if err != nil {
			errs = append(errs, fmt.Errorf("repo %s: %w", r.Name, err))
			continue
		}
		rp := newRepo(r.Name, cfg.DataDir, up)
		rp.conf = r
		rp.pushes = make(chan struct{}, cfg.MaxRepoPushes)
		rp.removeStaleQuarantines()
		s.repos[r.Name] = rp
		s.names = append(s.names, r.Name)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.Strings(s.names)
	return s, nil
}

// requestLog collects one request's facts for its log line.
type requestLog struct {
	repo, service string
	push          *pushOutcome
	// routed is set once the path named a declared repository and one of
	// the gate's services: only then is it logged as it is.
	routed bool
}

// path is the request's path fit for a log: the agent chooses it, so
// one that is not a route of the gate is logged as a fingerprint.
func (lg *requestLog) path(r *http.Request) string {
	if lg.routed {
		return r.URL.Path
	}
	return redacted("path", r.URL.Path)
}

// logError is err's text fit for a log: without the name of an
// undeclared repository, and scrubbed of anything gitleaks flags.
func logError(err error) string {
	if errors.As(err, new(*noRepoError)) {
		return "no such repository"
	}
	return scrub(err.Error())
}

// ServeHTTP routes /<name>.git/info/refs, /<name>.git/git-upload-pack and
// /<name>.git/git-receive-pack; anything else is 404.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	in := &countingReader{r: r.Body}
	r.Body = in
	lg := &requestLog{}
	err := s.route(sw, r, lg)
	if err != nil {
		s.fail(sw, err)
	}
	attrs := []any{"method", r.Method, "path", lg.path(r), "status", sw.status(), "bytes_in", in.n.Load(),
		"bytes_out", sw.n, "duration_ms", time.Since(start).Milliseconds()}
	if lg.repo != "" {
		attrs = append(attrs, "repo", lg.repo)
	}
	if lg.service != "" {
		attrs = append(attrs, "service", lg.service)
	}
	if err != nil {
		attrs = append(attrs, "err", logError(err))
	}
	s.log.Info("request", attrs...)
	if lg.push != nil {
		s.auditPush(r, lg, start, sw.status(), in.n.Load())
	}
}

func (s *Server) route(w http.ResponseWriter, r *http.Request, lg *requestLog) error {
	name, rest, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), ".git/")
	if !ok || r.URL.Path[0] != '/' {
		return fmt.Errorf("%w: the gate serves /<name>.git/ only", errNotFound)
	}
	rp := s.repos[name]
	if rp == nil {
		return &noRepoError{name: name, names: s.names}
	}
	lg.repo = name
	var handle func(http.ResponseWriter, *http.Request, *repo, *requestLog) error
	method := http.MethodPost
	switch rest {
	case "info/refs":
		handle, method = s.infoRefs, http.MethodGet
	case serviceUploadPack:
		handle = s.uploadPack
	case serviceReceivePack:
		handle = s.receivePack
		lg.service = serviceReceivePack
	default:
		return fmt.Errorf("%w: the gate serves info/refs, git-upload-pack and git-receive-pack only", errNotFound)
	}
	lg.routed = true
	if r.Method != method && !(method == http.MethodGet && r.Method == http.MethodHead) {
		w.Header().Set("Allow", method)
		return fmt.Errorf("%w: use %s", errMethod, method)
	}
	if method == http.MethodPost {
		want := "application/x-" + rest + "-request"
		if ct := r.Header.Get("Content-Type"); ct != want {
			return fmt.Errorf("%w: Content-Type must be %s", errBadRequest, want)
		}
	}
	return handle(w, r, rp, lg)
}

// errMethod is a request with the wrong method.
var errMethod = errors.New("method not allowed")

// noRepoError is a request for a name the gate file does not declare.
type noRepoError struct {
	name  string
	names []string
}

func (e *noRepoError) Error() string {
	serves := "nothing"
	if len(e.names) > 0 {
		serves = strings.Join(e.names, ", ")
	}
	return fmt.Sprintf("no repository %q here; this gate serves: %s", clip([]byte(e.name)), serves)
}
func (e *noRepoError) Is(target error) bool { return target == errNotFound }

// fail answers a request that failed before its response started, in
// plain text: git prints such a body as "remote: ..." lines.
func (s *Server) fail(w *statusWriter, err error) {
	if w.wrote {
		return // the response is under way; the log has the error
	}
	status := httpStatus(err)
	if errors.Is(err, errMethod) {
		status = http.StatusMethodNotAllowed
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	msg := err.Error()
	if status == http.StatusInternalServerError && !errors.As(err, new(*refreshError)) {
		msg = "internal error; see the gate's log"
	}
	fmt.Fprintf(w, "gitgate: %s\n", msg)
}

// gcLater runs git gc --auto on r in the background, under r's lock: each
// push adds a pack, and many packs slow every read.
func (s *Server) gcLater(rp *repo) {
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		if err := rp.acquire(ctx); err != nil {
			return
		}
		defer rp.release()
		if _, err := runGit(ctx, rp.dir, nil, nil, "gc", "--auto", "--quiet"); err != nil {
			s.log.Warn("gc", "repo", rp.name, "err", err)
		}
	}()
}

// Serve runs the gate on ln and /healthz and /stats on adminLn (nil: none) until ctx
// ends, then shuts down: it stops accepting, gives requests shutdownGrace
// to finish, and waits for background work.
func (s *Server) Serve(ctx context.Context, ln, adminLn net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	var admin *http.Server
	var g daemon.Group
	g.Go("git", func() error { return srv.Serve(ln) })
	if adminLn != nil {
		admin = &http.Server{Handler: s.adminHandler(), ReadHeaderTimeout: 5 * time.Second}
		g.Go("admin", func() error { return admin.Serve(adminLn) })
	}
	s.log.Info("gitgate listening", "git", ln.Addr().String(), "repos", s.names, "max_pack", s.cfg.MaxPack)
	var runErr error
	select {
	case runErr = <-g.Err():
	case <-ctx.Done():
	}
	s.draining.Store(true)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if admin != nil {
		_ = admin.Shutdown(sctx)
	}
	g.Wait()
	s.bg.Wait()
	return runErr
}

func (s *Server) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if s.draining.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.Handle("GET /stats", s.audit.StatsHandler())
	return mux
}

// statusWriter records the status and size of a response. Unwrap lets
// http.ResponseController reach the real writer's Flush.
type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
	n     int64
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.code, w.wrote = http.StatusOK, true
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) status() int {
	if !w.wrote {
		return http.StatusOK
	}
	return w.code
}

// countingReader counts the bytes read from a request body.
type countingReader struct {
	r io.ReadCloser
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingReader) Close() error { return c.r.Close() }
