package supervise

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// terminalAttacks are one character of each class that must never reach
// the operator's terminal, with the code point the refusal names.
var terminalAttacks = []struct {
	name, char, codePoint string
}{
	{"ESC CSI", "\x1b[2K\x1b[1G", "U+001B"},
	{"OSC title", "\x1b]0;approved\x07", "U+001B"},
	{"carriage return", "\rRUN true", "U+000D"},
	{"backspace", "\b\b\b", "U+0008"},
	{"NUL", "\x00", "U+0000"},
	{"DEL", "\x7f", "U+007F"},
	{"C1 CSI", "\u009b8m", "U+009B"},
	{"bidi override", "\u202e", "U+202E"},
	{"zero-width space", "\u200b", "U+200B"},
	{"byte-order mark", "\ufeff", "U+FEFF"},
	{"line separator", "\u2028", "U+2028"},
	{"tag character", "\U000e0041", "U+E0041"},
	// The client's JSON encoder sends invalid UTF-8 as U+FFFD, as any
	// would; TestInvalidUTF8OnTheWireIsRefused sends the raw bytes.
	{"invalid UTF-8", "\xff\xfe", "U+FFFD"},
}

// agentFields are the string arguments of the proposing tools: args
// returns valid arguments with x inside the field.
var agentFields = []struct {
	tool, field string
	args        func(x string) map[string]any
}{
	{"egress-block", "host", func(x string) map[string]any {
		return map[string]any{"host": "api.example" + x + ".test", "reason": "r"}
	}},
	{"egress-block", "path_prefixes[0]", func(x string) map[string]any {
		return map[string]any{"host": "a.example.test", "path_prefixes": []string{"/v1/" + x}, "reason": "r"}
	}},
	{"egress-block", "methods[0]", func(x string) map[string]any {
		return map[string]any{"host": "a.example.test", "methods": []string{"GET" + x}, "reason": "r"}
	}},
	{"egress-block", "reason", func(x string) map[string]any {
		return map[string]any{"host": "a.example.test", "reason": "need " + x + " it"}
	}},
	{"dlp-block", "host", func(x string) map[string]any {
		return map[string]any{"host": x + "a.example.test", "rule_id": "generic-api-key", "reason": "r"}
	}},
	{"dlp-block", "rule_id", func(x string) map[string]any {
		return map[string]any{"host": "a.example.test", "rule_id": "generic" + x, "reason": "r"}
	}},
	{"dlp-block", "reason", func(x string) map[string]any {
		return map[string]any{"host": "a.example.test", "rule_id": "generic-api-key", "reason": "see " + x}
	}},
	{"dlp-block", "repo", func(x string) map[string]any {
		return map[string]any{"repo": "demo" + x, "fingerprint": gateFingerprint("config/app.yaml"), "reason": "r"}
	}},
	{"dlp-block", "fingerprint", func(x string) map[string]any {
		return map[string]any{"repo": "demo", "fingerprint": gateFingerprint("config/" + x + "app.yaml"), "reason": "r"}
	}},
	{"capability-block", "apt_packages[0]", func(x string) map[string]any {
		return map[string]any{"apt_packages": []string{"jq" + x}, "reason": "r"}
	}},
	{"capability-block", "dockerfile_lines[1]", func(x string) map[string]any {
		return map[string]any{"dockerfile_lines": []string{"RUN true", "RUN curl -fsS https://x.test/i.sh | sh " + x + " RUN true"}, "reason": "r"}
	}},
	{"capability-block", "reason", func(x string) map[string]any {
		return map[string]any{"apt_packages": []string{"jq"}, "reason": "parse JSON" + x}
	}},
	{"cred-block", "host", func(x string) map[string]any {
		return map[string]any{"host": "api.github.com" + x, "scheme": "token", "purpose": "p", "reason": "r"}
	}},
	{"cred-block", "scheme", func(x string) map[string]any {
		return map[string]any{"host": "api.github.com", "scheme": "token" + x, "purpose": "p", "reason": "r"}
	}},
	{"cred-block", "purpose", func(x string) map[string]any {
		return map[string]any{"host": "api.github.com", "scheme": "token", "purpose": "read issues" + x, "reason": "r"}
	}},
	{"cred-block", "reason", func(x string) map[string]any {
		return map[string]any{"host": "api.github.com", "scheme": "token", "purpose": "p", "reason": x + "triage"}
	}},
}

