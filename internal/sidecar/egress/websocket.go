package egress

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/shared/dlp"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// maxWSMessage bounds one websocket message (and so one frame) egress
// holds to scan or scrub. A frame's payload is read as it arrives, never
// allocated at its declared length.
const maxWSMessage = 4 << 20

// wantsUpgrade reports whether a request asks to switch protocols at all:
// an Upgrade header, or Connection naming upgrade. Only a real websocket
// handshake (isWebSocket) may go ahead; any other upgrade would turn the
// connection into a raw tunnel egress cannot read.
func wantsUpgrade(r *http.Request) bool {
	return len(r.Header.Values("Upgrade")) > 0 || headerHasToken(r.Header, "Connection", "upgrade")
}

// isWebSocket reports whether r is a websocket opening handshake (RFC 6455
// §4.1): a GET over HTTP/1.1 with no body, one Upgrade token "websocket",
// Connection naming upgrade, a Sec-WebSocket-Key and version 13. Anything
// else that asks to upgrade is refused, so an Upgrade header can never
// carry a body past the body scan (the websocket path does not read one).
func isWebSocket(r *http.Request) bool {
	return r.Method == http.MethodGet && r.ProtoMajor == 1 && r.ProtoMinor >= 1 &&
		(r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 && len(r.TransferEncoding) == 0) &&
		headerHasToken(r.Header, "Connection", "upgrade") &&
		len(r.Header.Values("Upgrade")) == 1 && strings.EqualFold(strings.TrimSpace(r.Header.Get("Upgrade")), "websocket") &&
		r.Header.Get("Sec-WebSocket-Key") != "" && strings.TrimSpace(r.Header.Get("Sec-WebSocket-Version")) == "13"
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// websocket proxies an upgrade on a declared route. The messages the agent
// sends are reassembled and DLP-scanned before any of their frames go on;
// a finding closes both sides with 1008. Compression extensions are
// stripped from the handshake so frames stay readable.
func (p *Proxy) websocket(w http.ResponseWriter, r *http.Request, route *contract.Route, info *forwardInfo) {
	if r.ProtoMajor != 1 {
		p.refuse(w, *info.rec, &refusal{http.StatusBadRequest, RuleBadHost, "egress: websockets are proxied over HTTP/1.1 only"})
		return
	}
	// A websocket holds a connection open like a tunnel and counts
	// against the same cap. (One inside a MITM'd tunnel holds its slot.)
	if t, _ := r.Context().Value(targetKey).(*target); t == nil {
		select {
		case p.tunnels <- struct{}{}:
			defer func() { <-p.tunnels }()
		default:
			p.refuse(w, *info.rec, &refusal{http.StatusServiceUnavailable, RuleTunnelCap, "egress: too many open tunnels; close some connections and retry"})
			return
		}
	}
	out := r.Clone(context.WithValue(r.Context(), allowKey, info.st.routes.SSRFPrefixes(route)))
	out.URL = &url.URL{Scheme: info.scheme, Host: info.authority, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	out.RequestURI = ""
	out.Header.Del("Sec-WebSocket-Extensions")
	if info.auth != "" {
		out.Header.Set("Authorization", info.auth)
	}
	resp, err := p.tr.RoundTrip(out)
	if err != nil {
		p.refuse(w, *info.rec, errorRefusal(err))
		return
	}
	scrubResponse(resp, info.st.redact)
	if resp.StatusCode != http.StatusSwitchingProtocols {
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		n, _ := io.Copy(w, resp.Body)
		p.audit.Write(info.rec.done(resp.StatusCode, RuleAllow, "", 0, n))
		return
	}
	upstream, ok := resp.Body.(io.ReadWriteCloser)
	if !ok || resp.Header.Get("Sec-WebSocket-Extensions") != "" {
		resp.Body.Close()
		p.refuse(w, *info.rec, &refusal{http.StatusBadGateway, RuleUpstream, "egress: upstream websocket handshake is unusable (extensions or no stream)"})
		return
	}
	defer upstream.Close()
	client, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		p.refuse(w, *info.rec, &refusal{http.StatusInternalServerError, RuleUpstream, "egress: cannot take over the connection for a websocket"})
		return
	}
	defer client.Close()
	if t, _ := r.Context().Value(targetKey).(*target); t != nil {
		// The inner server no longer tracks a hijacked conn: it never
		// reaches StateClosed, so its slot and entry are freed here.
		p.targets.Delete(client)
		defer t.release()
	}
	resp.Body = nil
	if err := resp.Write(client); err != nil {
		return
	}
	// Neither side may hold the socket silent for longer than the idle
	// timeout: every whole frame, either way, rearms it.
	idle := time.AfterFunc(p.cfg.IdleTimeout, func() {
		client.Close()
		upstream.Close()
	})
	defer idle.Stop()
	touch := func() { idle.Reset(p.cfg.IdleTimeout) }
	var wg sync.WaitGroup
	var down int64
	wg.Add(1)
	go func() { // upstream → agent
		defer wg.Done()
		down = relayDown(client, upstream, info.st.redact, info.auth != "", touch)
		client.Close()
	}()
	wsf := &wsForwarder{src: brw.Reader, dst: upstream, client: client, scanner: info.st.scanner, exempt: route.DLPAllow, budget: p.cfg.ScanBudget, touch: touch}
	ref := wsf.run()
	upstream.Close()
	client.Close()
	wg.Wait()
	rule, reason, status := RuleAllow, "", http.StatusSwitchingProtocols
	if ref != nil {
		rule, reason, status = ref.rule, ref.reason, ref.status
	}
	p.audit.Write(info.rec.done(status, rule, reason, wsf.up, down))
}

// wsForwarder relays the agent's frames to the upstream after scanning.
type wsForwarder struct {
	src     *bufio.Reader
	dst     io.Writer
	client  io.Writer
	scanner *dlp.Scanner
	exempt  []string
	budget  time.Duration
	up      int64
	touch   func() // called after each frame read
}

// run relays until either side closes; it returns the refusal that closed
// the socket, or nil.
func (f *wsForwarder) run() *refusal {
	var pending []byte // raw frames of the message being assembled
	var msg []byte     // its unmasked payload
	for {
		raw, op, fin, payload, err := readWSFrame(f.src, maxWSMessage)
		if err != nil {
			if errors.Is(err, errWSTooBig) {
				ref := &refusal{http.StatusForbidden, RuleTooLarge, "egress: websocket message too large to scan"}
				f.closeBoth(1009, ref.reason)
				return ref
			}
			return nil
		}
		if f.touch != nil {
			f.touch()
		}
		if op >= 0x8 { // control frames: never fragmented, forwarded at once
			if ref := f.scan(payload); ref != nil {
				f.closeBoth(1008, ref.reason)
				return ref
			}
			if err := f.write(raw); err != nil || op == 0x8 {
				return nil
			}
			continue
		}
		if len(msg)+len(payload) > maxWSMessage {
			ref := &refusal{http.StatusForbidden, RuleTooLarge, "egress: websocket message too large to scan"}
			f.closeBoth(1009, ref.reason)
			return ref
		}
		pending = append(pending, raw...)
		msg = append(msg, payload...)
		if !fin {
			continue
		}
		if ref := f.scan(msg); ref != nil {
			f.closeBoth(1008, ref.reason)
			return ref
		}
		if err := f.write(pending); err != nil {
			return nil
		}
		pending, msg = pending[:0], msg[:0]
	}
}

func (f *wsForwarder) write(b []byte) error {
	n, err := f.dst.Write(b)
	f.up += int64(n)
	return err
}

func (f *wsForwarder) scan(data []byte) *refusal {
	if len(data) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), f.budget)
	defer cancel()
	found, err := f.scanner.Scan(ctx, data, f.exempt)
	return scanRefusal(found, err, "websocket message")
}

