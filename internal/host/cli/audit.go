package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/shared/termtext"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// maxAuditLine bounds one audit line; a longer one is shown as unreadable
// rather than held in memory. Real records are a few hundred bytes.
const maxAuditLine = 1 << 20

// maxAuditReason is how many characters of a record's reason are shown.
const maxAuditReason = 60

// auditFormat aligns the columns of logs --audit. Widths are minimums:
// a longer host or path is shown whole and pushes its line's later
// columns right, because cutting it could hide what the agent reached.
const auditFormat = "%-19s  %-9s  %-7s  %-28s  %-28s  %-8s  %-20s  %s"

// auditHeader names auditFormat's columns.
var auditHeader = strings.TrimRight(fmt.Sprintf(auditFormat, "TIME", "COMPONENT", "METHOD", "HOST", "PATH", "DECISION", "RULE", "REASON"), " ")

// formatAuditLine renders line n of an audit file as one line of
// logs --audit, every field escaped (the agent chooses hosts and paths).
// A line that is not an audit record is "(unreadable line N)".
func formatAuditLine(n int, line []byte, loc *time.Location) string {
	var rec contract.AuditRecord
	if err := json.Unmarshal(line, &rec); err != nil || rec.Time.IsZero() {
		return fmt.Sprintf("(unreadable line %d)", n)
	}
	field := func(s string) string { return dash(termtext.Line(s)) }
	reason := []rune(rec.Reason)
	if len(reason) > maxAuditReason {
		reason = append(reason[:maxAuditReason-3], []rune("...")...)
	}
	return strings.TrimRight(fmt.Sprintf(auditFormat,
		rec.Time.In(loc).Format(time.DateTime), field(rec.Component), field(rec.Method), field(rec.Host), field(rec.Path),
		field(string(rec.Decision)), field(rec.Rule), termtext.Line(string(reason))), " ")
}

// auditLine is one line of the audit file, without its '\n'.
type auditLine struct {
	n       int
	text    []byte
	tooLong bool
}

func (l auditLine) format(loc *time.Location) string {
	if l.tooLong {
		return fmt.Sprintf("(unreadable line %d: longer than %d bytes)", l.n, maxAuditLine)
	}
	return formatAuditLine(l.n, l.text, loc)
}

// lineSplitter cuts a stream into numbered lines, holding back a last line
// until its '\n' arrives (the writer may be halfway through it).
type lineSplitter struct {
	n       int
	buf     []byte
	tooLong bool
}

// feed splits data, calling emit with each complete line. The line's
// text is only valid during the call.
func (s *lineSplitter) feed(data []byte, emit func(auditLine)) {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			s.add(data)
			return
		}
		s.add(data[:i])
		s.emit(emit)
		data = data[i+1:]
	}
}

// flush emits a last line that has no '\n'.
func (s *lineSplitter) flush(emit func(auditLine)) {
	if len(s.buf) > 0 || s.tooLong {
		s.emit(emit)
	}
}

// reset starts over at line 1, for a file truncated or replaced.
func (s *lineSplitter) reset() { *s = lineSplitter{buf: s.buf[:0]} }

func (s *lineSplitter) add(p []byte) {
	if s.tooLong {
		return
	}
	if len(s.buf)+len(p) > maxAuditLine {
		s.tooLong, s.buf = true, s.buf[:0]
		return
	}
	s.buf = append(s.buf, p...)
}

func (s *lineSplitter) emit(emit func(auditLine)) {
	s.n++
	if len(bytes.TrimSpace(s.buf)) > 0 || s.tooLong {
		emit(auditLine{n: s.n, text: s.buf, tooLong: s.tooLong})
	}
	s.buf, s.tooLong = s.buf[:0], false
}

// auditTail prints a bottle's audit file.
type auditTail struct {
	path string
	out  io.Writer
	loc  *time.Location
	// tail is how many records to show from the end before following;
	// negative: all of them.
	tail   int
	follow bool
	// poll is how often a followed file is looked at for new lines.
	poll time.Duration
}

// run prints the file, then with follow keeps printing the lines
// appended to it until ctx ends (which is not an error). A truncated or
// replaced file is read again from its start.
func (a *auditTail) run(ctx context.Context) error {
	w := bufio.NewWriter(a.out)
	if a.follow {
		fmt.Fprintln(w, auditHeader)
	}
	f, err := a.open(ctx, w)
	if f == nil || err != nil {
		return err
	}
	defer func() { f.Close() }()

	var (
		split   lineSplitter
		ring    []auditLine // the last a.tail lines while catching up
		caught  = a.tail < 0
		printed int
		buf     = make([]byte, 64<<10)
		offset  int64
		werr    error
	)
	emit := func(l auditLine) {
		if !caught {
			l.text = bytes.Clone(l.text)
			if ring = append(ring, l); len(ring) > a.tail {
				ring = ring[1:]
			}
			return
		}
		if printed == 0 && !a.follow {
			fmt.Fprintln(w, auditHeader)
		}
		printed++
		if _, err := fmt.Fprintln(w, l.format(a.loc)); err != nil && werr == nil {
			werr = err
		}
	}
	catchUp := func() {
		if caught {
			return
		}
		caught = true
		for _, l := range ring {
			emit(l)
		}
		ring = nil
	}
	for {
		n, err := f.Read(buf)
		offset += int64(n)
		split.feed(buf[:n], emit)
		if werr != nil {
			return werr
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read %s: %w", a.path, err)
		}
		if n > 0 {
			continue
		}
		// At the end of what is written so far.
		if !a.follow {
			split.flush(emit)
			catchUp()
			if printed == 0 {
				fmt.Fprintln(w, "no audit records yet")
			}
			return w.Flush()
		}
		catchUp()
		if err := w.Flush(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(a.poll):
		}
		if nf, note := a.changed(f, offset); nf != nil || note != "" {
			fmt.Fprintln(w, note)
			if nf != nil {
				f.Close()
				f = nf
			} else if _, err := f.Seek(0, io.SeekStart); err != nil {
				return err
			}
			offset = 0
			split.reset()
		}
	}
}

// open opens the audit file. Without follow a missing file means no
// records yet; with follow it is waited for.
func (a *auditTail) open(ctx context.Context, w *bufio.Writer) (*os.File, error) {
	for waited := false; ; waited = true {
		f, err := os.Open(a.path)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if !a.follow {
			fmt.Fprintln(a.out, "no audit records yet")
			return nil, nil
		}
		if !waited {
			fmt.Fprintln(w, "(no audit file yet; waiting for the first record)")
			if err := w.Flush(); err != nil {
				return nil, err
			}
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(a.poll):
		}
	}
}

// changed looks at the followed file f, read up to offset: when the path
// now names another file it returns that file opened; when f is shorter
// than offset it was truncated. The note says which, for the operator.
func (a *auditTail) changed(f *os.File, offset int64) (*os.File, string) {
	cur, err := f.Stat()
	if err != nil {
		return nil, ""
	}
	if now, err := os.Stat(a.path); err == nil && !os.SameFile(cur, now) {
		if nf, err := os.Open(a.path); err == nil {
			return nf, "(audit file replaced; reading the new one from its start)"
		}
	}
	if cur.Size() < offset {
		return nil, "(audit file truncated; reading it from its start)"
	}
	return nil, ""
}
