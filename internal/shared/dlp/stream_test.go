package dlp

import (
	"strings"
	"testing"
)

func TestStreamFindsASecretAcrossChunkBoundaries(t *testing.T) {
	s := newScanner(t, map[string][]byte{"tok": []byte("held-value-abcdefgh")})
	for rule, secret := range plantedSecrets(t) {
		body := strings.Repeat("x", 40<<10) + " " + secret + " " + strings.Repeat("y", 1000)
		for _, cut := range []int{1, len(secret) / 2, len(secret) - 1} {
			t.Run(rule, func(t *testing.T) {
				split := 40<<10 + 1 + cut
				st := s.NewStream(nil)
				f, err := st.Write(t.Context(), []byte(body[:split]))
				if err != nil {
					t.Fatal(err)
				}
				if f == nil {
					f, err = st.Write(t.Context(), []byte(body[split:]))
				}
				if err != nil || f == nil || f.RuleID != rule {
					t.Fatalf("finding = %+v, %v; want %s across the split", f, err, rule)
				}
				if f.Offset > 40<<10+1 || f.Offset < 40<<10-windowBefore-2 {
					t.Errorf("offset %d is not near the secret at %d", f.Offset, 40<<10+1)
				}
			})
		}
	}
}

func TestStreamKeepsBoundedTail(t *testing.T) {
	s := newScanner(t, nil)
	st := s.NewStream(nil)
	chunk := []byte(strings.Repeat("clean text ", 10000))
	for range 50 {
		if f, err := st.Write(t.Context(), chunk); f != nil || err != nil {
			t.Fatalf("%+v %v", f, err)
		}
		if len(st.tail) > StreamOverlap {
			t.Fatalf("tail grew to %d bytes", len(st.tail))
		}
	}
	if st.offset != 50*len(chunk)-StreamOverlap {
		t.Errorf("offset = %d, want %d", st.offset, 50*len(chunk)-StreamOverlap)
	}
}