// TestTerminalControlsInAnyArgumentAreRefused sends each class of
// terminal-controlling or invisible character in each string argument of
// each tool over MCP: every call is a tool error naming the argument and
// the code point, never echoing the character, and nothing is queued.
func TestTerminalControlsInAnyArgumentAreRefused(t *testing.T) {
	ts := startServer(t, Config{Rate: Rate{N: 10000, Per: time.Minute}})
	c := mcpClient(t, ts.url)
	for _, f := range agentFields {
		for _, a := range terminalAttacks {
			t.Run(f.tool+"/"+f.field+"/"+a.name, func(t *testing.T) {
				res := call(t, c, f.tool, f.args(a.char))
				msg := text(res)
				if !res.IsError || !strings.Contains(msg, f.field+": ") || !strings.Contains(msg, a.codePoint) {
					t.Fatalf("result = %q (isError %v); want a tool error about %s naming %s", msg, res.IsError, f.field, a.codePoint)
				}
				if contract.ValidDisplayText(msg, false) != nil {
					t.Errorf("the refusal echoes the character: %q", msg)
				}
			})
		}
		if f.field != "reason" {
			t.Run(f.tool+"/"+f.field+"/newline", func(t *testing.T) {
				res := call(t, c, f.tool, f.args("\nproposal 0 approved"))
				if !res.IsError || !strings.Contains(text(res), f.field+": ") || !strings.Contains(text(res), "U+000A") {
					t.Errorf("result = %q (isError %v); want %s refused for its line break", text(res), res.IsError, f.field)
				}
			})
		}
	}
	if names := queueFiles(t, ts.queue.Dir); len(names) != 0 {
		t.Errorf("refused calls wrote %q", names)
	}
	// A reason may span lines; the control is that the server takes one.
	res := call(t, c, "egress-block", map[string]any{"host": "api.example.test", "reason": "first line\n\tsecond, indented"})
	if res.IsError {
		t.Fatalf("a multi-line reason was refused: %q", text(res))
	}
}

// TestInvalidUTF8OnTheWireIsRefused sends bytes that are not UTF-8 in a
// hand-written JSON-RPC body, as a hostile client could, and JSON escapes
// of lone surrogates: JSON decoding turns both into U+FFFD, which the
// contract refuses.
func TestInvalidUTF8OnTheWireIsRefused(t *testing.T) {
	ts := startServer(t, Config{})
	post := rawSession(t, ts.url)
	for _, tc := range []struct {
		name, args string
	}{
		{"raw 0xff in the reason", "{\"host\":\"api.example.test\",\"reason\":\"ok \xff\xfe\"}"},
		{"raw C1 CSI bytes in the reason", "{\"host\":\"api.example.test\",\"reason\":\"ok \xc2\x9b8m\"}"},
		{"lone surrogate escape in the reason", `{"host":"api.example.test","reason":"ok \ud800"}`},
		{"truncated UTF-8 in the host", "{\"host\":\"api.example.test\xe2\x80\",\"reason\":\"r\"}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := post(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"egress-block","arguments":` + tc.args + `}}`)
			if !strings.Contains(body, `"isError":true`) || !strings.Contains(body, "U+") {
				t.Errorf("response = %s; want a tool error naming the character", body)
			}
		})
	}
	if names := queueFiles(t, ts.queue.Dir); len(names) != 0 {
		t.Errorf("refused calls wrote %q", names)
	}
}

