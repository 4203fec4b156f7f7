package provision

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// parseGitConfig reads the subset of git's config syntax GitConfig writes:
// comment lines, [section] and [section "subsection"] headers, and
// "\tkey = "value"" lines whose value is wholly quoted. It returns
// "section[.subsection].key" (section and key lower-cased, as git
// compares them) → values in order, and refuses anything else, so
// GitConfig's output cannot hold a line it did not mean to write.
func parseGitConfig(text string) (map[string][]string, error) {
	out := map[string][]string{}
	section := ""
	for n, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			inner := line[1 : len(line)-1]
			name, sub, hasSub := strings.Cut(inner, " ")
			section = strings.ToLower(name)
			if hasSub {
				s, rest, err := unquote(sub)
				if err != nil || rest != "" {
					return nil, fmt.Errorf("line %d: bad subsection %q", n+1, sub)
				}
				section += "." + s
			}
		case strings.HasPrefix(line, "\t") && section != "":
			key, value, ok := strings.Cut(line[1:], " = ")
			if !ok {
				return nil, fmt.Errorf("line %d: %q is no key = value", n+1, line)
			}
			v, rest, err := unquote(value)
			if err != nil || rest != "" {
				return nil, fmt.Errorf("line %d: bad value %q", n+1, value)
			}
			k := section + "." + strings.ToLower(key)
			out[k] = append(out[k], v)
		default:
			return nil, fmt.Errorf("line %d: unexpected %q", n+1, line)
		}
	}
	return out, nil
}

// unquote reads a double-quoted git string at the start of s, as git
// does: \\ and \" are the only escapes written; \n, \t and \b are read.
func unquote(s string) (value, rest string, err error) {
	if !strings.HasPrefix(s, `"`) {
		return "", "", fmt.Errorf("not quoted")
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], nil
		case '\\':
			i++
			if i == len(s) {
				return "", "", fmt.Errorf("trailing backslash")
			}
			switch s[i] {
			case '\\', '"':
				b.WriteByte(s[i])
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'b':
				b.WriteByte('\b')
			default:
				return "", "", fmt.Errorf("bad escape \\%c", s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", fmt.Errorf("unterminated")
}

// rewrite applies insteadOf rules (url.<base>.insteadof → prefixes) to
// url as git does: the longest matching prefix wins.
func rewrite(cfg map[string][]string, url string) string {
	best, bestBase := "", ""
	for k, prefixes := range cfg {
		base, ok := strings.CutPrefix(k, "url.")
		if !ok {
			continue
		}
		base, ok = strings.CutSuffix(base, ".insteadof")
		if !ok {
			continue
		}
		for _, p := range prefixes {
			if strings.HasPrefix(url, p) && len(p) > len(best) {
				best, bestBase = p, base
			}
		}
	}
	if best == "" {
		return url
	}
	return bestBase + url[len(best):]
}

// FuzzGitConfig writes a configuration for any identity and upstream and
// reads it back: either GitConfig refuses, or the file holds exactly the
// identity, only the sections it should, and every spelling of the
// upstream, the upstream itself included, leads to the gate (or, shared
// with the other repo, is left alone).
func FuzzGitConfig(f *testing.F) {
	f.Add("Ada Lovelace", "ada@example.test", "ssh://git@git.example.test:22/srv/demo.git")
	f.Add(`A "q" \ b`, "", "ssh://git@h/fixed")
	f.Add("x\ny", "e", "ssh://git@[::1]:2222/a")
	f.Add("", "e;#", "ssh://bob@h/fixed.git")
	f.Add("é", "\"", "git@h:x.git")
	const other = "ssh://git@h/fixed.git"
	f.Fuzz(func(t *testing.T, name, email, upstream string) {
		repos := []GateRepo{{Name: "r", URL: upstream}, {Name: "s", URL: other}}
		text, ambiguous, err := GitConfig(GitIdentity{Name: name, Email: email}, repos)
		if err != nil {
			return
		}
		cfg, err := parseGitConfig(text)
		if err != nil {
			t.Fatalf("%v in\n%s", err, text)
		}
		for key, want := range map[string]string{"user.name": name, "user.email": email} {
			got := cfg[key]
			if want == "" && got != nil || want != "" && (len(got) != 1 || got[0] != want) {
				t.Fatalf("%s = %q, want %q", key, got, want)
			}
		}
		allowed := map[string]bool{"user.name": true, "user.email": true,
			"url." + GateURL("r") + ".insteadof": true, "url." + GateURL("s") + ".insteadof": true}
		for _, a := range ambiguous {
			allowed["url."+a+".insteadof"] = true
		}
		for k := range cfg {
			if !allowed[k] {
				t.Fatalf("unexpected key %q in\n%s", k, text)
			}
		}
		if got := rewrite(cfg, upstream); got != GateURL("r") {
			t.Fatalf("the upstream %q → %q, want %q", upstream, got, GateURL("r"))
		}
		sp, _ := Spellings(upstream)
		theirs, _ := Spellings(other)
		for _, s := range sp {
			got := rewrite(cfg, s.URL)
			switch {
			case got == GateURL("r"), got == s.URL && slices.Contains(ambiguous, s.URL):
			case got == GateURL("s") && hasLower(theirs, s):
			default:
				t.Fatalf("spelling %q (rank %d) → %q", s.URL, s.Rank, got)
			}
		}
	})
}

// hasLower reports whether sp holds s.URL at a lower rank than s.Rank, so
// that the other repo keeps it.
func hasLower(sp []Spelling, s Spelling) bool {
	for _, x := range sp {
		if x.URL == s.URL && x.Rank < s.Rank {
			return true
		}
	}
	return false
}

// FuzzAddCA adds a certificate to any bundle: the result holds it, adding
// it again changes nothing, and what the bundle held besides bot-bottle's
// own block is still there, in order.
func FuzzAddCA(f *testing.F) {
	ca := testCA(f, "fuzz")
	other := testCA(f, "other")
	f.Add([]byte(""))
	f.Add(other)
	f.Add([]byte("junk\n" + caMarker + "\n"))
	f.Add([]byte(caMarker + "\n-----BEGIN CERTIFICATE-----\nAAAA\n"))
	f.Add(append([]byte(caMarker+"\n"), other...))
	f.Add(append(append([]byte{}, other...), ca...))
	f.Fuzz(func(t *testing.T, bundle []byte) {
		out, _, err := AddCA(bundle, ca)
		if err != nil {
			t.Fatal(err)
		}
		der, _ := certDER(ca)
		if !hasCert(out, der) {
			t.Fatalf("AddCA(%q) = %q: no CA in it", bundle, out)
		}
		again, changed, err := AddCA(out, ca)
		if err != nil || changed || !bytes.Equal(again, out) {
			t.Fatalf("AddCA is not idempotent: %q → %q → %q (changed %v, %v)", bundle, out, again, changed, err)
		}
		if kept := stripMarked(bundle); !bytes.HasPrefix(out, bytes.TrimRight(kept, "\n")) {
			t.Fatalf("AddCA(%q) = %q lost some of %q", bundle, out, kept)
		}
	})
}
