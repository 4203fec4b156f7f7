package dlp

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/zricethezav/gitleaks/v8/config"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/regexp"
)

// Window sizes around a keyword hit. gitleaks keywords sit inside or just
// before the token (OpenAI's about 82 bytes in), so 256 bytes before and
// 512 after cover every curated rule; a private key's body runs for
// kilobytes after its "-----BEGIN" keyword.
const (
	windowBefore    = 256
	windowAfter     = 512
	privateKeyAfter = 16 << 10
	// maxWindow caps a merged window. Small windows keep Go's regexp on its
	// backtracking matcher, several times faster than the NFA it uses on
	// long inputs; consecutive windows overlap by a full hit window, so no
	// match is lost at a split.
	maxWindow = 2 << 10
	// privateKeyNear is how close "private key" must follow "-----begin"
	// for the private-key rule to look further.
	privateKeyNear = 128
	// tokenRunAfter and tokenRunBefore: every curated token continues for
	// at least 10 token characters after its keyword (or, were a keyword
	// at its end, 16 before), so a hit without such a run cannot be one
	// and its regex need not run. Prose ("Asia", "the npm_ prefix") and
	// keyword-stuffed input are ruled out here, cheaply; and a token cannot
	// extend past its run, so the regex sees only the run, not the 768
	// bytes around every hit.
	tokenRunAfter     = 8
	tokenRunBefore    = 16
	minEncodedFormLen = 8 // shorter secrets are matched raw only
)

// ErrBudget means a scan did not finish within its context's deadline.
// Callers treat it as a finding: fail closed.
var ErrBudget = errors.New("dlp: scan did not finish in time")

// A Finding is one secret found. It never holds the secret itself.
type Finding struct {
	// RuleID is the gitleaks rule id, or "held-secret:NAME" for an exact
	// match of a secret the scanner was given.
	RuleID string
	// Offset is where in the scanned bytes the window holding the match
	// starts (for held secrets, the match itself).
	Offset int
}

// HeldSecretRule is the RuleID prefix of exact-value findings.
const HeldSecretRule = "held-secret:"

// Options configure a Scanner.
type Options struct {
	// RuleIDs names the gitleaks rules to run; nil means DefaultRuleIDs.
	RuleIDs []string
	// Secrets maps a secret's name to its value; every value (and its
	// URL-escaped, base64 and hex forms) is a finding wherever it appears.
	// Nil: none.
	Secrets map[string][]byte
	// Observe, if set, receives every finding of a gitleaks rule instead
	// of Scan returning it, and the scan goes on (a routes file's
	// dlp.action: log). Held secrets are always returned. Nil: findings
	// are returned.
	Observe func(Finding)
}

// Scanner finds secrets. It is safe for concurrent use; build one and
// share it (building costs milliseconds).
type Scanner struct {
	rules     []scanRule
	prefilter *matcher
	// keywordRules[i] lists the rules owning keyword pattern i; patterns
	// past the keywords are held-secret forms (heldForms[i-len(keywordRules)]).
	keywordRules [][]int
	heldForms    []heldForm
	observe      func(Finding)
}

type scanRule struct {
	id  string
	re  *regexp.Regexp   // the rule's regex: a cheap first check
	det *detect.Detector // a detector holding only this rule: the full check
}

// heldForm is one encoding of a held secret, matched exactly (the
// automaton folds case; a hit is confirmed byte for byte).
type heldForm struct {
	name string
	form []byte
	fold bool // confirm ignoring ASCII case (hex)
}

