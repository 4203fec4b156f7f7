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
	"sync"

	ahocorasick "github.com/BobuSumisu/aho-corasick"
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
}

// Scanner finds secrets. It is safe for concurrent use; build one and
// share it (building costs milliseconds).
type Scanner struct {
	rules     []scanRule
	prefilter *ahocorasick.Trie
	// keywordRules[i] lists the rules owning keyword pattern i.
	keywordRules [][]int
	held         []heldSecret
	bufs         sync.Pool // *[]byte, lower-casing buffers
}

type scanRule struct {
	id  string
	re  *regexp.Regexp   // the rule's regex: a cheap first check
	det *detect.Detector // a detector holding only this rule: the full check
}

type heldSecret struct {
	name  string
	forms [][]byte
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
	s := &Scanner{}
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
	s.prefilter = ahocorasick.NewTrieBuilder().AddStrings(keywords).Build()
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
		s.held = append(s.held, heldSecret{name: name, forms: secretForms(v)})
	}
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

// secretForms returns the encodings in which a held secret is looked for.
func secretForms(v []byte) [][]byte {
	forms := [][]byte{v}
	if len(v) < minEncodedFormLen {
		return forms
	}
	add := func(f string) {
		if f != "" && !slices.ContainsFunc(forms, func(x []byte) bool { return string(x) == f }) {
			forms = append(forms, []byte(f))
		}
	}
	add(url.QueryEscape(string(v)))
	add(url.PathEscape(string(v)))
	add(strings.TrimRight(base64.StdEncoding.EncodeToString(v), "="))
	add(base64.RawURLEncoding.EncodeToString(v))
	add(hex.EncodeToString(v))
	return forms
}

// Scan returns the first finding in data whose rule is not exempt, or nil.
// exempt lists rule ids the route allows (held secrets cannot be exempted).
// It returns ErrBudget when ctx ends first.
func (s *Scanner) Scan(ctx context.Context, data []byte, exempt []string) (*Finding, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBudget, err)
	}
	for _, h := range s.held {
		for _, f := range h.forms {
			if i := bytes.Index(data, f); i >= 0 {
				return &Finding{RuleID: HeldSecretRule + h.name, Offset: i}, nil
			}
		}
	}
	lower := s.lower(data)
	defer s.bufs.Put(lower)
	windows := s.windows(*lower, exempt)
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
			return &Finding{RuleID: r.id, Offset: w.start}, nil
		}
	}
	return nil, nil
}

type window struct{ rule, start, end int }

// windows runs the keyword pass and returns, per rule hit, the byte
// ranges its regex must see: overlapping ranges of one rule merge, up to
// maxWindow.
func (s *Scanner) windows(lower []byte, exempt []string) []window {
	var out []window
	open := map[int]int{} // rule → index in out of its last window
	skip := make([]bool, len(s.rules))
	for i, r := range s.rules {
		skip[i] = slices.Contains(exempt, r.id)
	}
	s.prefilter.Walk(lower, func(end, n, pattern int64) bool {
		hit := int(end - n + 1)
		for _, ri := range s.keywordRules[pattern] {
			if skip[ri] {
				continue
			}
			var start, stop int
			if s.rules[ri].id == "private-key" {
				if !bytes.Contains(lower[hit:min(len(lower), hit+privateKeyNear)], []byte("private key")) {
					continue
				}
				start, stop = max(0, hit-windowBefore), min(len(lower), int(end)+1+privateKeyAfter)
			} else {
				var ok bool
				if start, stop, ok = tokenWindow(lower, hit, int(end)+1); !ok {
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
		return true
	})
	return out
}

// tokenWindow returns the bytes a rule's regex must see for the keyword at
// lower[start:end]: the run of token characters around it (at most
// windowBefore before and windowAfter after), plus two bytes either side
// for the regexes' boundary checks. ok is false when the run is too short
// to hold a secret.
func tokenWindow(lower []byte, start, end int) (from, to int, ok bool) {
	from, to = start, end
	for from > 0 && start-from < windowBefore && isTokenChar(lower[from-1]) {
		from--
	}
	for to < len(lower) && to-end < windowAfter && isTokenChar(lower[to]) {
		to++
	}
	if to-end < tokenRunAfter && start-from < tokenRunBefore {
		return 0, 0, false
	}
	return max(0, from-2), min(len(lower), to+2), true
}

// isTokenChar: characters tokens and the URLs holding them are made of
// (input is lower-cased).
func isTokenChar(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("_-./+=:", c) >= 0
}

// lower returns an ASCII-lower-cased copy of data in a pooled buffer.
// Keywords are ASCII, so ASCII folding is what matching needs.
func (s *Scanner) lower(data []byte) *[]byte {
	bp, _ := s.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	buf := slices.Grow((*bp)[:0], len(data))[:len(data)]
	for i, c := range data {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	*bp = buf
	return bp
}
