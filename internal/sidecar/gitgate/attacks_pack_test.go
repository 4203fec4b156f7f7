package gitgate

import (
	"bytes"
	"compress/zlib"
	"crypto/sha1"
	binenc "encoding/binary"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// packObject encodes one pack entry: the type-and-size header, the base
// id for a ref delta, and the zlib'd data.
func packObject(typ byte, data []byte, base []byte) []byte {
	var b bytes.Buffer
	size := len(data)
	c := typ<<4 | byte(size&0x0f)
	size >>= 4
	for size > 0 {
		b.WriteByte(c | 0x80)
		c = byte(size & 0x7f)
		size >>= 7
	}
	b.WriteByte(c)
	b.Write(base)
	zw := zlib.NewWriter(&b)
	_, _ = zw.Write(data)
	_ = zw.Close()
	return b.Bytes()
}

func deltaVarint(n int) []byte {
	var out []byte
	for {
		c := byte(n & 0x7f)
		n >>= 7
		if n == 0 {
			return append(out, c)
		}
		out = append(out, c|0x80)
	}
}

// deltaBomb returns a pack of a 64 KiB blob and a ref delta on it whose
// result is result bytes: one-byte copy instructions (0x80: copy 64 KiB
// from offset 0), a few KB that zlib makes a few hundred bytes. It also
// returns the blob's id.
func deltaBomb(result int) (pack []byte, baseID string) {
	base := bytes.Repeat([]byte("a"), 1<<16)
	sum := sha1.Sum(append([]byte("blob 65536\x00"), base...))
	delta := append(deltaVarint(len(base)), deltaVarint(result)...)
	delta = append(delta, bytes.Repeat([]byte{0x80}, result>>16)...)
	var b bytes.Buffer
	b.WriteString("PACK")
	_ = binenc.Write(&b, binenc.BigEndian, uint32(2))
	_ = binenc.Write(&b, binenc.BigEndian, uint32(2))
	b.Write(packObject(3, base, nil))
	b.Write(packObject(7, delta, sum[:]))
	trailer := sha1.Sum(b.Bytes())
	b.Write(trailer[:])
	return b.Bytes(), string(hexID(sum[:]))
}

func hexID(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&0x0f])
	}
	return string(out)
}

// TestDeltaBombRefused (#7b): --max-pack counts compressed bytes, and a
// delta's result is held whole by index-pack: a pack of a few hundred
// bytes made it take GiBs. index-pack runs under a memory limit, and the
// push is refused saying why.
func TestDeltaBombRefused(t *testing.T) {
	f := newPushFixture(t, func(c *Config, _ *contract.GateFile) { c.UnpackMemory = 128 << 20 })
	before := refsOf(t, f.bare)
	pack, base := deltaBomb(512 << 20)
	if len(pack) > 4096 {
		t.Fatalf("the bomb is %d bytes", len(pack))
	}
	resp := rawPush(t, f.g, "demo", []string{zeroID + " " + base + " refs/tags/bomb"}, pack)
	if !strings.Contains(resp, "push refused: an object in the pack expands to more than this gate can hold (128 MiB)") ||
		!strings.Contains(resp, "ng refs/tags/bomb pack needs too much memory") {
		t.Fatalf("response:\n%q", resp)
	}
	f.unchanged(t, before)
	if qs := quarantines(t, f.g); len(qs) > 0 {
		t.Fatalf("quarantines left: %v", qs)
	}
	// An ordinary push still fits.
	commitFile(t, f.work, "ok.txt", "ok\n", "ok")
	git(t, f.work, "push", "--quiet", "origin", "main")
	f.sameRefs(t)
}
