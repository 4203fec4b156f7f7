package egress

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/shared/dlp"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// A gzip request body is decompressed as a stream, in gzipChunk pieces,
// into a DLP stream scan: never inflated whole. It is refused (413) if it
// expands beyond maxDecompressed, or, past the first gzipRatioFloor bytes,
// to more than gzipMaxRatio times the compressed bytes read so far: a gzip
// bomb (1 MiB of zeros is 1 GiB) is refused after a few megabytes, while
// ordinary text and JSON compress far less than 100:1.
const (
	maxDecompressed = 256 << 20
	gzipMaxRatio    = 100
	gzipRatioFloor  = 4 << 20
	gzipChunk       = 64 << 10
)

// prepareBody returns the body to forward, scanned so that no secret byte
// reaches the upstream:
//   - bodies up to WholeBodyLimit are read and scanned whole first;
//   - larger ones are scanned as they stream, each chunk together with
//     the bytes before it, and egress holds back the last StreamOverlap
//     bytes until what follows them is scanned too;
//   - dlp_strict routes and gzip bodies larger than the limit are spooled
//     whole (on disk above SpoolRAM) and scanned before anything is sent.
//
// gzip bodies are decompressed for scanning; any other content encoding
// cannot be scanned and is refused.
//
// oc, if not nil, refuses a body naming a method override the route does
// not allow (it sees the body as it is scanned: decompressed, in order).
func (p *Proxy) prepareBody(r *http.Request, route *contract.Route, st *state, oc *overrideCheck) (io.ReadCloser, *refusal) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > p.cfg.MaxBody {
		return nil, &refusal{http.StatusRequestEntityTooLarge, RuleTooLarge, "egress: request body is larger than this proxy forwards"}
	}
	gz, ref := bodyEncoding(r.Header)
	if ref != nil {
		return nil, ref
	}
	src := &limitedBody{r: r.Body, max: p.cfg.MaxBody}
	var head []byte
	var err error
	if r.ContentLength > 0 && r.ContentLength <= p.cfg.WholeBodyLimit {
		// Known small length: one allocation, no growing copies.
		head = make([]byte, r.ContentLength)
		var n int
		n, err = io.ReadFull(src, head)
		head = head[:n]
		if err == io.ErrUnexpectedEOF {
			err = nil
		}
	} else {
		head, err = io.ReadAll(io.LimitReader(src, p.cfg.WholeBodyLimit+1))
	}
	if err != nil {
		return nil, bodyErr(err)
	}
	if int64(len(head)) <= p.cfg.WholeBodyLimit && !route.DLPStrict {
		if ref := p.scanBody(st, route, head, gz, oc); ref != nil {
			return nil, ref
		}
		// (Percent- and JSON-escaped tokens, in forms or anything else,
		// are found by the scanner's decoded views.)
		return &countedBody{Reader: bytes.NewReader(head), n: int64(len(head))}, nil
	}
	rest := io.MultiReader(bytes.NewReader(head), src)
	if route.DLPStrict || gz {
		return p.spool(st, route, rest, gz, oc)
	}
	return &scanReader{src: rest, stream: st.scanner.NewStream(route.DLPAllow), budget: p.cfg.ScanBudget, oc: oc}, nil
}

// bodyEncoding reads every Content-Encoding header and value: a body is
// plain (none, or only identity) or gzip (exactly one gzip and no other
// coding). Anything else cannot be scanned as the receiver will decode it
// and is refused: with stacked codings, the receiver undoes them all.
func bodyEncoding(h http.Header) (gz bool, ref *refusal) {
	var codings []string
	for _, v := range h.Values("Content-Encoding") {
		for _, c := range strings.Split(v, ",") {
			if c = strings.ToLower(strings.TrimSpace(c)); c != "" && c != "identity" {
				codings = append(codings, c)
			}
		}
	}
	switch {
	case len(codings) == 0:
		return false, nil
	case len(codings) == 1 && (codings[0] == "gzip" || codings[0] == "x-gzip"):
		return true, nil
	}
	return false, &refusal{http.StatusUnsupportedMediaType, RuleEncoding,
		"egress: request bodies with Content-Encoding " + quoteToken(strings.Join(codings, ", ")) + " cannot be scanned for secrets; send it uncompressed or as one gzip"}
}

func (p *Proxy) scanBody(st *state, route *contract.Route, data []byte, gz bool, oc *overrideCheck) *refusal {
	if gz {
		return p.scanGzip(st, route, bytes.NewReader(data), oc)
	}
	if ref := p.scan(st, data, route, "request body"); ref != nil {
		return ref
	}
	return oc.feed(data)
}

