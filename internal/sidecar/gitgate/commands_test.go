package gitgate

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	idA = "1111111111111111111111111111111111111111"
	idB = "2222222222222222222222222222222222222222"
)

func TestReadPushRequest(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []command
		caps    []string
		shallow int
		wantErr string
	}{
		{name: "probe", in: "0000"},
		{name: "create", in: pkt(zeroID+" "+idA+" refs/heads/main\x00report-status side-band-64k agent=git/2.39\n") + "0000",
			want: []command{{New: hash(idA), Name: "refs/heads/main"}}, caps: []string{"report-status", "side-band-64k", "agent"}},
		{name: "two commands, no newline", in: pkt(idA+" "+idB+" refs/heads/a\x00report-status") + pkt(idB+" "+zeroID+" refs/tags/v1") + "0000",
			want: []command{{Old: hash(idA), New: hash(idB), Name: "refs/heads/a"}, {Old: hash(idB), Name: "refs/tags/v1"}}, caps: []string{"report-status"}},
		{name: "shallow first", in: pkt("shallow "+idA+"\n") + pkt(zeroID+" "+idB+" refs/heads/s\n") + "0000",
			want: []command{{New: hash(idB), Name: "refs/heads/s"}}, shallow: 1},
		{name: "no flush", in: pkt(zeroID + " " + idA + " refs/heads/main\n"), wantErr: "read commands"},
		{name: "empty", in: "", wantErr: "read commands"},
		{name: "bad length", in: "zzzz", wantErr: "read commands"},
		{name: "short id", in: pkt("123 "+idA+" refs/heads/x\n") + "0000", wantErr: "old value"},
		{name: "upper-case id", in: pkt(strings.ToUpper("abcdef0123456789abcdef0123456789abcdef01")+" "+idA+" refs/heads/x\n") + "0000", wantErr: "old value"},
		{name: "both zero", in: pkt(zeroID+" "+zeroID+" refs/heads/x\n") + "0000", wantErr: "neither"},
		{name: "outside refs", in: pkt(zeroID+" "+idA+" HEAD\n") + "0000", wantErr: "not under refs/"},
		{name: "dot dot", in: pkt(zeroID+" "+idA+" refs/heads/../x\n") + "0000", wantErr: "not a valid ref name"},
		{name: "lock suffix", in: pkt(zeroID+" "+idA+" refs/heads/x.lock\n") + "0000", wantErr: "not a valid ref name"},
		{name: "control char", in: pkt(zeroID+" "+idA+" refs/heads/a\x01b\n") + "0000", wantErr: "not a valid ref name"},
		{name: "duplicate", in: pkt(zeroID+" "+idA+" refs/heads/x\n") + pkt(zeroID+" "+idB+" refs/heads/x\n") + "0000", wantErr: "twice"},
		{name: "shallow after command", in: pkt(zeroID+" "+idA+" refs/heads/x\n") + pkt("shallow "+idA+"\n") + "0000", wantErr: "shallow line after"},
		{name: "missing ref", in: pkt(zeroID+" "+idA+"\n") + "0000", wantErr: "malformed command"},
		{name: "server error line", in: pkt("ERR boom\n") + "0000", wantErr: "read commands"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := strings.NewReader(tc.in + "PACK")
			got, err := readPushRequest(r)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, errBadRequest) {
					t.Fatalf("err = %v, want a bad request containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got.Commands); diff != "" {
				t.Errorf("commands (-want +got):\n%s", diff)
			}
			for _, c := range tc.caps {
				if !got.has(c) {
					t.Errorf("capability %s missing: %v", c, got.Caps)
				}
			}
			if got.Shallow != tc.shallow {
				t.Errorf("shallow = %v", got.Shallow)
			}
			if rest, _ := io.ReadAll(r); string(rest) != "PACK" {
				t.Errorf("read past the flush: %q left", rest)
			}
		})
	}
}

func TestReceivePackAdvertDecodes(t *testing.T) {
	var buf bytes.Buffer
	if err := writeReceivePackAdvert(&buf, nil, "gitgate/test"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), zeroID+" capabilities^{}\x00report-status") {
		t.Fatalf("empty advert: %q", buf.String())
	}
}

// FuzzReadPushRequest: whatever a client sends, the command parser
// returns either a well-formed request (valid ref names under refs/, 40-hex
// ids, no duplicates, never both ids zero) or a bad-request error, and it
// never reads past the flush that ends the commands.
func FuzzReadPushRequest(f *testing.F) {
	f.Add([]byte("0000"))
	f.Add([]byte(pkt(zeroID+" "+idA+" refs/heads/main\x00report-status side-band-64k\n") + "0000PACK"))
	f.Add([]byte(pkt("shallow "+idA) + pkt(idA+" "+zeroID+" refs/tags/v1") + "0000"))
	f.Add([]byte("0004" + "0001" + "ffff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		req, err := readPushRequest(r)
		if err != nil {
			if !errors.Is(err, errBadRequest) {
				t.Fatalf("error is not a bad request: %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, c := range req.Commands {
			if err := validPushRef(c.Name); err != nil {
				t.Fatalf("accepted ref %q: %v", c.Name, err)
			}
			if c.Old.IsZero() && c.New.IsZero() || seen[c.Name.String()] {
				t.Fatalf("accepted bad command %+v", c)
			}
			seen[c.Name.String()] = true
		}
		consumed := len(data) - r.Len()
		if consumed < 4 || string(data[consumed-4:consumed]) != "0000" {
			t.Fatalf("stopped at %d, not right after a flush", consumed)
		}
	})
}

func hash(s string) (h [20]byte) {
	b, _ := parseHash([]byte(s))
	return b
}

func TestReadPushRequestNeedsFlush(t *testing.T) {
	_, err := readPushRequest(strings.NewReader(pkt(zeroID + " " + idA + " refs/heads/main\n")))
	if err == nil || !strings.Contains(err.Error(), "without a flush") {
		t.Fatalf("err = %v", err)
	}
}
