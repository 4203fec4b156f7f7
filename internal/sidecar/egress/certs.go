package egress

import (
	"container/list"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net/netip"
	"os"
	"sync"
	"time"
)

// leafCacheSize bounds the minted-certificate cache; a bottle talks to a
// handful of hosts.
const leafCacheSize = 1024

// minter signs leaf certificates for MITM'd hosts with the bottle CA and
// caches them by normalised host. Leaves are ECDSA P-256: minting one
// costs about 0.1 ms against 40 ms for RSA-2048.
type minter struct {
	caCert  *x509.Certificate
	caKey   crypto.Signer
	leafKey *ecdsa.PrivateKey // one key for every leaf: only the CA key is a secret worth isolating

	mu    sync.Mutex // guards cache and order
	cache map[string]*list.Element
	order *list.List // of *leafEntry, most recently used first
}

type leafEntry struct {
	host string
	cert *tls.Certificate
}

func loadMinter(certPath, keyPath string) (*minter, error) {
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, fmt.Errorf("load CA (%s, %s): %w", certPath, keyPath, err)
	}
	ca, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	if !ca.IsCA {
		return nil, errors.New("CA certificate is not a CA (basicConstraints CA:TRUE missing)")
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, errors.New("CA key cannot sign")
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return &minter{caCert: ca, caKey: signer, leafKey: leafKey, cache: map[string]*list.Element{}, order: list.New()}, nil
}

// leaf returns a certificate for host (normalised), minting it on first use.
func (m *minter) leaf(host string) (*tls.Certificate, error) {
	m.mu.Lock()
	if el, ok := m.cache[host]; ok {
		m.order.MoveToFront(el)
		m.mu.Unlock()
		return el.Value.(*leafEntry).cert, nil
	}
	m.mu.Unlock()
	cert, err := m.mint(host)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.cache[host]; ok { // minted concurrently
		return el.Value.(*leafEntry).cert, nil
	}
	m.cache[host] = m.order.PushFront(&leafEntry{host: host, cert: cert})
	if m.order.Len() > leafCacheSize {
		last := m.order.Back()
		m.order.Remove(last)
		delete(m.cache, last.Value.(*leafEntry).host)
	}
	return cert, nil
}

func (m *minter) mint(host string) (*tls.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: host},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ip.AsSlice())
	} else {
		tmpl.DNSNames = []string{host}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, m.caCert, &m.leafKey.PublicKey, m.caKey)
	if err != nil {
		return nil, fmt.Errorf("mint certificate for %s: %w", host, err)
	}
	return &tls.Certificate{Certificate: [][]byte{der, m.caCert.Raw}, PrivateKey: m.leafKey}, nil
}

// loadRoots returns the system roots plus the PEM bundle at extra.
func loadRoots(extra string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if extra == "" {
		return pool, nil
	}
	pem, err := os.ReadFile(extra)
	if err != nil {
		return nil, fmt.Errorf("read --upstream-ca: %w", err)
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("--upstream-ca %s holds no PEM certificate", extra)
	}
	return pool, nil
}