// scanGzip decompresses src as a stream into a DLP stream scan, with the
// size and ratio limits above. Memory stays at a chunk and the stream's
// overlap whatever the body expands to.
func (p *Proxy) scanGzip(st *state, route *contract.Route, src io.Reader, oc *overrideCheck) *refusal {
	in := &countingReader{r: src}
	zr, err := gzip.NewReader(in)
	if err != nil {
		return &refusal{http.StatusBadRequest, RuleEncoding, "egress: request body says gzip but is not valid gzip"}
	}
	sw := &streamWriter{stream: st.scanner.NewStream(route.DLPAllow), budget: p.cfg.ScanBudget, oc: oc}
	buf := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(buf)
	chunk := (*buf)[:gzipChunk]
	var out int64
	for {
		n, err := zr.Read(chunk)
		out += int64(n)
		if out > maxDecompressed || out > gzipRatioFloor && out > gzipMaxRatio*in.n {
			return &refusal{http.StatusRequestEntityTooLarge, RuleTooLarge, "egress: gzip request body expands beyond what egress scans"}
		}
		if n > 0 {
			if _, werr := sw.Write(chunk[:n]); werr != nil {
				return bodyErr(werr)
			}
		}
		switch err {
		case nil:
		case io.EOF:
			return nil
		default:
			var ref *refusal
			if errors.As(err, &ref) {
				return ref
			}
			return &refusal{http.StatusBadRequest, RuleEncoding, "egress: request body says gzip but is not valid gzip"}
		}
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// spool reads the whole body into memory (up to SpoolRAM) or a temporary
// file, scanning as it goes, and returns it for forwarding only when clean.
func (p *Proxy) spool(st *state, route *contract.Route, src io.Reader, gz bool, oc *overrideCheck) (io.ReadCloser, *refusal) {
	sp := &spoolBody{ram: p.cfg.SpoolRAM}
	stream := st.scanner.NewStream(route.DLPAllow)
	scanTo := io.Writer(&streamWriter{stream: stream, budget: p.cfg.ScanBudget, oc: oc})
	var zw *io.PipeWriter
	var zdone chan error
	if gz {
		pr, pw := io.Pipe()
		zw, zdone = pw, make(chan error, 1)
		go func() {
			var err error
			if ref := p.scanGzip(st, route, pr, oc); ref != nil {
				err = ref
			} else {
				// Drain what follows the gzip stream, so the copy into
				// the pipe never blocks.
				_, err = io.Copy(io.Discard, pr)
			}
			pr.CloseWithError(err)
			zdone <- err
		}()
		scanTo = pw
	}
	_, err := io.Copy(io.MultiWriter(sp, scanTo), src)
	if zw != nil {
		zw.Close()
		if zerr := <-zdone; err == nil && zerr != nil {
			err = zerr
		}
	}
	if err != nil {
		sp.Close()
		var ref *refusal
		if errors.As(err, &ref) {
			return nil, ref
		}
		return nil, bodyErr(err)
	}
	if err := sp.rewind(); err != nil {
		sp.Close()
		return nil, bodyErr(err)
	}
	return sp, nil
}

func bodyErr(err error) *refusal {
	var ref *refusal
	if errors.As(err, &ref) {
		return ref
	}
	return &refusal{http.StatusBadRequest, RuleTooLarge, "egress: could not read the request body"}
}

// scanReader streams a body to the upstream, releasing bytes only once
// StreamOverlap scanned bytes follow them (or the body ended): a secret
// shorter than the overlap is always seen whole before its first byte
// leaves.
type scanReader struct {
	src     io.Reader
	stream  *dlp.Stream
	budget  time.Duration
	ready   []byte // scanned and releasable
	held    []byte // scanned, withheld
	err     error
	n       int64
	srcDone bool
	oc      *overrideCheck
}

func (s *scanReader) Read(p []byte) (int, error) {
	for len(s.ready) == 0 {
		if s.err != nil {
			return 0, s.err
		}
		if s.srcDone {
			if len(s.held) == 0 {
				return 0, io.EOF
			}
			s.ready, s.held = s.held, nil
			break
		}
		buf := make([]byte, 256<<10)
		k, err := io.ReadFull(s.src, buf)
		buf = buf[:k]
		if k > 0 {
			if ref := s.scanChunk(buf); ref != nil {
				s.err = ref
				return 0, ref
			}
			s.held = append(s.held, buf...)
			if over := len(s.held) - dlp.StreamOverlap; over > 0 {
				s.ready = append([]byte(nil), s.held[:over]...)
				s.held = append(s.held[:0:0], s.held[over:]...)
			}
		}
		switch {
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			s.srcDone = true
		case err != nil:
			s.err = err
		}
	}
	n := copy(p, s.ready)
	s.ready = s.ready[n:]
	s.n += int64(n)
	return n, nil
}

func (s *scanReader) scanChunk(chunk []byte) *refusal {
	ctx, cancel := context.WithTimeout(context.Background(), s.budget)
	defer cancel()
	f, err := s.stream.Write(ctx, chunk)
	if ref := scanRefusal(f, err, "request body"); ref != nil {
		return ref
	}
	return s.oc.feed(chunk)
}

func (s *scanReader) Close() error     { return nil }
func (s *scanReader) BytesRead() int64 { return s.n }

// streamWriter feeds a dlp.Stream and turns a finding into a write error.
type streamWriter struct {
	stream *dlp.Stream
	budget time.Duration
	oc     *overrideCheck
}

func (w *streamWriter) Write(b []byte) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), w.budget)
	defer cancel()
	f, err := w.stream.Write(ctx, b)
	if ref := scanRefusal(f, err, "request body"); ref != nil {
		return 0, ref
	}
	if ref := w.oc.feed(b); ref != nil {
		return 0, ref
	}
	return len(b), nil
}

