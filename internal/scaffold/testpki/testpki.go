// Package testpki makes throwaway certificate authorities and server
// certificates for tests and benchmarks: a bottle CA for egress to mint
// with, upstream CAs for test servers. It is internal/shared/pki with the
// conveniences tests want (files written, errors ending the test, a short
// validity); a real bottle's CA comes from internal/host/render.
package testpki

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/shared/pki"
)

// validity is how long the certificates made here are valid: they live
// for one test or benchmark run.
const validity = 24 * time.Hour

// CA is a throwaway certificate authority.
type CA struct {
	*pki.CA
	CertPEM  []byte
	KeyPEM   []byte // PKCS #8 "PRIVATE KEY"
	CertPath string // where CertPEM was written; "" if it was not
	KeyPath  string // where KeyPEM was written (mode 0600); "" if it was not
}

// NewCA makes a CA named name and, unless dir is "", writes it into dir as
// NAME.crt and NAME.key.
func NewCA(dir, name string) (*CA, error) {
	c, err := pki.NewCA(name, time.Now(), validity)
	if err != nil {
		return nil, err
	}
	keyPEM, err := c.KeyPEM()
	if err != nil {
		return nil, err
	}
	ca := &CA{CA: c, CertPEM: c.CertPEM(), KeyPEM: keyPEM}
	if dir == "" {
		return ca, nil
	}
	ca.CertPath, ca.KeyPath = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(ca.CertPath, ca.CertPEM, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(ca.KeyPath, ca.KeyPEM, 0o600); err != nil {
		return nil, err
	}
	return ca, nil
}

// TB is the part of testing.TB the helpers use; benchmarks' own mains
// pass something else that fails the run.
type TB interface {
	Helper()
	Fatal(args ...any)
}

// New is NewCA for tests: an error ends the test.
func New(t TB, dir, name string) *CA {
	t.Helper()
	ca, err := NewCA(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// Issue issues a server certificate for hosts (names or IPs; the first is
// the common name).
func (ca *CA) Issue(hosts ...string) (tls.Certificate, error) {
	return ca.CA.Issue(time.Now(), validity, hosts...)
}

// ServerCert is Issue for tests: an error ends the test.
func (ca *CA) ServerCert(t TB, hosts ...string) tls.Certificate {
	t.Helper()
	c, err := ca.Issue(hosts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// PEM returns an issued certificate and its private key as PEM.
func PEM(c tls.Certificate) (certPEM, keyPEM []byte, err error) { return pki.PEM(c) }

// Pool returns a cert pool trusting only this CA.
func (ca *CA) Pool() *x509.CertPool { return ca.CA.Pool() }
