package dlp

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
)

func pctEach(s string, upper bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		x := hex.EncodeToString([]byte{s[i]})
		if upper {
			x = strings.ToUpper(x)
		}
		b.WriteString("%" + x)
	}
	return b.String()
}

func jsonEach(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, `\u%04X`, s[i])
	}
	return b.String()
}

func TestEscapedRuleTokensAreFound(t *testing.T) {
	s := newScanner(t, nil)
	tok := plantedSecrets(t)["github-pat"]
	for name, data := range map[string]string{
		"lower %xx":            "t=" + pctEach(tok, false),
		"upper %XX":            "t=" + pctEach(tok, true),
		"after a bad escape":   "x=%zz&y=%&t=" + pctEach(tok, false),
		"JSON \\u escapes":     `{"t":"` + jsonEach(tok) + `"}`,
		"double-encoded":       strings.ReplaceAll(pctEach(tok, false), "%", "%25"),
		"escapes deep in data": strings.Repeat("a b ", 5000) + pctEach(tok, false) + strings.Repeat(" c", 5000),
	} {
		t.Run(name, func(t *testing.T) {
			f, err := s.Scan(t.Context(), []byte(data), nil)
			if err != nil || f == nil {
				t.Fatalf("Scan = %v, %v; want a finding", f, err)
			}
		})
	}
}

func TestHeldSecretInEncodingsAtEveryAlignment(t *testing.T) {
	token := "plain-looking-token-value-42"
	s := newScanner(t, map[string][]byte{"api_token": []byte(token)})
	for k := 0; k < 6; k++ {
		pre := strings.Repeat("u", k) + ":"
		for name, enc := range map[string]*base64.Encoding{"std": base64.StdEncoding, "url": base64.URLEncoding, "raw std": base64.RawStdEncoding} {
			t.Run(fmt.Sprintf("%s prefix %d", name, len(pre)), func(t *testing.T) {
				f, _ := s.Scan(t.Context(), []byte("Basic "+enc.EncodeToString([]byte(pre+token+"\n"))), nil)
				if f == nil || f.RuleID != "held-secret:api_token" {
					t.Fatalf("Scan = %+v; want the held secret", f)
				}
			})
		}
	}
	for name, form := range map[string]string{
		"upper hex": strings.ToUpper(hex.EncodeToString([]byte(token))),
		"mixed hex": hex.EncodeToString([]byte(token[:5])) + strings.ToUpper(hex.EncodeToString([]byte(token[5:]))),
		"lower %xx": pctEach(token, false),
		"mixed %":   pctEach(token[:4], true) + token[4:9] + pctEach(token[9:], false),
		"JSON":      jsonEach(token),
	} {
		t.Run(name, func(t *testing.T) {
			f, _ := s.Scan(t.Context(), []byte("x "+form+" y"), nil)
			if f == nil || f.RuleID != "held-secret:api_token" {
				t.Fatalf("Scan = %+v; want the held secret", f)
			}
		})
	}
}

func TestRedactorFindsEveryForm(t *testing.T) {
	token := "tok-3f9a1c77e2b84d0aa51e6c2b9d47f013"
	r := NewRedactor([][]byte{[]byte(token)})
	for name, form := range map[string]string{
		"raw":           token,
		"hex":           hex.EncodeToString([]byte(token)),
		"HEX":           strings.ToUpper(hex.EncodeToString([]byte(token))),
		"base64":        base64.StdEncoding.EncodeToString([]byte(token)),
		"Bearer base64": base64.StdEncoding.EncodeToString([]byte("Bearer " + token)),
		"base64url u:":  base64.URLEncoding.EncodeToString([]byte("u:" + token)),
		"%xx":           pctEach(token, false),
		"%XX":           pctEach(token, true),
	} {
		t.Run(name, func(t *testing.T) {
			data := []byte("<" + form + ">")
			hits := 0
			r.Each(data, func(s, e int) { hits++; copy(data[s:e], bytes.Repeat([]byte("*"), e-s)) })
			if hits == 0 {
				t.Fatalf("no hit in %q", data)
			}
			// What remains cannot be decoded back into the token.
			if bytes.Contains(data, []byte(token[4:12])) {
				t.Fatalf("token left in %q", data)
			}
		})
	}
}