// spoolBody holds a body in memory up to ram bytes, then in a temp file.
type spoolBody struct {
	ram  int64
	mem  bytes.Buffer
	file *os.File
	r    io.Reader
	n    int64
}

func (s *spoolBody) Write(b []byte) (int, error) {
	if s.file == nil && int64(s.mem.Len()+len(b)) <= s.ram {
		return s.mem.Write(b)
	}
	if s.file == nil {
		f, err := os.CreateTemp("", "egress-spool-*")
		if err != nil {
			return 0, err
		}
		_ = os.Remove(f.Name()) // unlinked: gone when closed, even on a crash
		s.file = f
		if _, err := f.Write(s.mem.Bytes()); err != nil {
			return 0, err
		}
		s.mem.Reset()
	}
	return s.file.Write(b)
}

func (s *spoolBody) rewind() error {
	if s.file == nil {
		s.r = bytes.NewReader(s.mem.Bytes())
		return nil
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return err
	}
	s.r = s.file
	return nil
}

func (s *spoolBody) Read(b []byte) (int, error) {
	n, err := s.r.Read(b)
	s.n += int64(n)
	return n, err
}

func (s *spoolBody) Close() error {
	if s.file != nil {
		return s.file.Close()
	}
	return nil
}

func (s *spoolBody) BytesRead() int64 { return s.n }

// limitedBody refuses bodies beyond max while reading.
type limitedBody struct {
	r   io.Reader
	max int64
	n   int64
}

func (l *limitedBody) Read(b []byte) (int, error) {
	n, err := l.r.Read(b)
	l.n += int64(n)
	if l.n > l.max {
		return n, &refusal{http.StatusRequestEntityTooLarge, RuleTooLarge, "egress: request body is larger than this proxy forwards"}
	}
	return n, err
}

type countedBody struct {
	*bytes.Reader
	n int64
}

func (c *countedBody) Close() error     { return nil }
func (c *countedBody) BytesRead() int64 { return c.n }

func quoteToken(s string) string {
	if len(s) > 32 {
		s = s[:32]
	}
	return "\"" + strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' {
			return '?'
		}
		return r
	}, s) + "\""
}

// deadlineBody gives every read of a request body a deadline (slowloris:
// a body trickled a byte at a time, or stalled, would otherwise hold a
// handler and its buffers for as long as the agent likes). The deadline is
// cleared once the body ends, or by done, since net/http keeps reading the
// connection in the background after the body and a stale deadline there
// would cancel the request.
type deadlineBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	cleared bool
}

func (d *deadlineBody) Read(b []byte) (int, error) {
	if d.cleared {
		return d.ReadCloser.Read(b)
	}
	_ = d.rc.SetReadDeadline(time.Now().Add(d.timeout))
	n, err := d.ReadCloser.Read(b)
	if err == io.EOF {
		d.done()
	}
	// (After any other error the deadline stays: what net/http reads of
	// the rest of the body after the handler must not hang either.)
	return n, err
}

func (d *deadlineBody) done() {
	if !d.cleared {
		d.cleared = true
		_ = d.rc.SetReadDeadline(time.Time{})
	}
}

func (d *deadlineBody) Close() error {
	d.done()
	return d.ReadCloser.Close()
}
