// Package supervise is the supervise sidecar: an MCP server (streamable
// HTTP at /mcp) through which the agent proposes changes — a route, a DLP
// exception, an image capability, a credential — that the operator
// approves, edits or rejects with 'bot-bottle proposals'. A call writes its
// proposal into the queue directory and waits, bounded, for the answer;
// an unanswered call returns "pending" and the proposal stays queued.
//
// What the agent can put on the operator's disk and screen is bounded:
// each proposal's fields (see contract.Proposal), how many may be pending
// at once (--max-pending) and how many may be made per interval (--rate).
// A call over either limit is refused at once and writes nothing.
//
// The MCP port accepts only loopback (the healthcheck) and the peers
// --allow-peers names (in a bottle: agent-net); anyone else is reset
// before a byte is read (daemon.AllowPeers).
package supervise

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/bot-bottle/bot-bottle/internal/shared/daemon"
	"github.com/bot-bottle/bot-bottle/internal/shared/queue"
	"github.com/bot-bottle/bot-bottle/internal/shared/version"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// maxRequestBody bounds one MCP request.
const maxRequestBody = 1 << 20

// Server is the supervise MCP server.
type Server struct {
	cfg      Config
	log      *slog.Logger
	queue    queue.Queue
	http     *http.Client
	waiting  chan struct{} // one token per call waiting for the operator
	draining atomic.Bool
	handler  http.Handler

	// admit serialises the admission of a new proposal: counting the
	// pending ones, checking and updating rate, and writing the file, so
	// that concurrent calls cannot both take the last place.
	admit sync.Mutex
	rate  window // guarded by admit
}

// NewServer builds the server; cfg must be valid.
func NewServer(cfg Config, log *slog.Logger) *Server {
	cfg.withDefaults()
	s := &Server{
		cfg: cfg, log: log, queue: queue.Queue{Dir: cfg.Queue},
		// Egress's admin port is reached directly on the bottle network,
		// never through a proxy.
		http:    &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: egressListTimeout},
		waiting: make(chan struct{}, cfg.MaxWaiting),
		rate:    window{rate: cfg.Rate},
	}
	m := server.NewMCPServer("bot-bottle-supervise", version.String(),
		server.WithToolCapabilities(false), server.WithRecovery(),
		server.WithInstructions("Use these tools to ask the operator of this sandbox for access you lack. "+
			"Every request needs a clear reason; the operator decides."))
	m.AddTool(tool(contract.ToolListEgressRoutes), s.handleListRoutes)
	for _, t := range []contract.Tool{contract.ToolEgressBlock, contract.ToolDLPBlock, contract.ToolCapabilityBlock, contract.ToolCredBlock} {
		m.AddTool(tool(t), s.handlePropose(t))
	}
	streamable := server.NewStreamableHTTPServer(m,
		server.WithSessionIdManager(newSessions(4096)),
		server.WithStreamableHTTPLogger(log),
	)
	mux := http.NewServeMux()
	mux.Handle("/mcp", http.MaxBytesHandler(streamable, maxRequestBody))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if s.draining.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	s.handler = mux
	return s
}

func tool(t contract.Tool) mcp.Tool {
	return mcp.NewToolWithRawSchema(string(t), descriptions[t], []byte(schemas[t]))
}

// Handler serves /mcp and /healthz.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve runs on ln until ctx ends, then drains: waiting calls are
// cancelled (their proposals stay queued) within a grace period.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		BaseContext: func(net.Listener) context.Context { return ctx }}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("supervise listening", "addr", ln.Addr().String(), "bottle", s.cfg.Bottle, "queue", s.cfg.Queue)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.draining.Store(true)
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
	}
	return nil
}

// Run is supervise's main.
func Run(ctx context.Context, args []string, getenv func(string) string, _, stderr io.Writer) error {
	cfg, log, ok, err := daemon.Start(ParseConfig, args, getenv, stderr)
	if !ok {
		return err
	}
	ln, _, err := daemon.Listen(daemon.Endpoint{Addr: cfg.Listen, Peers: cfg.AllowPeers}, daemon.Endpoint{Addr: daemon.AdminOff}, log)
	if err != nil {
		return err
	}
	return NewServer(cfg, log).Serve(ctx, ln)
}

// sessions issues and checks Mcp-Session-Id values for clients of the
// 2025-06-18 protocol: an id must have been issued here and not ended.
// It remembers at most max ids, forgetting the oldest.
type sessions struct {
	mu    sync.Mutex      // guards ids and order
	ids   map[string]bool // id → terminated
	order []string
	max   int
}

func newSessions(max int) *sessions { return &sessions{ids: map[string]bool{}, max: max} }

func (s *sessions) Generate() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	id := "bb-" + hex.EncodeToString(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ids[id] = false
	s.order = append(s.order, id)
	if len(s.order) > s.max {
		delete(s.ids, s.order[0])
		s.order = s.order[1:]
	}
	return id
}

func (s *sessions) Validate(id string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	terminated, ok := s.ids[id]
	if !ok {
		return false, errors.New("unknown session")
	}
	return terminated, nil
}

func (s *sessions) Terminate(id string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.ids[id]; !ok {
		return false, errors.New("unknown session")
	}
	s.ids[id] = true
	return false, nil
}