// closeBoth sends a close frame with code to the agent (unmasked, as a
// server) and to the upstream (masked, as a client).
func (f *wsForwarder) closeBoth(code uint16, reason string) {
	if len(reason) > 120 {
		reason = reason[:120]
	}
	payload := binary.BigEndian.AppendUint16(nil, code)
	payload = append(payload, reason...)
	_, _ = f.client.Write(wsFrame(0x8, payload, false))
	_, _ = f.dst.Write(wsFrame(0x8, payload, true))
}

var errWSTooBig = errors.New("websocket frame too large")

// readWSFrame reads one frame; it returns the raw bytes as received, the
// opcode, FIN and the unmasked payload.
func readWSFrame(r *bufio.Reader, max int64) (raw []byte, op byte, fin bool, payload []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(r, h[:]); err != nil {
		return
	}
	raw = append(raw, h[:]...)
	fin, op = h[0]&0x80 != 0, h[0]&0x0f
	masked := h[1]&0x80 != 0
	n := int64(h[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		if _, err = io.ReadFull(r, ext[:]); err != nil {
			return
		}
		raw = append(raw, ext[:]...)
		n = int64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		if _, err = io.ReadFull(r, ext[:]); err != nil {
			return
		}
		raw = append(raw, ext[:]...)
		u := binary.BigEndian.Uint64(ext[:])
		if u > uint64(max) {
			err = errWSTooBig
			return
		}
		n = int64(u)
	}
	if n > max {
		err = errWSTooBig
		return
	}
	var key [4]byte
	if masked {
		if _, err = io.ReadFull(r, key[:]); err != nil {
			return
		}
		raw = append(raw, key[:]...)
	}
	// The payload is read as it arrives: a header declaring megabytes and
	// then nothing costs nothing.
	start := len(raw)
	buf := bytes.NewBuffer(raw)
	if _, err = io.CopyN(buf, r, n); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return
	}
	raw = buf.Bytes()
	payload = append([]byte(nil), raw[start:]...)
	if masked {
		for i := range payload {
			payload[i] ^= key[i%4]
		}
	}
	return raw, op, fin, payload, nil
}

