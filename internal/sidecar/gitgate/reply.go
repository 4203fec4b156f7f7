package gitgate

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/sideband"
)

// pushOutcome is the verdict on one push: a status per ref, and what the
// audit line says.
type pushOutcome struct {
	unpack   string            // "ok" or why the pack was refused
	status   map[string]string // ref → "" (ok) or the reason it was refused
	order    []string          // refs in the client's order
	decision string            // audit rule id
	reason   string
	// updated counts the refs that moved on the gate.
	updated int
	// excepted counts the findings the operator's DLP exceptions let
	// through.
	excepted int
}

func newOutcome(req *pushRequest) *pushOutcome {
	o := &pushOutcome{unpack: "ok", status: map[string]string{}}
	for _, c := range req.Commands {
		o.status[c.Name.String()] = ""
		o.order = append(o.order, c.Name.String())
	}
	return o
}

// rejectAll refuses every ref that is not refused yet.
func (o *pushOutcome) rejectAll(reason string) {
	for ref, st := range o.status {
		if st == "" {
			o.status[ref] = reason
		}
	}
}

func (o *pushOutcome) report() *packp.ReportStatus {
	rs := packp.NewReportStatus()
	rs.UnpackStatus = o.unpack
	for _, ref := range o.order {
		st := o.status[ref]
		if st == "" {
			st = "ok"
		}
		rs.CommandStatuses = append(rs.CommandStatuses, &packp.CommandStatus{ReferenceName: plumbing.ReferenceName(ref), Status: st})
	}
	return rs
}

func (o *pushOutcome) accepted() int {
	n := 0
	for _, st := range o.status {
		if st == "" {
			n++
		}
	}
	return n
}

// pushReply writes the response to a push: messages on side-band channel 2
// (the client prints them as "remote: ..."), then the report on channel 1.
type pushReply struct {
	mu     sync.Mutex // serialises writes
	w      io.Writer
	rc     *http.ResponseController
	mux    *sideband.Muxer // nil: the client asked for no side band
	report bool
}

func newPushReply(w http.ResponseWriter, req *pushRequest) *pushReply {
	p := &pushReply{w: w, rc: http.NewResponseController(w), report: req.has("report-status")}
	switch {
	case req.has("side-band-64k"):
		p.mux = sideband.NewMuxer(sideband.Sideband64k, w)
	case req.has("side-band"):
		p.mux = sideband.NewMuxer(sideband.Sideband, w)
	}
	return p
}

// Write relays upstream progress and hook output to the client.
func (p *pushReply) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mux == nil {
		return len(b), nil
	}
	if _, err := p.mux.WriteChannel(sideband.ProgressMessage, b); err != nil {
		return 0, err
	}
	_ = p.rc.Flush()
	return len(b), nil
}

// say prints a line to the client as "remote: gitgate: ...".
func (p *pushReply) say(format string, args ...any) {
	_, _ = p.Write([]byte("gitgate: " + fmt.Sprintf(format, args...) + "\n"))
}

func (p *pushReply) finish(o *pushOutcome) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.report {
		return nil
	}
	if p.mux == nil {
		return o.report().Encode(p.w)
	}
	var buf strings.Builder
	if err := o.report().Encode(&buf); err != nil {
		return err
	}
	if _, err := p.mux.WriteChannel(sideband.PackData, []byte(buf.String())); err != nil {
		return err
	}
	_, err := io.WriteString(p.w, "0000")
	return err
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
