package supervise

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/bot-bottle/bot-bottle/internal/shared/queue"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

type testServer struct {
	url   string
	queue queue.Queue
	stop  func()
}

func startServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	if cfg.Queue == "" {
		cfg.Queue = t.TempDir()
	}
	if cfg.Bottle == "" {
		cfg.Bottle = "dev"
	}
	if cfg.EgressAdmin == "" {
		cfg.EgressAdmin = "http://127.0.0.1:1"
	}
	if cfg.ResponseTimeout == 0 {
		cfg.ResponseTimeout = 300 * time.Millisecond
	}
	if cfg.Poll == 0 {
		cfg.Poll = 10 * time.Millisecond
	}
	s := NewServer(cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	ts := &testServer{url: "http://" + ln.Addr().String(), queue: queue.Queue{Dir: cfg.Queue}}
	var once sync.Once
	ts.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	t.Cleanup(ts.stop)
	return ts
}

// mcpClient is mcp-go's own client, speaking its current protocol.
func mcpClient(t *testing.T, url string, opts ...transport.StreamableHTTPCOption) *client.Client {
	t.Helper()
	c, err := client.NewStreamableHttpClient(url+"/mcp", opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	req := mcp.InitializeRequest{}
	req.Params.ClientInfo = mcp.Implementation{Name: "test", Version: "1"}
	if _, err := c.Initialize(t.Context(), req); err != nil {
		t.Fatalf("initialize: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func call(t *testing.T, c *client.Client, tool string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name = tool
	req.Params.Arguments = args
	res, err := c.CallTool(t.Context(), req)
	if err != nil {
		t.Fatalf("call %s: %v", tool, err)
	}
	return res
}

func text(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func TestToolsAreListedWithSchemas(t *testing.T) {
	ts := startServer(t, Config{})
	c := mcpClient(t, ts.url)
	res, err := c.ListTools(t.Context(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]mcp.Tool{}
	for _, tl := range res.Tools {
		got[tl.Name] = tl
	}
	for _, name := range []string{"list-egress-routes", "egress-block", "dlp-block", "capability-block", "cred-block"} {
		tl, ok := got[name]
		if !ok {
			t.Errorf("tool %s missing", name)
			continue
		}
		schema, _ := json.Marshal(tl)
		if tl.Description == "" || !strings.Contains(string(schema), `"additionalProperties":false`) {
			t.Errorf("tool %s lacks a description or a strict schema: %s", name, schema)
		}
		if name != "list-egress-routes" && !strings.Contains(string(schema), `"reason"`) {
			t.Errorf("tool %s has no reason argument: %s", name, schema)
		}
	}
	if len(got) != 5 {
		t.Errorf("%d tools, want 5", len(got))
	}
}

func TestEveryProposingToolWithApproval(t *testing.T) {
	ts := startServer(t, Config{ResponseTimeout: 10 * time.Second})
	c := mcpClient(t, ts.url)
	cases := map[string]map[string]any{
		"egress-block":     {"host": "api.example.test", "path_prefixes": []string{"/v1/"}, "methods": []string{"GET"}, "reason": "fetch the docs"},
		"dlp-block":        {"host": "api.example.test", "rule_id": "generic-api-key", "reason": "it is a test fixture"},
		"capability-block": {"apt_packages": []string{"jq"}, "reason": "parse JSON"},
		"cred-block":       {"host": "api.example.test", "scheme": "Bearer", "purpose": "read issues", "reason": "triage"},
	}
	for tool, args := range cases {
		t.Run(tool, func(t *testing.T) {
			decided := make(chan error, 1)
			go func() { decided <- answerFirst(ts.queue, contract.StatusApproved, "go ahead") }()
			res := call(t, c, tool, args)
			if err := <-decided; err != nil {
				t.Fatal(err)
			}
			if res.IsError || !strings.Contains(text(res), "status: approved") || !strings.Contains(text(res), "notes: go ahead") {
				t.Fatalf("result = %q (error %v)", text(res), res.IsError)
			}
		})
	}
}

// answerFirst waits for a pending proposal and answers it.
func answerFirst(q queue.Queue, st contract.Status, notes string) error {
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		entries, _ := q.List()
		for _, e := range entries {
			if e.Response == nil {
				return q.Respond(&contract.Response{Version: 1, ID: e.Proposal.ID, Status: st, Notes: notes, DecidedAt: time.Now()})
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return fmt.Errorf("no proposal arrived")
}

func TestInvalidInputIsAToolErrorAndWritesNothing(t *testing.T) {
	ts := startServer(t, Config{})
	c := mcpClient(t, ts.url)
	for _, tc := range []struct {
		name, tool string
		args       map[string]any
		want       string
	}{
		{"no reason", "egress-block", map[string]any{"host": "api.example.test"}, "reason: is required"},
		{"host with scheme", "egress-block", map[string]any{"host": "https://x.example", "reason": "r"}, "scheme"},
		{"relative prefix", "egress-block", map[string]any{"host": "a.example.test", "path_prefixes": []string{"v1"}, "reason": "r"}, "/"},
		{"bad method", "egress-block", map[string]any{"host": "a.example.test", "methods": []string{"TRACE"}, "reason": "r"}, "TRACE"},
		{"unknown argument", "egress-block", map[string]any{"host": "a.example.test", "reason": "r", "port": 22}, "port"},
		{"dlp without rule", "dlp-block", map[string]any{"host": "a.example.test", "reason": "r"}, "rule"},
		{"empty capability", "capability-block", map[string]any{"reason": "r"}, ""},
		{"bad scheme", "cred-block", map[string]any{"host": "a.example.test", "scheme": "Basic", "purpose": "p", "reason": "r"}, "scheme"},
		{"huge reason", "egress-block", map[string]any{"host": "a.example.test", "reason": strings.Repeat("x", 5000)}, ""},
		{"unknown proposal id", "egress-block", map[string]any{"proposal_id": "nope"}, "no egress-block proposal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := call(t, c, tc.tool, tc.args)
			if !res.IsError || !strings.Contains(text(res), tc.want) {
				t.Errorf("result = %q (isError %v), want a tool error mentioning %q", text(res), res.IsError, tc.want)
			}
		})
	}
	if names, _ := os.ReadDir(ts.queue.Dir); len(names) != 0 {
		t.Errorf("invalid calls wrote %d files", len(names))
	}
}

// TestDLPBlockForARepo: dlp-block takes a git gate finding (repo and
// fingerprint) and queues exactly that; what does not name one whole
// finding in one place is a tool error and queues nothing.
func TestDLPBlockForARepo(t *testing.T) {
	const fp = "4f1c9a0e7b2d3c5a6e8f90a1b2c3d4e5f6a7b8c9:config/app.yaml:github-pat:3"
	for _, tc := range []struct {
		name string
		args map[string]any
		want string // "" for accepted; else part of the tool error
	}{
		{"repo and fingerprint", map[string]any{"repo": "demo", "fingerprint": fp, "reason": "a test fixture"}, ""},
		{"with the fingerprint's rule", map[string]any{"repo": "demo", "fingerprint": fp, "rule_id": "github-pat", "reason": "a test fixture"}, ""},
		{"host and repo", map[string]any{"host": "a.example.test", "repo": "demo", "fingerprint": fp, "reason": "r"}, "host: is set with repo"},
		{"repo without fingerprint", map[string]any{"repo": "demo", "rule_id": "github-pat", "reason": "r"}, "fingerprint: is required with repo"},
		{"a whole rule", map[string]any{"repo": "demo", "fingerprint": "github-pat", "reason": "r"}, "fingerprint has no ':'"},
		{"an abbreviated commit", map[string]any{"repo": "demo", "fingerprint": "4f1c9a0:config/app.yaml:github-pat:3", "reason": "r"}, "give the full 40-digit id"},
		{"another rule", map[string]any{"repo": "demo", "fingerprint": fp, "rule_id": "generic-api-key", "reason": "r"}, "the fingerprint's rule is \"github-pat\""},
		{"a bad repo name", map[string]any{"repo": "../demo", "fingerprint": fp, "reason": "r"}, "repo: repo name \"../demo\" contains '/'"},
		{"a path with an escape", map[string]any{"repo": "demo", "fingerprint": "4f1c9a0e7b2d3c5a6e8f90a1b2c3d4e5f6a7b8c9:a\x1b[2J:github-pat:3", "reason": "r"}, "U+001B"},
		{"fingerprint with host", map[string]any{"host": "a.example.test", "rule_id": "github-pat", "fingerprint": fp, "reason": "r"}, "fingerprint: is only for a push the git gate refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, Config{})
			res := call(t, mcpClient(t, ts.url), "dlp-block", tc.args)
			entries, err := ts.queue.List()
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != "" {
				if !res.IsError || !strings.Contains(text(res), tc.want) {
					t.Errorf("result = %q (isError %v), want a tool error mentioning %q", text(res), res.IsError, tc.want)
				}
				if len(entries) != 0 {
					t.Errorf("an invalid call queued %d proposals", len(entries))
				}
				return
			}
			if res.IsError || !strings.Contains(text(res), "status: pending") || len(entries) != 1 {
				t.Fatalf("result = %q (isError %v), %d proposals queued", text(res), res.IsError, len(entries))
			}
			got, err := entries[0].Proposal.DecodePayload()
			if err != nil {
				t.Fatal(err)
			}
			want := &contract.DLPBlockPayload{Repo: "demo", Fingerprint: fp, RuleID: fmt.Sprint(tc.args["rule_id"])}
			if tc.args["rule_id"] == nil {
				want.RuleID = ""
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("queued payload (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUnansweredCallReturnsPendingAndSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, Config{Queue: dir, ResponseTimeout: 200 * time.Millisecond})
	c := mcpClient(t, ts.url)
	res := call(t, c, "egress-block", map[string]any{"host": "api.example.test", "reason": "need it"})
	if res.IsError || !strings.Contains(text(res), "status: pending") {
		t.Fatalf("result = %q", text(res))
	}
	var sc struct {
		ProposalID string `json:"proposal_id"`
	}
	raw, _ := json.Marshal(res.StructuredContent)
	_ = json.Unmarshal(raw, &sc)
	if sc.ProposalID == "" || !strings.Contains(text(res), sc.ProposalID) {
		t.Fatalf("pending result lacks the proposal id: %q", text(res))
	}
	ts.stop()

	// The proposal is still queued; a new server answers a re-check.
	ts2 := startServer(t, Config{Queue: dir, ResponseTimeout: 5 * time.Second})
	e, err := ts2.queue.Get(sc.ProposalID)
	if err != nil || e.Response != nil {
		t.Fatalf("proposal after restart: %+v %v", e, err)
	}
	if err := ts2.queue.Respond(&contract.Response{Version: 1, ID: sc.ProposalID, Status: contract.StatusRejected, Notes: "use the mirror", DecidedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	c2 := mcpClient(t, ts2.url)
	res = call(t, c2, "egress-block", map[string]any{"proposal_id": sc.ProposalID})
	if !strings.Contains(text(res), "status: rejected") || !strings.Contains(text(res), "use the mirror") {
		t.Errorf("re-check = %q", text(res))
	}
}

func TestListEgressRoutes(t *testing.T) {
	egress := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/routes" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, `{"routes":[{"host":"api.example.test","path_allowlist":["/v1/"],"methods":[],"tls_passthrough":false}]}`)
	}))
	defer egress.Close()
	ts := startServer(t, Config{EgressAdmin: egress.URL})
	res := call(t, mcpClient(t, ts.url), "list-egress-routes", map[string]any{})
	if res.IsError || !strings.Contains(text(res), "api.example.test") {
		t.Errorf("result = %q", text(res))
	}
	down := startServer(t, Config{EgressAdmin: "http://127.0.0.1:1"})
	res = call(t, mcpClient(t, down.url), "list-egress-routes", map[string]any{})
	if !res.IsError || !strings.Contains(text(res), "unreachable") {
		t.Errorf("unreachable egress = %q (isError %v)", text(res), res.IsError)
	}
}

// TestRawJSONRPC2025Handshake speaks the 2025-06-18 protocol by hand, as
// most agent CLIs do: initialize, carry Mcp-Session-Id, call a tool.
func TestRawJSONRPC2025Handshake(t *testing.T) {
	ts := startServer(t, Config{})
	post := func(session, body string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodPost, ts.url+"/mcp", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
		if session != "" {
			req.Header.Set("Mcp-Session-Id", session)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := post("", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`)
	session := resp.Header.Get("Mcp-Session-Id")
	if resp.StatusCode != 200 || session == "" || !strings.Contains(body, `"protocolVersion":"2025-06-18"`) {
		t.Fatalf("initialize: %d session=%q %s", resp.StatusCode, session, body)
	}
	post(session, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	_, body = post(session, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
	for _, name := range []string{"egress-block", "dlp-block", "capability-block", "cred-block", "list-egress-routes"} {
		if !strings.Contains(body, `"name":"`+name+`"`) {
			t.Errorf("tools/list lacks %s: %s", name, body)
		}
	}
	_, body = post(session, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"egress-block","arguments":{"host":"x.example.test"}}}`)
	if !strings.Contains(body, `"isError":true`) {
		t.Errorf("call without reason: %s", body)
	}
	resp, _ = post("bb-forged", `{"jsonrpc":"2.0","id":4,"method":"tools/list"}`)
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("forged session id: %d, want 404", resp.StatusCode)
	}
}

func TestOversizedRequestRefused(t *testing.T) {
	ts := startServer(t, Config{})
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"egress-block","arguments":{"reason":"` + strings.Repeat("x", 2<<20) + `"}}}`
	req, _ := http.NewRequest(http.MethodPost, ts.url+"/mcp", bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode < 400 {
		t.Errorf("2 MiB request = %d, want refused", resp.StatusCode)
	}
	if names, _ := os.ReadDir(ts.queue.Dir); len(names) != 0 {
		t.Error("oversized request wrote a proposal")
	}
}

func TestManyConcurrentCallsAllResolve(t *testing.T) {
	ts := startServer(t, Config{ResponseTimeout: 200 * time.Millisecond, MaxWaiting: 8, Rate: Rate{N: 40, Per: time.Minute}})
	c := mcpClient(t, ts.url)
	var wg sync.WaitGroup
	errs := make(chan string, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := mcp.CallToolRequest{}
			req.Params.Name = "egress-block"
			req.Params.Arguments = map[string]any{"host": fmt.Sprintf("h%d.example.test", i), "reason": "load"}
			res, err := c.CallTool(context.Background(), req)
			if err != nil || !strings.Contains(text(res), "status: pending") {
				errs <- fmt.Sprintf("call %d: %v %v", i, err, res)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if entries, _ := ts.queue.List(); len(entries) != 40 {
		t.Errorf("%d proposals queued, want 40", len(entries))
	}
}
