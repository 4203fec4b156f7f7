package pki

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestIssuedLeafServesTLS: a real TLS handshake trusts a leaf the CA
// signed, for a name and an IP, and refuses other names.
func TestIssuedLeafServesTLS(t *testing.T) {
	now := time.Now()
	ca, err := NewCA("test CA", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(now, time.Hour, "api.example.test", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{leaf}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	for _, c := range []struct {
		name string
		ok   bool
	}{{"api.example.test", true}, {"127.0.0.1", true}, {"other.example.test", false}} {
		conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: ca.Pool(), ServerName: c.name})
		if (err == nil) != c.ok {
			t.Errorf("handshake as %s: err = %v, want ok=%v", c.name, err, c.ok)
		}
		if conn != nil {
			conn.Close()
		}
	}
}

// TestCASignsOnlyLeaves: path length zero, so a leaf it signs cannot act
// as a CA for a further certificate.
func TestCASignsOnlyLeaves(t *testing.T) {
	now := time.Now()
	ca, err := NewCA("test CA", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.Cert.IsCA || !ca.Cert.MaxPathLenZero || ca.Cert.MaxPathLen != 0 {
		t.Fatalf("CA: IsCA=%v MaxPathLenZero=%v MaxPathLen=%d", ca.Cert.IsCA, ca.Cert.MaxPathLenZero, ca.Cert.MaxPathLen)
	}
	leaf, err := ca.Issue(now, time.Hour, "x.test")
	if err != nil {
		t.Fatal(err)
	}
	l, _ := x509.ParseCertificate(leaf.Certificate[0])
	if l.IsCA {
		t.Fatal("the leaf is a CA")
	}
	if l.NotAfter.After(now.Add(time.Hour)) {
		t.Errorf("leaf NotAfter %v is past its validity", l.NotAfter)
	}
}

// TestPEMRoundTripsThroughLoadCA: what KeyPEM and CertPEM write, LoadCA
// reads back, and the loaded CA signs leaves the original's pool trusts.
func TestPEMRoundTripsThroughLoadCA(t *testing.T) {
	now := time.Now()
	ca, err := NewCA("round trip", now, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(keyPEM), "BEGIN PRIVATE KEY") {
		t.Fatalf("key PEM is not PKCS #8:\n%s", keyPEM)
	}
	certPath, keyPath := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	if err := os.WriteFile(certPath, ca.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadCA(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := loaded.Issue(now, time.Hour, "x.test")
	if err != nil {
		t.Fatal(err)
	}
	l, _ := x509.ParseCertificate(leaf.Certificate[0])
	if _, err := l.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "x.test"}); err != nil {
		t.Fatalf("leaf from the loaded CA does not verify against the original: %v", err)
	}
}

func TestLoadCARefusesALeaf(t *testing.T) {
	now := time.Now()
	ca, _ := NewCA("c", now, time.Hour)
	leaf, _ := ca.Issue(now, time.Hour, "x.test")
	certPEM, keyPEM, err := PEM(leaf)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "c"), certPEM, 0o600)
	os.WriteFile(filepath.Join(dir, "k"), keyPEM, 0o600)
	if _, err := LoadCA(filepath.Join(dir, "c"), filepath.Join(dir, "k")); err == nil || !strings.Contains(err.Error(), "not a CA") {
		t.Fatalf("LoadCA of a leaf: %v, want 'not a CA'", err)
	}
}

func TestSignNeedsAHost(t *testing.T) {
	ca, _ := NewCA("c", time.Now(), time.Hour)
	if _, err := ca.Issue(time.Now(), time.Hour); err == nil {
		t.Fatal("Issue with no host succeeded")
	}
}