// New builds a Scanner.
func New(opts Options) (*Scanner, error) {
	ids := opts.RuleIDs
	if ids == nil {
		ids = DefaultRuleIDs
	}
	rules, allowlists, err := selectRules(ids)
	if err != nil {
		return nil, err
	}
	s := &Scanner{observe: opts.Observe}
	keywordIndex := map[string]int{}
	var keywords []string
	for i, r := range rules {
		s.rules = append(s.rules, scanRule{id: r.RuleID, re: r.Regex, det: ruleDetector(r, allowlists)})
		for _, k := range r.Keywords {
			k = strings.ToLower(k)
			idx, ok := keywordIndex[k]
			if !ok {
				idx = len(keywords)
				keywordIndex[k] = idx
				keywords = append(keywords, k)
				s.keywordRules = append(s.keywordRules, nil)
			}
			if !slices.Contains(s.keywordRules[idx], i) {
				s.keywordRules[idx] = append(s.keywordRules[idx], i)
			}
		}
	}
	names := make([]string, 0, len(opts.Secrets))
	for name := range opts.Secrets {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		v := opts.Secrets[name]
		if len(v) == 0 {
			return nil, fmt.Errorf("dlp: secret %q is empty", name)
		}
		for _, f := range secretForms(v) {
			s.heldForms = append(s.heldForms, heldForm{name: name, form: f.form, fold: f.fold})
			keywords = append(keywords, asciiLower(f.form))
		}
	}
	// One pass finds rule keywords and held secrets alike.
	s.prefilter = newMatcher(keywords)
	return s, nil
}

func ruleDetector(r config.Rule, allowlists []*config.Allowlist) *detect.Detector {
	kw := map[string]struct{}{}
	for _, k := range r.Keywords {
		kw[strings.ToLower(k)] = struct{}{}
	}
	d := detect.NewDetector(config.Config{
		Rules:        map[string]config.Rule{r.RuleID: r},
		Keywords:     kw,
		OrderedRules: []string{r.RuleID},
		Allowlists:   allowlists,
	})
	// A "gitleaks:allow" comment on the line would otherwise hide the
	// finding: the agent writes the traffic, so it must not be able to.
	d.IgnoreGitleaksAllow = true
	return d
}

// secretForm is one encoding of a held secret that Scan recognises.
type secretForm struct {
	form []byte
	fold bool // the encoding is case-insensitive (hex)
}

// secretForms returns the encodings in which a held secret is looked for:
// raw; hex in either case; base64 and base64url at every alignment (the
// secret after a prefix, as in Basic credentials "user:TOKEN", encodes to
// different characters depending on the prefix's length mod 3: each
// alignment's form is the run of characters that depend on the secret's
// bytes only). Percent-encoded forms, in any case, are found by scanning
// decoded views (decodedViews).
func secretForms(v []byte) []secretForm {
	forms := []secretForm{{form: v}}
	if len(v) < minEncodedFormLen {
		return forms
	}
	add := func(f string, fold bool) {
		if len(f) >= minEncodedFormLen && !slices.ContainsFunc(forms, func(x secretForm) bool { return string(x.form) == f }) {
			forms = append(forms, secretForm{form: []byte(f), fold: fold})
		}
	}
	add(url.QueryEscape(string(v)), false)
	add(url.PathEscape(string(v)), false)
	add(hex.EncodeToString(v), true)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		for k := 0; k < 3; k++ {
			add(base64Aligned(enc, v, k), false)
		}
	}
	return forms
}

// base64Aligned returns the base64 characters of v encoded after k bytes
// of anything that depend on v's bytes alone.
func base64Aligned(enc *base64.Encoding, v []byte, k int) string {
	buf := make([]byte, k+len(v))
	copy(buf[k:], v)
	s := enc.EncodeToString(buf)
	first := (8*k + 5) / 6       // the first character whose bits are all v's
	last := 8 * (k + len(v)) / 6 // one past the last such character
	if first >= last {
		return ""
	}
	return s[first:last]
}

// Scan returns the first finding in data whose rule is not exempt, or nil.
// exempt lists rule ids the route allows (held secrets cannot be exempted).
// It returns ErrBudget when ctx ends first.
//
// Data is scanned as it is and, around any %XX, \uXXXX or \/ escape, as a
// receiver would decode it (decodedViews): percent- or JSON-escaping a
// token does not hide it.
func (s *Scanner) Scan(ctx context.Context, data []byte, exempt []string) (*Finding, error) {
	f, err := s.scan(ctx, data, exempt)
	if f != nil || err != nil {
		return f, err
	}
	for _, v := range decodedViews(data) {
		if f, err := s.scan(ctx, v, exempt); f != nil || err != nil {
			return f, err
		}
	}
	return nil, nil
}

