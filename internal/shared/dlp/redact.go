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
			pats = append(pats, string(bytes.ToLower(f.form)))
			r.maxLen = max(r.maxLen, len(f.form))
		}
	}
	if len(pats) == 0 {
		return nil
	}
	r.m = newMatcher(pats)
	return r
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
