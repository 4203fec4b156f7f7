package cli

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/bot-bottle/bot-bottle/internal/scaffold/testpki"
	"github.com/bot-bottle/bot-bottle/internal/scaffold/testutil"
	"github.com/bot-bottle/bot-bottle/internal/sidecar/supervise"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// TestEgressBlockApprovedByOperatorOpensTheHost is the whole proposal loop
// without Docker: a real egress process refuses a host, the agent asks with
// egress-block over MCP, the operator approves with the CLI, and the same
// curl through the same egress process then succeeds.
func TestEgressBlockApprovedByOperatorOpensTheHost(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs egress")
	}
	for _, tool := range []string{"go", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	home := t.TempDir()
	bottle := testutil.BottleDir(t, home, "dev")
	state := string(bottle)
	routes := bottle.RoutesFile()
	if err := os.MkdirAll(filepath.Dir(routes), 0o700); err != nil {
		t.Fatal(err)
	}
	// The test upstream lives on loopback, which egress refuses unless
	// the bottle allows it.
	if err := os.WriteFile(routes, []byte("version: 1\nssrf_allow: [\"127.0.0.0/8\"]\nroutes: []\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pki := t.TempDir()
	bottleCA, upCA := testpki.New(t, pki, "bottle"), testpki.New(t, pki, "upstream")
	secrets := bottle.Path(contract.BottleSecretsDir)
	_ = os.Mkdir(secrets, 0o700)

	// The upstream the agent wants, on the HTTPS port of a loopback address
	// of its own: an approved egress-block adds a route on the default
	// port, 443, only (proposals carry no ports). Binding 443 needs
	// privileges; without them, only the last step, the round trip to
	// the upstream, is skipped.
	upIP := "127.0.0.83"
	upLn, upErr := net.Listen("tcp", net.JoinHostPort(upIP, "443"))
	if upErr == nil {
		up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello from upstream") }),
			TLSConfig: &tls.Config{Certificates: []tls.Certificate{upCA.ServerCert(t, "api.example.test")}}}
		go func() { _ = up.ServeTLS(upLn, "", "") }()
		t.Cleanup(func() { up.Close() })
	}

	// A real egress process.
	bin := testutil.BuildCommand(t, "github.com/bot-bottle/bot-bottle/cmd/egress")
	proxyAddr, adminAddr := testutil.FreeAddrT(t), testutil.FreeAddrT(t)
	var egressLog testutil.SyncBuffer
	eg := exec.Command(bin, "--routes", routes, "--ca-cert", bottleCA.CertPath, "--ca-key", bottleCA.KeyPath,
		"--secrets-dir", secrets, "--listen", proxyAddr, "--admin", adminAddr, "--audit", filepath.Join(state, "egress-audit.jsonl"),
		"--upstream-ca", upCA.CertPath, "--resolve", "api.example.test="+upIP)
	eg.Stderr = &egressLog
	if err := eg.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = eg.Process.Signal(syscall.SIGTERM); _ = eg.Wait() })
	if err := os.WriteFile(bottle.Path(contract.BottleEgressPIDFile), []byte(strconv.Itoa(eg.Process.Pid)), 0o600); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool {
		resp, err := http.Get("http://" + adminAddr + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	}, "egress to start")

	// curl returns the body and "CONNECT status/response status" (000
	// when there was none).
	curl := func(url string) (string, string) {
		out, _ := exec.Command("curl", "-sS", "--max-time", "10", "--noproxy", "", "--proxy", "http://"+proxyAddr,
			"--cacert", bottleCA.CertPath, "-w", "\n%{http_connect}/%{http_code}", url).CombinedOutput()
		s := strings.TrimSpace(string(out))
		i := strings.LastIndex(s, "\n")
		return s[:max(i, 0)], s[i+1:]
	}
	if out, codes := curl("https://api.example.test/v1/x"); codes != "403/000" {
		t.Fatalf("undeclared host before approval: %s %s; want the CONNECT refused", codes, out)
	}

	// supervise, serving the bottle's queue.
	sup := supervise.NewServer(supervise.Config{Queue: testutil.BottleDir(t, home, "dev").QueueDir(), Bottle: "dev",
		EgressAdmin: "http://" + adminAddr, ResponseTimeout: 20 * time.Second, Poll: 20 * time.Millisecond},
		slog.New(slog.NewJSONHandler(io.Discard, nil)))
	supLn, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = sup.Serve(ctx, supLn) }()

	c, err := client.NewStreamableHttpClient("http://" + supLn.Addr().String() + "/mcp")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ClientInfo = mcp.Implementation{Name: "agent", Version: "1"}
	if _, err := c.Initialize(t.Context(), init); err != nil {
		t.Fatal(err)
	}
	result := make(chan *mcp.CallToolResult, 1)
	go func() {
		req := mcp.CallToolRequest{}
		req.Params.Name = "egress-block"
		req.Params.Arguments = map[string]any{"host": "api.example.test", "path_prefixes": []string{"/v1/"}, "reason": "the task needs its API"}
		res, err := c.CallTool(context.Background(), req)
		if err != nil {
			t.Errorf("egress-block: %v", err)
		}
		result <- res
	}()

	// The operator sees it and approves it.
	var id string
	waitUntil(t, func() bool {
		r := run(t, "/", nil, "--home", home, "proposals", "list", "--json")
		var list []struct{ ID, Tool, Status string }
		_ = json.Unmarshal([]byte(r.stdout), &list)
		if len(list) == 1 && list[0].Tool == "egress-block" && list[0].Status == "pending" {
			id = list[0].ID
		}
		return id != ""
	}, "the proposal to be listed")
	show := run(t, "/", nil, "--home", home, "proposals", "show", id)
	if !strings.Contains(show.stdout, "+   - host: api.example.test") {
		t.Errorf("show lacks the diff:\n%s", show.stdout)
	}
	if r := run(t, "/", nil, "--home", home, "proposals", "approve", id, "--note", "ok"); r.code != 0 {
		t.Fatalf("approve: %d %s %s", r.code, r.stdout, r.stderr)
	}
	res := <-result
	if res == nil || res.IsError || !strings.Contains(fmt.Sprint(res.Content), "status: approved") {
		t.Fatalf("agent's call = %+v", res)
	}
	// The host is open on 443 for the approved path: a path outside it is
	// refused inside the tunnel, by the route the approval added.
	var out, codes string
	waitUntil(t, func() bool { out, codes = curl("https://api.example.test/admin"); return codes == "200/403" }, "the approved host to open")
	if !strings.Contains(out, "not allowed on api.example.test") {
		t.Errorf("curl /admin after approval: %s %s; want egress's path refusal", codes, out)
	}
	// And on 443 only.
	if out, codes := curl("https://api.example.test:8443/v1/x"); codes != "403/000" {
		t.Errorf("another port after approval: %s %s; want the CONNECT refused", codes, out)
	}
	if eg.ProcessState != nil {
		t.Error("egress restarted")
	}
	if upErr != nil {
		t.Skipf("the round trip to the upstream needs %s:443: %v", upIP, upErr)
	}
	if out, codes := curl("https://api.example.test/v1/x"); codes != "200/200" || !strings.Contains(out, "hello from upstream") {
		t.Errorf("curl after approval: %s %s", codes, out)
	}
}

func waitUntil(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}