// relayDown copies the upstream's frames to the agent. On a route with a
// credential (scrub) it reassembles each message, masks held secrets in it
// (in any encoding dlp.Redactor knows) and sends it as one frame; a secret
// split over fragments is still seen whole. Elsewhere it copies bytes. It
// returns the bytes written to the agent.
func relayDown(client io.Writer, upstream io.Reader, red *dlp.Redactor, scrub bool, touch func()) int64 {
	if !scrub || red == nil {
		n, _ := io.Copy(client, touchReader{upstream, touch})
		return n
	}
	br := bufio.NewReader(upstream)
	var n int64
	var msg []byte
	var msgOp byte
	for {
		_, op, fin, payload, err := readWSFrame(br, maxWSMessage)
		if err != nil {
			return n
		}
		touch()
		mask := func(b []byte) { red.Each(b, func(s, e int) { copy(b[s:e], scrubMask(e-s)) }) }
		if op >= 0x8 {
			mask(payload)
			k, err := client.Write(wsFrame(op, payload, false))
			n += int64(k)
			if err != nil || op == 0x8 {
				return n
			}
			continue
		}
		if op != 0 {
			msgOp = op
		}
		if len(msg)+len(payload) > maxWSMessage {
			return n
		}
		msg = append(msg, payload...)
		if !fin {
			continue
		}
		mask(msg)
		k, err := client.Write(wsFrame(msgOp, msg, false))
		n += int64(k)
		if err != nil {
			return n
		}
		msg = msg[:0]
	}
}

// touchReader calls touch after every read that returned data.
type touchReader struct {
	r     io.Reader
	touch func()
}

func (t touchReader) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if n > 0 {
		t.touch()
	}
	return n, err
}

// wsFrame builds a single final frame.
func wsFrame(op byte, payload []byte, mask bool) []byte {
	b := []byte{0x80 | op}
	m := byte(0)
	if mask {
		m = 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, m|byte(n))
	case n <= 0xffff:
		b = append(b, m|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, m|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if !mask {
		return append(b, payload...)
	}
	var key [4]byte
	_, _ = rand.Read(key[:])
	b = append(b, key[:]...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	return b
}
