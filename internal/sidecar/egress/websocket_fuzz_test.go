package egress

import (
	"bufio"
	"bytes"
	"testing"
)

// FuzzReadWSFrame feeds arbitrary bytes to the frame reader: it must never
// panic or read past its limit, and a frame it accepts must re-encode to
// the bytes it consumed (its raw form is what egress forwards).
func FuzzReadWSFrame(f *testing.F) {
	f.Add(wsFrame(0x1, []byte("hello"), true))
	f.Add(wsFrame(0x2, bytes.Repeat([]byte{7}, 300), false))
	f.Add(wsFrame(0x8, []byte{0x03, 0xe8}, true))
	f.Add([]byte{0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		raw, op, fin, payload, err := readWSFrame(bufio.NewReader(bytes.NewReader(data)), 1<<16)
		if err != nil {
			return
		}
		if !bytes.HasPrefix(data, raw) {
			t.Fatal("raw frame is not the consumed input")
		}
		if len(payload) > 1<<16 || op > 0xf || (data[0]&0x80 != 0) != fin {
			t.Fatalf("bad frame fields: op %d fin %v len %d", op, fin, len(payload))
		}
		masked := data[1]&0x80 != 0
		again := wsFrame(op, payload, masked)
		// Only a short, unmasked, final frame has one encoding (longer
		// lengths may be sent non-minimally, which egress forwards as is).
		if !masked && data[0]&0x70 == 0 && fin && data[1]&0x7f < 126 && !bytes.Equal(again, raw) {
			t.Fatalf("re-encoding differs: %x vs %x", again, raw)
		}
	})
}