// scan scans data as it is.
func (s *Scanner) scan(ctx context.Context, data []byte, exempt []string) (*Finding, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBudget, err)
	}
	windows, held := s.windows(data, exempt)
	if held != nil {
		return held, nil
	}
	for _, w := range windows {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBudget, err)
		}
		r := s.rules[w.rule]
		// The regex alone rules most windows out without the detector's
		// allocations; the detector then applies gitleaks' secret group,
		// entropy and allowlists exactly as gitleaks does.
		if !r.re.Match(data[w.start:w.end]) {
			continue
		}
		if found := r.det.DetectBytes(data[w.start:w.end]); len(found) > 0 {
			f := &Finding{RuleID: r.id, Offset: w.start}
			if s.observe != nil {
				s.observe(*f)
				continue
			}
			return f, nil
		}
	}
	return nil, nil
}

type window struct{ rule, start, end int }

// windows runs the keyword pass and returns, per rule hit, the byte
// ranges its regex must see: overlapping ranges of one rule merge, up to
// maxWindow. Matching folds ASCII case, as gitleaks' keyword check does.
// It also returns the first held secret found, if any.
func (s *Scanner) windows(data []byte, exempt []string) ([]window, *Finding) {
	var out []window
	var held *Finding
	open := map[int]int{} // rule → index in out of its last window
	skip := make([]bool, len(s.rules))
	for i, r := range s.rules {
		skip[i] = slices.Contains(exempt, r.id)
	}
	s.prefilter.walk(data, func(end int, pattern int32) {
		hit := end - s.prefilter.lens[pattern]
		if int(pattern) >= len(s.keywordRules) {
			h := s.heldForms[int(pattern)-len(s.keywordRules)]
			if held == nil && (bytes.Equal(data[hit:end], h.form) || h.fold && bytes.EqualFold(data[hit:end], h.form)) {
				held = &Finding{RuleID: HeldSecretRule + h.name, Offset: hit}
			}
			return
		}
		for _, ri := range s.keywordRules[pattern] {
			if skip[ri] {
				continue
			}
			var start, stop int
			if s.rules[ri].id == "private-key" {
				if !containsFold(data[hit:min(len(data), hit+privateKeyNear)], "private key") {
					continue
				}
				start, stop = max(0, hit-windowBefore), min(len(data), end+privateKeyAfter)
			} else {
				var ok bool
				if start, stop, ok = tokenWindow(data, hit, end); !ok {
					continue
				}
			}
			if wi, ok := open[ri]; ok && start <= out[wi].end && stop-out[wi].start <= max(maxWindow, stop-start) {
				out[wi].end = max(out[wi].end, stop)
				continue
			}
			open[ri] = len(out)
			out = append(out, window{rule: ri, start: start, end: stop})
		}
	})
	return out, held
}

// containsFold reports whether data holds sub (lower-case ASCII) in any case.
func containsFold(data []byte, sub string) bool {
	for i := 0; i+len(sub) <= len(data); i++ {
		j := 0
		for ; j < len(sub); j++ {
			c := data[i+j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != sub[j] {
				break
			}
		}
		if j == len(sub) {
			return true
		}
	}
	return false
}

// tokenWindow returns the bytes a rule's regex must see for the keyword at
// data[start:end]: the run of token characters around it (at most
// windowBefore before and windowAfter after), plus two bytes either side
// for the regexes' boundary checks. ok is false when the run is too short
// to hold a secret.
func tokenWindow(data []byte, start, end int) (from, to int, ok bool) {
	from, to = start, end
	for from > 0 && start-from < windowBefore && isTokenChar(data[from-1]) {
		from--
	}
	for to < len(data) && to-end < windowAfter && isTokenChar(data[to]) {
		to++
	}
	if to-end < tokenRunAfter && start-from < tokenRunBefore {
		return 0, 0, false
	}
	return max(0, from-2), min(len(data), to+2), true
}

// isTokenChar: characters tokens and the URLs holding them are made of.
func isTokenChar(c byte) bool { return tokenChars[c] }

var tokenChars = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		t[c] = 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte("_-./+=:", b) >= 0
	}
	return
}()
