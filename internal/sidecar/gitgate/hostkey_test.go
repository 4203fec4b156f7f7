package gitgate

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

func newHostKey(t testing.TB) ssh.PublicKey {
	t.Helper()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParseHostKeyLine(t *testing.T) {
	key := newHostKey(t)
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
	b64 := strings.Fields(line)[1]
	for _, tc := range []struct{ name, in, wantErr string }{
		{"bare", line, ""},
		{"with host", "git.example.test " + line, ""},
		{"with comment", line + " upstream", ""},
		{"host and comment", "[git.example.test]:2222 " + line + " upstream key", ""},
		{"marker", "@cert-authority *.example.test " + line, "marker"},
		{"no type", "git.example.test " + b64, "no key type"},
		{"wrong type", "ssh-rsa " + b64, "mismatch"},
		{"cut short", "ssh-ed25519 " + b64[:20], "host key line"},
		{"empty", "  ", "empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseHostKeyLine(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got.Marshal()) != string(key.Marshal()) {
				t.Fatal("parsed a different key")
			}
		})
	}
}

// TestHostKeyCheckHasNoTrustOnFirstUse: a key other than the pinned one,
// or a host the known_hosts file does not list, is refused.
func TestHostKeyCheckHasNoTrustOnFirstUse(t *testing.T) {
	pinned, other := newHostKey(t), newHostKey(t)
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2222}
	hk := pinnedHostKey(pinned)
	if err := hk.callback("127.0.0.1:2222", addr, pinned); err != nil {
		t.Fatalf("pinned key refused: %v", err)
	}
	if err := hk.callback("127.0.0.1:2222", addr, other); !errors.Is(err, errHostKey) {
		t.Fatalf("other key: err = %v", err)
	}
	if got := hk.algorithms("x:22"); len(got) != 1 || got[0] != ssh.KeyAlgoED25519 {
		t.Fatalf("algorithms = %v", got)
	}

	dir := t.TempDir()
	kh := filepath.Join(dir, "known_hosts")
	line := "[127.0.0.1]:2222 " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pinned))) + "\n"
	if err := os.WriteFile(kh, []byte(line), 0o400); err != nil {
		t.Fatal(err)
	}
	fk, err := knownHostsFile(kh)
	if err != nil {
		t.Fatal(err)
	}
	if err := fk.callback("127.0.0.1:2222", addr, pinned); err != nil {
		t.Fatalf("listed key refused: %v", err)
	}
	if err := fk.callback("127.0.0.1:2222", addr, other); !errors.Is(err, errHostKey) || !strings.Contains(err.Error(), "does not list") {
		t.Fatalf("other key: err = %v", err)
	}
	if err := fk.callback("127.0.0.2:2222", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2), Port: 2222}, pinned); !errors.Is(err, errHostKey) || !strings.Contains(err.Error(), "lists no key") {
		t.Fatalf("unlisted host: err = %v", err)
	}
}

func TestLoadUpstreamErrorsNameTheSecretNotItsValue(t *testing.T) {
	dir := t.TempDir()
	key := newHostKey(t)
	if err := os.WriteFile(filepath.Join(dir, "bad_key"), []byte("-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-key-SECRETVALUE\n-----END OPENSSH PRIVATE KEY-----\n"), 0o400); err != nil {
		t.Fatal(err)
	}
	r := contract.Repo{Name: "demo", URL: "ssh://git@127.0.0.1/demo.git", Identity: "bad_key", HostKey: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))}
	_, err := loadUpstream(r, dir)
	if err == nil || !strings.Contains(err.Error(), `identity "bad_key"`) || strings.Contains(err.Error(), "SECRETVALUE") {
		t.Fatalf("err = %v", err)
	}
	r.Identity = "missing"
	if _, err := loadUpstream(r, dir); err == nil || !strings.Contains(err.Error(), `secret "missing"`) {
		t.Fatalf("err = %v", err)
	}
}

// FuzzParseHostKeyLine: parsing any host_key line either fails or yields
// a key whose type is the one the line names.
func FuzzParseHostKeyLine(f *testing.F) {
	key := newHostKey(f)
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
	f.Add(line)
	f.Add("host " + line + " comment")
	f.Add("@revoked * " + line)
	f.Add("ssh-rsa AAAA")
	f.Fuzz(func(t *testing.T, s string) {
		k, err := parseHostKeyLine(s)
		if err != nil {
			return
		}
		fields := strings.Fields(s)
		if !strings.Contains(s, k.Type()) || (fields[0] != k.Type() && fields[1] != k.Type()) {
			t.Fatalf("line %q parsed as a %s key", s, k.Type())
		}
	})
}
