package dlp

import (
	"bytes"
	"strings"
)

// A Redactor finds held secrets in their common encodings (the forms Scan
// recognises on the way out, plus every byte percent-encoded in either
// case) so that a response can be scrubbed of them. One pass over the data
// finds every form. It is safe for concurrent use.
type Redactor struct {
	m      *matcher
	forms  []secretForm
	maxLen int
	wm     *wuManber // the fast search, when every form is at least 2 bytes
}

// NewRedactor builds a Redactor for the given secret values; nil if there
// are none.
func NewRedactor(secrets [][]byte) *Redactor {
	r := &Redactor{}
	var pats []string
	seen := map[string]bool{}
	for _, v := range secrets {
		if len(v) == 0 {
			continue
		}
		forms := secretForms(v)
		if len(v) >= minEncodedFormLen {
			forms = append(forms, secretForm{form: []byte(percentAll(v)), fold: true})
		}
		for _, f := range forms {
			if seen[string(f.form)] {
				continue
			}
			seen[string(f.form)] = true
			r.forms = append(r.forms, f)
			pats = append(pats, asciiLower(f.form))
			r.maxLen = max(r.maxLen, len(f.form))
		}
	}
	if len(pats) == 0 {
		return nil
	}
	r.m = newMatcher(pats)
	r.wm = newWuManber(r.forms)
	return r
}

// wuManber is a multi-pattern Wu-Manber search over ASCII-case-folded
// bytes: it slides a window as long as the shortest form and looks at the
// window's last two bytes; a pair that ends no form's window-long prefix
// lets it skip ahead by up to the window's length. Responses are mostly
// data no form resembles, so it reads a few bytes per window: several
// times faster than stepping through every byte.
type wuManber struct {
	m     int                // window: the shortest form's length, at most 255
	shift [1 << 16]uint8     // folded pair at the window's end → safe skip
	cand  map[uint16][]int32 // folded pair → forms whose prefix ends so
}

func newWuManber(forms []secretForm) *wuManber {
	m := 255
	for _, f := range forms {
		m = min(m, len(f.form))
	}
	if m < 2 {
		return nil
	}
	w := &wuManber{m: m, cand: map[uint16][]int32{}}
	for i := range w.shift {
		w.shift[i] = uint8(m - 1)
	}
	for fi, f := range forms {
		for j := 0; j+1 < m; j++ {
			bg := uint16(foldByte(f.form[j]))<<8 | uint16(foldByte(f.form[j+1]))
			w.shift[bg] = min(w.shift[bg], uint8(m-2-j))
		}
		bg := uint16(foldByte(f.form[m-2]))<<8 | uint16(foldByte(f.form[m-1]))
		w.cand[bg] = append(w.cand[bg], int32(fi))
	}
	return w
}

func foldByte(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// percentAll percent-encodes every byte of v.
func percentAll(v []byte) string {
	var b strings.Builder
	for _, c := range v {
		const digits = "0123456789ABCDEF"
		b.WriteByte('%')
		b.WriteByte(digits[c>>4])
		b.WriteByte(digits[c&15])
	}
	return b.String()
}

// Each calls fn(start, end) for every occurrence of a secret form in data,
// in order of their ends; fn may overwrite data[start:end].
func (r *Redactor) Each(data []byte, fn func(start, end int)) {
	if r == nil {
		return
	}
	if w := r.wm; w != nil {
		for pos := w.m - 1; pos < len(data); {
			bg := uint16(foldByte(data[pos-1]))<<8 | uint16(foldByte(data[pos]))
			if s := w.shift[bg]; s > 0 {
				pos += int(s)
				continue
			}
			start := pos - (w.m - 1)
			for _, fi := range w.cand[bg] {
				f := r.forms[fi]
				end := start + len(f.form)
				if end <= len(data) && (bytes.Equal(data[start:end], f.form) || f.fold && bytes.EqualFold(data[start:end], f.form)) {
					fn(start, end)
				}
			}
			pos++
		}
		return
	}
	r.m.walk(data, func(end int, p int32) {
		f := r.forms[p]
		start := end - len(f.form)
		if bytes.Equal(data[start:end], f.form) || f.fold && bytes.EqualFold(data[start:end], f.form) {
			fn(start, end)
		}
	})
}

// PartialTail returns the length of the longest suffix of data that is a
// proper prefix of a secret form (in the form's case rules): bytes a
// stream scrubber must hold until it sees what follows.
func (r *Redactor) PartialTail(data []byte) int {
	if r == nil {
		return 0
	}
	best := 0
	for _, f := range r.forms {
		first := f.form[0] | 0x20
		for k := min(len(f.form)-1, len(data)); k > best; k-- {
			if c := data[len(data)-k]; c != f.form[0] && !(f.fold && c|0x20 == first) {
				continue // cheap reject on the first byte
			}
			tail, pre := data[len(data)-k:], f.form[:k]
			if bytes.Equal(tail, pre) || f.fold && bytes.EqualFold(tail, pre) {
				best = k
				break
			}
		}
	}
	return best
}

// MaxLen is the length of the longest form.
func (r *Redactor) MaxLen() int {
	if r == nil {
		return 0
	}
	return r.maxLen
}

// asciiLower lower-cases ASCII letters only: the automaton folds ASCII
// case, and a secret's other bytes (which need not be UTF-8) must stay as
// they are (bytes.ToLower would turn invalid UTF-8 into U+FFFD).
func asciiLower(b []byte) string {
	out := make([]byte, len(b))
	for i, c := range b {
		out[i] = foldByte(c)
	}
	return string(out)
}
