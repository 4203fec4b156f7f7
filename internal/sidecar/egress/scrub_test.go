package egress

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/bot-bottle/bot-bottle/internal/shared/dlp"
)

// chunkedReader returns its data in reads of the given sizes, cycling.
type chunkedReader struct {
	data  []byte
	sizes []int
	i     int
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := min(c.sizes[c.i%len(c.sizes)], len(p), len(c.data))
	c.i++
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// scrubAll reads src through a scrubReader with read buffers of size bufSize.
func scrubAll(t testing.TB, src io.Reader, secrets [][]byte, bufSize int) []byte {
	t.Helper()
	r := &scrubReader{src: io.NopCloser(src), red: dlp.NewRedactor(secrets)}
	var out bytes.Buffer
	buf := make([]byte, bufSize)
	for range 1 << 20 {
		n, err := r.Read(buf)
		out.Write(buf[:n])
		if err == io.EOF {
			return out.Bytes()
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
	}
	t.Fatal("scrubReader made no progress")
	return nil
}

func TestScrubReaderMasksSecretsAcrossReads(t *testing.T) {
	tok := []byte("TOKEN1234567890")
	other := []byte("OTHERSECRET99")
	input := "head " + string(tok) + " mid " + string(other) + string(tok) + " tail TOKEN123" // a partial at the end is not a secret
	want := strings.NewReplacer(string(tok), string(scrubMask(len(tok))), string(other), string(scrubMask(len(other)))).Replace(input)
	for _, tc := range []struct {
		name    string
		src     func() io.Reader
		bufSize int
	}{
		{"one read", func() io.Reader { return strings.NewReader(input) }, 32 << 10},
		{"one byte at a time", func() io.Reader { return iotest.OneByteReader(strings.NewReader(input)) }, 32 << 10},
		{"odd chunks", func() io.Reader { return &chunkedReader{data: []byte(input), sizes: []int{3, 7, 1, 11}} }, 32 << 10},
		{"reader buffer smaller than a secret", func() io.Reader { return strings.NewReader(input) }, 4},
		{"one-byte reader buffer", func() io.Reader { return iotest.HalfReader(strings.NewReader(input)) }, 1},
		{"data with the EOF", func() io.Reader { return iotest.DataErrReader(strings.NewReader(input)) }, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := scrubAll(t, tc.src(), [][]byte{tok, other}, tc.bufSize)
			if string(got) != want {
				t.Errorf("got  %q\nwant %q", got, want)
			}
		})
	}
}

// TestScrubReaderPassesCleanEventsAtOnce: a stream event with no secret
// must not wait for more data (SSE), only a possible secret's start may.
func TestScrubReaderPassesCleanEventsAtOnce(t *testing.T) {
	pr, pw := io.Pipe()
	r := &scrubReader{src: pr, red: dlp.NewRedactor([][]byte{[]byte("SECRETVALUE")})}
	go func() { _, _ = pw.Write([]byte("data: one\n\n")) }()
	buf := make([]byte, 1024)
	n, err := r.Read(buf)
	if err != nil || string(buf[:n]) != "data: one\n\n" {
		t.Fatalf("first read %q, %v; want the whole event at once", buf[:n], err)
	}
	go func() { _, _ = pw.Write([]byte("data: SECRET")) }()
	n, _ = r.Read(buf)
	if string(buf[:n]) != "data: " {
		t.Fatalf("read %q; want the possible start of a secret held back", buf[:n])
	}
	go func() { _, _ = pw.Write([]byte("VALUE\n\n")); pw.Close() }()
	rest, _ := io.ReadAll(r)
	if want := string(scrubMask(11)) + "\n\n"; string(rest) != want {
		t.Fatalf("rest %q, want %q", rest, want)
	}
}

func FuzzScrubReader(f *testing.F) {
	f.Add([]byte("xx TOKENABCDEFGH yy TOKENABC"), []byte("TOKENABCDEFGH"), []byte("ZZZZZZZZ"), uint8(3), uint16(7))
	f.Add([]byte("TOKTOKTOKEN"), []byte("TOKEN"), []byte("KTOK"), uint8(1), uint16(1))
	f.Fuzz(func(t *testing.T, data, s1, s2 []byte, chunk uint8, bufSize uint16) {
		// Secrets are tokens: upper-case letters and digits, at least 4
		// long, so no mask (lower-case, '[', '-', '*') can form one.
		secrets := [][]byte{}
		for _, s := range [][]byte{s1, s2} {
			s = bytes.Map(func(r rune) rune {
				if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
					return r
				}
				return -1
			}, s)
			if len(s) >= 4 && len(s) <= 64 {
				secrets = append(secrets, s)
			}
		}
		src := &chunkedReader{data: data, sizes: []int{int(chunk)%17 + 1, int(chunk)%5 + 1}}
		got := scrubAll(t, src, secrets, int(bufSize)%100+1)
		if len(got) != len(data) {
			t.Fatalf("length %d, want %d", len(got), len(data))
		}
		for _, s := range secrets {
			if bytes.Contains(got, s) {
				t.Fatalf("secret %q left in %q", s, got)
			}
		}
		if len(secrets) == 1 {
			if want := bytes.ReplaceAll(data, secrets[0], scrubMask(len(secrets[0]))); !bytes.Equal(got, want) {
				t.Fatalf("got %q, want %q", got, want)
			}
		}
		if len(secrets) == 0 && !bytes.Equal(got, data) {
			t.Fatalf("changed without secrets: %q", got)
		}
	})
}
