package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestDashboardApprovesALiveProposal drives the dashboard on a
// pseudo-terminal against a running bottle: the agent proposes a host
// over MCP; the proposal appears with the terminal bell; a (approve) and
// enter (no note) approve it; the agent's call returns approved and its
// next request to the host gets through; q quits with status 0.
func TestDashboardApprovesALiveProposal(t *testing.T) {
	e := newUpEnv(t)
	e.startServers(t)
	e.internetBottle(t, "dash", "[sh]")
	slug := e.upDetached(t, "dash")
	e.connect(t, slug)
	if out, _ := inAgent(t, slug, "probe http https://docs.demo.test/ 2>&1; true"); !strings.Contains(out, "403") {
		t.Fatalf("an undeclared host was not refused:\n%s", out)
	}

	s := e.ptyRun(t, "dashboard")
	s.expect(slug, 15*time.Second)
	s.expect("0 pending", 5*time.Second)
	if strings.Contains(s.output(), "\a") {
		t.Fatal("the first paint rang the bell")
	}
	painted := len(s.output())

	call := e.propose(t, slug, "egress-block", `{"host":"docs.demo.test","reason":"the docs"}`)
	id := e.waitProposal(t, slug, "egress-block")
	// Refreshes come once a second: the proposal shows within 2 s of
	// landing in the queue.
	s.expect("every path of docs.demo.test", 2*time.Second)
	if !strings.Contains(s.output()[painted:], "\a") {
		t.Error("the new proposal did not ring the bell")
	}

	s.send("\t") // the proposals pane; the newest is selected
	s.expect("id "+id, 5*time.Second)
	s.send("a")
	s.expect("note:", 5*time.Second)
	s.send("\r")
	s.expect("proposal "+id+" approved", 10*time.Second)
	select {
	case r := <-call:
		if !strings.Contains(r, "approved") {
			t.Errorf("the agent's call answered:\n%s", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the agent's call did not return after the approval")
	}
	if out, _ := inAgent(t, slug, "probe http https://docs.demo.test/ 2>&1; true"); strings.Contains(out, "403") {
		t.Errorf("after the approval the host is still refused:\n%s", out)
	}

	s.send("q")
	if code := s.wait(10 * time.Second); code != 0 {
		t.Errorf("q: exit %d, want 0", code)
	}
	e.disconnect(t, slug)
}

// TestDashboardCtrlCExits130 quits the dashboard with Ctrl-C: status 130
// and the terminal back out of the alternate screen.
func TestDashboardCtrlCExits130(t *testing.T) {
	e := newUpEnv(t)
	s := e.ptyRun(t, "dashboard")
	s.expect("Bottles (0)", 15*time.Second)
	s.send("\x03")
	if code := s.wait(10 * time.Second); code != 130 {
		t.Errorf("Ctrl-C: exit %d, want 130", code)
	}
	if out := s.output(); !strings.Contains(out, "\x1b[?1049l") {
		t.Errorf("the alternate screen was not left:\n%q", out[max(len(out)-300, 0):])
	}
}
