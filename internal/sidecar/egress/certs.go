package egress

import (
	"container/list"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/shared/pki"
)

// leafCacheSize bounds the minted-certificate cache; a bottle talks to a
// handful of hosts.
const leafCacheSize = 1024

// minter signs leaf certificates for MITM'd hosts with the bottle CA and
// caches them by normalised host. Leaves are ECDSA P-256: minting one
// costs about 0.1 ms against 40 ms for RSA-2048.
type minter struct {
	ca      *pki.CA
	leafKey *ecdsa.PrivateKey // one key for every leaf: only the CA key is a secret worth isolating

	mu    sync.Mutex // guards cache and order
	cache map[string]*list.Element
	order *list.List // of *leafEntry, most recently used first
}

type leafEntry struct {
	host string
	cert *tls.Certificate
}

// leafValidity is how long a minted leaf is valid; egress restarts (and
// forgets its cache) long before.
const leafValidity = 7 * 24 * time.Hour

func loadMinter(certPath, keyPath string) (*minter, error) {
	ca, err := pki.LoadCA(certPath, keyPath)
	if err != nil {
		return nil, err
	}
	leafKey, err := pki.NewKey()
	if err != nil {
		return nil, err
	}
	return &minter{ca: ca, leafKey: leafKey, cache: map[string]*list.Element{}, order: list.New()}, nil
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
	chain, err := m.ca.Sign(&m.leafKey.PublicKey, time.Now(), leafValidity, host)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: chain, PrivateKey: m.leafKey}, nil
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
