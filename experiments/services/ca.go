package services

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// TLSFiles are the PEM files the store serves HTTPS with. CA is what clients trust
// (AWS_CA_BUNDLE); it is generated once per state dir and kept, so a client that saved it
// keeps working across daemon restarts. The server certificate is re-issued whenever it
// does not name the store's address (a new subnet) or is close to expiry.
type TLSFiles struct {
	CA, Cert, Key string
}

// caValidity and certValidity: the CA outlives any experiment campaign; the leaf is
// re-issued on demand, so a year is plenty.
const (
	caValidity   = 10 * 365 * 24 * time.Hour
	certValidity = 365 * 24 * time.Hour
	renewBefore  = 30 * 24 * time.Hour
)

// EnsureTLS makes (or reuses) dir/ca.pem + ca-key.pem and a server certificate for ip,
// signed by that CA, in dir/s3.pem + s3-key.pem. Keys are ECDSA P-256, files 0600 except
// the CA certificate (0644: it is mounted into sandboxes).
func EnsureTLS(dir string, ip netip.Addr) (TLSFiles, error) {
	f := TLSFiles{CA: filepath.Join(dir, "ca.pem"), Cert: filepath.Join(dir, "s3.pem"), Key: filepath.Join(dir, "s3-key.pem")}
	caKeyPath := filepath.Join(dir, "ca-key.pem")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return f, fmt.Errorf("tls dir: %w", err)
	}
	ca, caKey, err := loadPair(f.CA, caKeyPath)
	if errors.Is(err, os.ErrNotExist) {
		ca, caKey, err = newCA(f.CA, caKeyPath)
	}
	if err != nil {
		return f, fmt.Errorf("store CA in %s: %w", dir, err)
	}
	if cert, _, err := loadPair(f.Cert, f.Key); err == nil && certFits(cert, ca, ip) {
		return f, nil
	}
	if err := newLeaf(f, ca, caKey, ip); err != nil {
		return f, fmt.Errorf("store certificate for %s: %w", ip, err)
	}
	return f, nil
}

func certFits(cert, ca *x509.Certificate, ip netip.Addr) bool {
	if time.Until(cert.NotAfter) < renewBefore || cert.CheckSignatureFrom(ca) != nil {
		return false
	}
	return slices.ContainsFunc(cert.IPAddresses, func(a net.IP) bool {
		got, ok := netip.AddrFromSlice(a)
		return ok && got.Unmap() == ip
	})
}

func newCA(certPath, keyPath string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "faaslab local CA", Organization: []string{"faaslab"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	if err := writePair(certPath, keyPath, der, key); err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func newLeaf(f TLSFiles, ca *x509.Certificate, caKey *ecdsa.PrivateKey, ip netip.Addr) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "faaslab s3 " + ip.String(), Organization: []string{"faaslab"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(certValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{ip.AsSlice()},
		DNSNames:     []string{"localhost", "s3.faaslab.local"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	return writePair(f.Cert, f.Key, der, key)
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}

func writePair(certPath, keyPath string, der []byte, key *ecdsa.PrivateKey) error {
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return err
	}
	return writeAtomic(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// writeAtomic writes through a temporary file and a rename, so a crash never leaves a
// half-written key that the next start would choke on.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func loadPair(certPath, keyPath string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cb, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, err
	}
	kb, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, err
	}
	cblk, _ := pem.Decode(cb)
	kblk, _ := pem.Decode(kb)
	if cblk == nil || kblk == nil {
		return nil, nil, fmt.Errorf("%s or %s is not PEM", certPath, keyPath)
	}
	cert, err := x509.ParseCertificate(cblk.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", certPath, err)
	}
	key, err := x509.ParseECPrivateKey(kblk.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", keyPath, err)
	}
	return cert, key, nil
}
