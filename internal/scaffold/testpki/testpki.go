// Package testpki makes throwaway certificate authorities and server
// certificates: a bottle CA for egress to mint with in tests, upstream CAs
// for test servers, benchmarks and the demo's pretend internet. A real
// bottle's CA comes from internal/host/render, never from here.
package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"path/filepath"
	"time"
)

// validity is how long the certificates made here are valid: they live
// for one test, benchmark or demo run.
const validity = 24 * time.Hour

// CA is an ECDSA P-256 certificate authority.
type CA struct {
	Cert     *x509.Certificate
	Key      *ecdsa.PrivateKey
	CertPEM  []byte
	KeyPEM   []byte // "EC PRIVATE KEY"
	CertPath string // where CertPEM was written; "" if it was not
	KeyPath  string // where KeyPEM was written (mode 0600); "" if it was not
}

// NewCA makes a CA named name and, unless dir is "", writes it into dir as
// NAME.crt and NAME.key.
func NewCA(dir, name string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(validity),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("make CA %s: %w", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	ca := &CA{
		Cert: cert, Key: key,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
	}
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

// TB is the part of testing.TB the test helpers use (so that the demo,
// which uses NewCA, does not link the testing package into bot-bottle).
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
	if len(hosts) == 0 {
		return tls.Certificate{}, errors.New("issue a server certificate: no host")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: hosts[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(validity),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip, err := netip.ParseAddr(h); err == nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip.AsSlice())
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("issue a server certificate for %s: %w", hosts[0], err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
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

// PEM returns an issued certificate and its private key ("PRIVATE KEY",
// PKCS #8) as PEM, for a server that loads them from files.
func PEM(c tls.Certificate) (certPEM, keyPEM []byte, err error) {
	if len(c.Certificate) == 0 {
		return nil, nil, errors.New("no certificate")
	}
	kder, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), nil
}

// Pool returns a cert pool trusting only this CA.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}
