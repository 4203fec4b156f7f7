package egress

import (
	"bufio"
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

// maxWSMessage bounds one websocket message egress holds to scan.
const maxWSMessage = 16 << 20

func isWebSocket(r *http.Request) bool {
	return headerHasToken(r.Header, "Connection", "upgrade") && strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
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
	secrets := info.st.values
	scrubResponse(resp, secrets)
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
		defer t.release() // the inner server no longer tracks a hijacked conn
	}
	resp.Body = nil
	if err := resp.Write(client); err != nil {
		return
	}
	var wg sync.WaitGroup
	var down int64
	wg.Add(1)
	go func() { // upstream → agent: passed through
		defer wg.Done()
		down, _ = io.Copy(client, upstream)
		client.Close()
	}()
	wsf := &wsForwarder{src: brw.Reader, dst: upstream, client: client, scanner: info.st.scanner, exempt: route.DLPAllow, budget: p.cfg.ScanBudget}
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
		pending = append(pending, raw...)
		msg = append(msg, payload...)
		if len(msg) > maxWSMessage {
			ref := &refusal{http.StatusForbidden, RuleTooLarge, "egress: websocket message too large to scan"}
			f.closeBoth(1009, ref.reason)
			return ref
		}
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
	start := len(raw)
	raw = append(raw, make([]byte, n)...)
	if _, err = io.ReadFull(r, raw[start:]); err != nil {
		return
	}
	payload = append([]byte(nil), raw[start:]...)
	if masked {
		for i := range payload {
			payload[i] ^= key[i%4]
		}
	}
	return raw, op, fin, payload, nil
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