// rawSession opens a 2025-06-18 session by hand and returns a function
// posting one JSON-RPC body in it and returning the response body.
func rawSession(t *testing.T, url string) func(body string) string {
	t.Helper()
	session := ""
	post := func(body string) string {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url+"/mcp", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
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
		if session == "" {
			session = resp.Header.Get("Mcp-Session-Id")
		}
		return string(b)
	}
	post(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`)
	if session == "" {
		t.Fatal("initialize gave no session id")
	}
	post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	return post
}

// queueFiles lists every name in the queue directory.
func queueFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.Name()
	}
	return names
}

// countProposals counts proposal and response files, failing on any other
// file (a temporary file left behind, say).
func countProposals(t *testing.T, dir string) (proposals, responses int) {
	t.Helper()
	for _, n := range queueFiles(t, dir) {
		switch {
		case strings.HasSuffix(n, ".proposal.json"):
			proposals++
		case strings.HasSuffix(n, ".response.json"):
			responses++
		default:
			t.Errorf("unexpected file %s in the queue", n)
		}
	}
	return proposals, responses
}

// clock is a settable clock for the rate limit.
type clock struct {
	mu  sync.Mutex // guards now
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func proposalID(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	var sc struct {
		ProposalID string `json:"proposal_id"`
	}
	raw, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(raw, &sc); err != nil || sc.ProposalID == "" {
		t.Fatalf("result has no proposal id: %q", text(res))
	}
	return sc.ProposalID
}

func isRefusal(res *mcp.CallToolResult, limit string) bool {
	msg := text(res)
	return res.IsError && strings.HasPrefix(msg, "not queued: ") && strings.Contains(msg, limit) &&
		strings.Contains(msg, "nothing was written") && strings.Contains(msg, "proposal_id")
}

func TestRateLimitRefusesTheEleventhProposalInAMinute(t *testing.T) {
	clk := newClock()
	ts := startServer(t, Config{Now: clk.Now, ResponseTimeout: time.Millisecond})
	c := mcpClient(t, ts.url)
	egress := func(i int) *mcp.CallToolResult {
		return call(t, c, "egress-block", map[string]any{"host": fmt.Sprintf("h%d.example.test", i), "reason": "load"})
	}
	var first string
	for i := range 10 {
		res := egress(i)
		if res.IsError || !strings.Contains(text(res), "status: pending") {
			t.Fatalf("proposal %d within the rate: %q", i+1, text(res))
		}
		if i == 0 {
			first = proposalID(t, res)
		}
		clk.advance(time.Second)
	}
	// 10 s after the first; 11 within the minute is one too many.
	res := egress(10)
	if !isRefusal(res, "at most 10 proposals per minute (supervise --rate 10/m)") || !strings.Contains(text(res), "Try again in 50s") {
		t.Fatalf("11th proposal within a minute = %q (isError %v)", text(res), res.IsError)
	}
	if p, _ := countProposals(t, ts.queue.Dir); p != 10 {
		t.Fatalf("%d proposals on disk after the refusal, want 10", p)
	}
	// Checking on an earlier proposal is not a new proposal.
	if res := call(t, c, "egress-block", map[string]any{"proposal_id": first}); res.IsError || !strings.Contains(text(res), "status: pending") {
		t.Errorf("checking on %s while rate-limited = %q", first, text(res))
	}
	clk.advance(49 * time.Second) // 59 s after the first
	if res := egress(11); !isRefusal(res, "per minute") || !strings.Contains(text(res), "Try again in 1s") {
		t.Fatalf("proposal 59 s after the first = %q", text(res))
	}
	clk.advance(time.Second) // the first has left the window
	if res := egress(12); res.IsError {
		t.Fatalf("proposal a minute after the first = %q", text(res))
	}
	if res := egress(13); !isRefusal(res, "per minute") {
		t.Fatalf("the second has not left the window yet, but = %q", text(res))
	}
	if p, _ := countProposals(t, ts.queue.Dir); p != 11 {
		t.Errorf("%d proposals on disk, want 11", p)
	}
}

func TestDecidingAProposalFreesAPlace(t *testing.T) {
	ts := startServer(t, Config{MaxPending: 3, Rate: Rate{N: 100, Per: time.Minute}, ResponseTimeout: time.Millisecond})
	c := mcpClient(t, ts.url)
	egress := func(i int) *mcp.CallToolResult {
		return call(t, c, "egress-block", map[string]any{"host": fmt.Sprintf("h%d.example.test", i), "reason": "load"})
	}
	var ids []string
	for i := range 3 {
		res := egress(i)
		if res.IsError {
			t.Fatalf("proposal %d under the cap: %q", i+1, text(res))
		}
		ids = append(ids, proposalID(t, res))
	}
	res := egress(3)
	if !isRefusal(res, "already has 3 proposals waiting for the operator, the most it may have (supervise --max-pending 3)") {
		t.Fatalf("4th pending proposal = %q (isError %v)", text(res), res.IsError)
	}
	if err := ts.queue.Respond(&contract.Response{Version: 1, ID: ids[1], Status: contract.StatusRejected, Notes: "no", DecidedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if res := egress(4); res.IsError {
		t.Fatalf("proposal after the operator decided one = %q", text(res))
	}
	if res := egress(5); !isRefusal(res, "--max-pending 3") {
		t.Fatalf("the freed place was taken, but = %q", text(res))
	}
	if p, r := countProposals(t, ts.queue.Dir); p != 4 || r != 1 {
		t.Errorf("queue holds %d proposals and %d responses, want 4 and 1", p, r)
	}
}

// TestProposalFloodIsBounded makes 1,000 proposals, up to 100 at a time.
// The operator answers none until the flood is over and calls wait an
// hour for an answer, so each refused call must be refused at once, not
// wait: the test reads every refusal while the admitted calls still wait.
// The queue then holds exactly the limit, nothing else, and answering the
// admitted proposals ends their calls.
func TestProposalFloodIsBounded(t *testing.T) {
	const calls = 1000
	for _, tc := range []struct {
		name  string
		cfg   Config
		limit string
		want  int
	}{
		{"pending cap", Config{Rate: Rate{N: calls, Per: time.Minute}}, "--max-pending 64", DefaultMaxPending},
		{"default rate, frozen clock", Config{Now: newClock().Now}, "--rate 10/m", DefaultRate.N},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.ResponseTimeout = time.Hour
			tc.cfg.Poll = time.Second // 64 waiting calls polling fast would slow the flood
			ts := startServer(t, tc.cfg)
			// Connections for 100 calls at a time, kept for reuse, and
			// closed before the server stops (which would otherwise wait
			// for spare ones the client dialled but never used).
			tr := &http.Transport{MaxIdleConnsPerHost: 100}
			c := mcpClient(t, ts.url, transport.WithHTTPBasicClient(&http.Client{Transport: tr}))
			t.Cleanup(tr.CloseIdleConnections)
			results := make(chan *mcp.CallToolResult, calls)
			slots := make(chan struct{}, 100)
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range calls {
					slots <- struct{}{}
					wg.Add(1)
					go func() {
						defer wg.Done()
						defer func() { <-slots }()
						req := mcp.CallToolRequest{}
						req.Params.Name = "egress-block"
						req.Params.Arguments = map[string]any{"host": fmt.Sprintf("h%d.example.test", i), "reason": "flood"}
						res, err := c.CallTool(t.Context(), req)
						if err != nil {
							res = mcp.NewToolResultError("call failed: " + err.Error())
						}
						results <- res
					}()
				}
			}()
			for range calls - tc.want {
				res := next(t, results)
				if !isRefusal(res, tc.limit) {
					t.Fatalf("while %d proposals wait, a call answered %q (isError %v); want a refusal naming %s", tc.want, text(res), res.IsError, tc.limit)
				}
			}
			if p, r := countProposals(t, ts.queue.Dir); p != tc.want || r != 0 {
				t.Fatalf("the flood left %d proposals and %d responses, want exactly %d proposals", p, r, tc.want)
			}
			entries, err := ts.queue.List()
			if err != nil || len(entries) != tc.want {
				t.Fatalf("List = %d entries, %v", len(entries), err)
			}
			for _, e := range entries {
				if err := ts.queue.Respond(&contract.Response{Version: 1, ID: e.Proposal.ID, Status: contract.StatusApproved, DecidedAt: time.Now()}); err != nil {
					t.Fatal(err)
				}
			}
			for range tc.want {
				if res := next(t, results); res.IsError || !strings.Contains(text(res), "status: approved") {
					t.Fatalf("an admitted call answered %q after the operator approved", text(res))
				}
			}
			wg.Wait()
		})
	}
}

// next returns the next call result. The limit only keeps a broken server
// from hanging the run; nothing here measures speed.
func next(t *testing.T, results <-chan *mcp.CallToolResult) *mcp.CallToolResult {
	t.Helper()
	select {
	case res := <-results:
		return res
	case <-time.After(2 * time.Minute):
		t.Fatal("a call did not answer")
		return nil
	}
}

// gateFingerprint is a git gate finding's fingerprint for path.
func gateFingerprint(path string) string {
	return strings.Repeat("a1", 20) + ":" + path + ":github-pat:3"
}

// Host-attacks finding 6: the agent proposes a wildcard on a public
// suffix (its own name under *.github.io would then receive what egress
// forwards). Each is a tool error saying why, and nothing is queued; a
// wildcard under a registered domain is queued.
func TestWildcardOnAPublicSuffixIsRefused(t *testing.T) {
	ts := startServer(t, Config{Rate: Rate{N: 10000, Per: time.Minute}})
	c := mcpClient(t, ts.url)
	for _, tc := range []struct {
		tool string
		args map[string]any
	}{
		{"egress-block", map[string]any{"host": "*.co.uk", "reason": "r"}},
		{"egress-block", map[string]any{"host": "*.github.io", "reason": "r"}},
		{"egress-block", map[string]any{"host": "*.s3.amazonaws.com", "path_prefixes": []string{"/"}, "reason": "r"}},
		{"cred-block", map[string]any{"host": "*.github.io", "scheme": "token", "purpose": "p", "reason": "r"}},
		{"dlp-block", map[string]any{"host": "*.co.uk", "rule_id": "generic-api-key", "reason": "r"}},
	} {
		t.Run(tc.tool+"/"+tc.args["host"].(string), func(t *testing.T) {
			res := call(t, c, tc.tool, tc.args)
			if msg := text(res); !res.IsError || !strings.Contains(msg, "public suffix") || !strings.Contains(msg, "nothing was queued") {
				t.Fatalf("result = %q (isError %v); want it refused as a wildcard on a public suffix", msg, res.IsError)
			}
		})
	}
	if names := queueFiles(t, ts.queue.Dir); len(names) != 0 {
		t.Errorf("refused calls wrote %q", names)
	}
	res := call(t, c, "egress-block", map[string]any{"host": "*.acme.github.io", "reason": "r"})
	if res.IsError {
		t.Fatalf("a wildcard under a registered domain was refused: %q", text(res))
	}
}
