package dlp

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// naive finds every case-insensitive occurrence of each pattern.
func naive(data []byte, patterns []string) []string {
	var out []string
	lower := make([]byte, len(data))
	for i, c := range data {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	for pi, p := range patterns {
		for i := 0; i+len(p) <= len(lower); i++ {
			if string(lower[i:i+len(p)]) == p {
				out = append(out, string(rune('a'+pi))+":"+itoa(i+len(p)))
			}
		}
	}
	sort.Strings(out)
	return out
}

func itoa(i int) string { return strconv.Itoa(i) }

func runMatcher(data []byte, patterns []string) []string {
	var out []string
	newMatcher(patterns).walk(data, func(end int, p int32) {
		out = append(out, string(rune('a'+p))+":"+itoa(end))
	})
	sort.Strings(out)
	return out
}

func TestMatcherAgreesWithNaive(t *testing.T) {
	inputs := []string{"", "g", "GHP_x", "xxghp_ghP_AKIAsk-ANT-sk_", "aaaa", "-----BEGIN-----begin", "hhhp_gghp_", "ggghp_", "sksk_", "s", "x ghp_"}
	for _, patterns := range [][]string{
		{"ghp_", "hp_", "akia", "sk-ant-", "sk_", "a", "-----begin"}, // a one-byte pattern: no skipping
		{"ghp_", "hp_", "akia", "sk-ant-", "sk_", "-----begin"},      // skipping to pattern starts
	} {
		if m := newMatcher(patterns); (m.starts != nil) != !slices.Contains(patterns, "a") {
			t.Fatalf("%q: skipping table %v", patterns, m.starts != nil)
		}
		for _, in := range inputs {
			if got, want := runMatcher([]byte(in), patterns), naive([]byte(in), patterns); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("%q in %q: got %v, want %v", patterns, in, got, want)
			}
		}
	}
}

func FuzzMatcherAgreesWithNaive(f *testing.F) {
	f.Add([]byte("xxghp_ghP_AKIAsk-ANT-"), "ghp_", "hp_g")
	f.Fuzz(func(t *testing.T, data []byte, p1, p2 string) {
		if len(data) > 2000 {
			return
		}
		var pats []string
		for _, p := range []string{strings.ToLower(p1), strings.ToLower(p2)} {
			if p != "" && len(p) < 20 && p == strings.ToLower(p) && !strings.ContainsFunc(p, func(r rune) bool { return r > 127 }) {
				pats = append(pats, p)
			}
		}
		if len(pats) == 0 {
			return
		}
		if got, want := runMatcher(data, pats), naive(data, pats); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("%q %q: got %v, want %v", data, pats, got, want)
		}
	})
}
