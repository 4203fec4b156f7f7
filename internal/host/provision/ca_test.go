package provision

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bot-bottle/bot-bottle/internal/scaffold/testpki"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// testCA is the PEM certificate of a new throwaway CA.
func testCA(t testing.TB, name string) []byte {
	t.Helper()
	return testpki.New(t, "", name).CertPEM
}

func TestCAEnv(t *testing.T) {
	want := map[string]string{
		"SSL_CERT_FILE":       "/etc/ssl/certs/ca-certificates.crt",
		"REQUESTS_CA_BUNDLE":  "/etc/ssl/certs/ca-certificates.crt",
		"CURL_CA_BUNDLE":      "/etc/ssl/certs/ca-certificates.crt",
		"GIT_SSL_CAINFO":      "/etc/ssl/certs/ca-certificates.crt",
		"NODE_EXTRA_CA_CERTS": contract.AgentCACertPath,
	}
	got := CAEnv()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CAEnv (-want +got):\n%s", diff)
	}
	got["SSL_CERT_FILE"] = "/tmp/evil"
	if CAEnv()["SSL_CERT_FILE"] != CABundlePath {
		t.Error("CAEnv returned its own map: a caller changed it for everyone")
	}
}

func TestAddCA(t *testing.T) {
	ca := testCA(t, "bottle")
	old := testCA(t, "old-bottle")
	root := testCA(t, "image-root")
	block := func(cert []byte) string { return caMarker + "\n" + string(cert) }
	tests := []struct {
		name    string
		bundle  string
		want    string
		changed bool
	}{
		{name: "no bundle yet", bundle: "", want: block(ca), changed: true},
		{name: "appended after the image's roots", bundle: string(root), want: string(root) + block(ca), changed: true},
		{name: "a newline added where the bundle has none", bundle: strings.TrimSuffix(string(root), "\n"), want: string(root) + block(ca), changed: true},
		{name: "already added: unchanged", bundle: string(root) + block(ca), want: string(root) + block(ca)},
		{name: "update-ca-certificates put it there: unchanged", bundle: string(root) + string(ca), want: string(root) + string(ca)},
		{name: "update-ca-certificates put it there and an old block is dropped", bundle: string(root) + block(ca) + string(ca), want: string(root) + string(ca), changed: true},
		{name: "an earlier bottle's CA is replaced", bundle: string(root) + block(old), want: string(root) + block(ca), changed: true},
		{name: "comments and other blocks kept byte for byte", bundle: "# roots\r\n" + string(root) + "\n\n# end\n", want: "# roots\r\n" + string(root) + "\n\n# end\n" + block(ca), changed: true},
		{name: "a marker alone is dropped, what follows kept", bundle: caMarker + "\n# not a block\n" + string(root), want: "# not a block\n" + string(root) + block(ca), changed: true},
		{name: "a cut-short block ends at a line that is not base64", bundle: caMarker + "\n-----BEGIN CERTIFICATE-----\nAAAA\n# next\n" + string(root), want: "# next\n" + string(root) + block(ca), changed: true},
		{name: "a line that only starts like the marker is kept", bundle: caMarker + "x\n" + string(root), want: caMarker + "x\n" + string(root) + block(ca), changed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed, err := AddCA([]byte(tt.bundle), ca)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("bundle (-want +got):\n%s", diff)
			}
			if changed != tt.changed {
				t.Errorf("changed = %v, want %v", changed, tt.changed)
			}
		})
	}
}

func TestAddCARefusesWhatIsNotACACertificate(t *testing.T) {
	ca := testpki.New(t, "", "bottle")
	leaf, _, err := testpki.PEM(ca.ServerCert(t, "leaf.test"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cert []byte
		err  string
	}{
		{"empty", nil, "no PEM certificate"},
		{"a key", ca.KeyPEM, "no PEM certificate"},
		{"two certificates", append(bytes.Clone(ca.CertPEM), ca.CertPEM...), "more than one PEM block"},
		{"garbage in a block", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), "parse the certificate"},
		{"a leaf", leaf, "not a CA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := AddCA(nil, tt.cert); err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("AddCA = %v; want an error containing %q", err, tt.err)
			}
		})
	}
}
