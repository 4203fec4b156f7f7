package dlp

import "bytes"

// Receivers decode what they are sent: a query or form value's %XX escapes
// (whatever the Content-Type says, and even when another escape in the same
// string is invalid, as Go's url.ParseQuery and most frameworks do), and a
// JSON string's \uXXXX escapes. A secret written in those escapes holds no
// byte of the raw token, so Scan also scans the data as a receiver would
// decode it. Only the regions around escapes are decoded: a token or
// keyword hidden by escaping must contain one, and ordinary traffic (JSON
// with no \u escapes, plain text) costs one byte search.

// decodeRadius is how far around an escape the decoded view reaches. It
// covers a rule's keyword windows (windowBefore, windowAfter) and an
// escaped token of any curated length.
const decodeRadius = 1 << 10

// decodeRounds bounds nested decoding ("%2567" is "%67" is "g").
const decodeRounds = 2

// decodedViews returns the decoded regions of data that hold an escape,
// each decoded up to decodeRounds times, or nil if data has none.
func decodedViews(data []byte) [][]byte {
	var views [][]byte
	f := &escapeFinder{data: data}
	for start := 0; start < len(data); {
		i := f.next(start)
		if i < 0 {
			break
		}
		from := max(0, i-decodeRadius)
		if from < start {
			from = start
		}
		to := min(len(data), i+decodeRadius)
		// Extend while more escapes follow within the radius.
		for {
			j := f.next(to - decodeRadius + 1)
			if j < 0 || j >= to {
				break
			}
			to = min(len(data), j+decodeRadius)
			if to == len(data) {
				break
			}
		}
		v, decoded := data[from:to], false
		for r := 0; r < decodeRounds; r++ {
			d, ok := decodeEscapes(v)
			if !ok {
				break
			}
			v, decoded = d, true
		}
		if decoded {
			views = append(views, v)
		}
		start = to
	}
	return views
}

// escapeFinder finds the escapes decodeEscapes would decode, with the
// vectorised bytes.IndexByte: traffic without '%' or '\\' costs two
// passes at memory speed. It remembers the next '%' and '\\' it found, so
// calls with increasing from cost O(len(data)) in all.
type escapeFinder struct {
	data    []byte
	pct, bs int // next '%' / '\\' at or after the last from; -1 unknown
	started bool
}

// next returns the index at or after from of the next escape, or -1.
// Successive calls must not decrease from.
func (f *escapeFinder) next(from int) int {
	if !f.started {
		f.pct, f.bs, f.started = -1, -1, true
	}
	from = max(0, from)
	for from < len(f.data) {
		if f.pct < from {
			f.pct = indexFrom(f.data, from, '%')
		}
		if f.bs < from {
			f.bs = indexFrom(f.data, from, '\\')
		}
		i := min(f.pct, f.bs)
		if i >= len(f.data) {
			return -1
		}
		if escapeAt(f.data, i) {
			return i
		}
		from = i + 1
	}
	return -1
}

// indexFrom returns the index of c at or after from, or len(b).
func indexFrom(b []byte, from int, c byte) int {
	if i := bytes.IndexByte(b[from:], c); i >= 0 {
		return from + i
	}
	return len(b)
}

// escapeAt reports whether an escape decodeEscapes decodes starts at i.
func escapeAt(data []byte, i int) bool {
	switch data[i] {
	case '%':
		return i+2 < len(data) && isHex(data[i+1]) && isHex(data[i+2])
	case '\\':
		return i+1 < len(data) && data[i+1] == '/' ||
			i+5 < len(data) && data[i+1] == 'u' && isHex(data[i+2]) && isHex(data[i+3]) && isHex(data[i+4]) && isHex(data[i+5])
	}
	return false
}

// decodeEscapes decodes every valid %XX, \uXXXX (to UTF-8; a surrogate
// pair to one rune) and \/ in data, leaving anything else as it is. ok is
// false if there was nothing to decode.
func decodeEscapes(data []byte) ([]byte, bool) {
	if (&escapeFinder{data: data}).next(0) < 0 {
		return nil, false
	}
	out := make([]byte, 0, len(data))
	for i := 0; i < len(data); {
		c := data[i]
		switch {
		case c == '%' && i+2 < len(data) && isHex(data[i+1]) && isHex(data[i+2]):
			out = append(out, unhex(data[i+1])<<4|unhex(data[i+2]))
			i += 3
		case c == '\\' && i+1 < len(data) && data[i+1] == '/':
			out = append(out, '/')
			i += 2
		case c == '\\' && i+5 < len(data) && data[i+1] == 'u' && isHex(data[i+2]) && isHex(data[i+3]) && isHex(data[i+4]) && isHex(data[i+5]):
			r := rune(hex4(data[i+2:]))
			i += 6
			if 0xd800 <= r && r < 0xdc00 && i+5 < len(data) && data[i] == '\\' && data[i+1] == 'u' &&
				isHex(data[i+2]) && isHex(data[i+3]) && isHex(data[i+4]) && isHex(data[i+5]) {
				if lo := rune(hex4(data[i+2:])); 0xdc00 <= lo && lo < 0xe000 {
					r = 0x10000 + (r-0xd800)<<10 + (lo - 0xdc00)
					i += 6
				}
			}
			out = appendRune(out, r)
		default:
			out = append(out, c)
			i++
		}
	}
	return out, true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func hex4(b []byte) uint16 {
	return uint16(unhex(b[0]))<<12 | uint16(unhex(b[1]))<<8 | uint16(unhex(b[2]))<<4 | uint16(unhex(b[3]))
}

func appendRune(b []byte, r rune) []byte {
	switch {
	case r < 0x80:
		return append(b, byte(r))
	case r < 0x800:
		return append(b, 0xc0|byte(r>>6), 0x80|byte(r)&0x3f)
	case r < 0x10000:
		return append(b, 0xe0|byte(r>>12), 0x80|byte(r>>6)&0x3f, 0x80|byte(r)&0x3f)
	}
	return append(b, 0xf0|byte(r>>18), 0x80|byte(r>>12)&0x3f, 0x80|byte(r>>6)&0x3f, 0x80|byte(r)&0x3f)
}