// FuzzEscapedSecretIsAlwaysFound plants a token, escaped byte by byte in a
// mix of %xx, %XX, \uXXXX and raw, into arbitrary bytes: the scan must
// find it whatever surrounds it.
func FuzzEscapedSecretIsAlwaysFound(f *testing.F) {
	s := newScanner(f, nil)
	tok := plantedSecrets(f)["github-pat"]
	f.Add([]byte("x=%zz&"), uint64(0xdeadbeef), uint16(3))
	f.Add([]byte(`\u00`), uint64(1), uint16(0))
	f.Fuzz(func(t *testing.T, noise []byte, mix uint64, at uint16) {
		var b strings.Builder
		for i := 0; i < len(tok); i++ {
			switch (mix >> (2 * (i % 32))) & 3 {
			case 0:
				b.WriteByte(tok[i])
			case 1:
				b.WriteString(pctEach(tok[i:i+1], false))
			case 2:
				b.WriteString(pctEach(tok[i:i+1], true))
			case 3:
				b.WriteString(jsonEach(tok[i : i+1]))
			}
		}
		pos := int(at) % (len(noise) + 1)
		data := append(append(append([]byte{}, noise[:pos]...), " "+b.String()+" "...), noise[pos:]...)
		if found, err := s.Scan(t.Context(), data, nil); err != nil || found == nil {
			t.Fatalf("escaped token not found (err %v) in %q", err, data)
		}
	})
}

// FuzzDecodeEscapes: decoding never grows the data and never panics, and
// views cover only regions that hold an escape.
func FuzzDecodeEscapes(f *testing.F) {
	f.Add([]byte(`%41%zz\u0041\ud83d\ude00\/%`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if d, ok := decodeEscapes(data); ok && len(d) > len(data) {
			t.Fatalf("decoded %d bytes to %d", len(data), len(d))
		}
		total := 0
		for _, v := range decodedViews(data) {
			total += len(v)
		}
		if total > len(data) {
			t.Fatalf("views hold %d bytes of %d", total, len(data))
		}
	})
}

// FuzzRedactorSearchAgrees: the Wu-Manber search finds exactly what the
// automaton finds, wherever forms are planted.
func FuzzRedactorSearchAgrees(f *testing.F) {
	f.Add([]byte("xx tok-3f9a1c77 yy"), []byte("tok-3f9a1c77"), uint16(3))
	f.Fuzz(func(t *testing.T, noise, secret []byte, at uint16) {
		if len(secret) < 2 || len(secret) > 64 {
			return
		}
		r := NewRedactor([][]byte{secret})
		if r == nil || r.wm == nil {
			return
		}
		pos := int(at) % (len(noise) + 1)
		form := r.forms[int(at)%len(r.forms)].form
		data := append(append(append([]byte{}, noise[:pos]...), form...), noise[pos:]...)
		var fast, slow [][2]int
		r.Each(data, func(s, e int) { fast = append(fast, [2]int{s, e}) })
		r.m.walk(data, func(end int, p int32) {
			fm := r.forms[p]
			s := end - len(fm.form)
			if bytes.Equal(data[s:end], fm.form) || fm.fold && bytes.EqualFold(data[s:end], fm.form) {
				slow = append(slow, [2]int{s, end})
			}
		})
		key := func(x [][2]int) string { return fmt.Sprint(x) }
		sortPairs(fast)
		sortPairs(slow)
		if key(fast) != key(slow) {
			t.Fatalf("Wu-Manber %v, automaton %v", fast, slow)
		}
		if len(fast) == 0 {
			t.Fatal("the planted form was not found")
		}
	})
}

func sortPairs(x [][2]int) {
	for i := 1; i < len(x); i++ {
		for j := i; j > 0 && (x[j][0] < x[j-1][0] || x[j][0] == x[j-1][0] && x[j][1] < x[j-1][1]); j-- {
			x[j], x[j-1] = x[j-1], x[j]
		}
	}
}
