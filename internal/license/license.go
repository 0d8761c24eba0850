// Package license owns entitlement: signed documents (Ed25519) that grant
// the security features kordon's seed requires a license for, the
// distributed firewall (DFW) and the gateway firewall (GFW), until an
// expiry. A manager verifies a license against the public keys its
// operator trusts; nothing else decides what is licensed.
package license

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Features a license can grant.
const (
	DFW = "DFW"
	GFW = "GFW"
)

// Known lists every feature.
var Known = []string{DFW, GFW}

// License is a signed grant.
type License struct {
	ID         string    `json:"id"`
	Licensee   string    `json:"licensee"`
	Features   []string  `json:"features"`
	NotBefore  time.Time `json:"not_before"`
	Expires    time.Time `json:"expires"`
	Evaluation bool      `json:"evaluation,omitempty"`
	// KeyID names the key that signed it: the first 16 hex digits of the
	// SHA-256 of the public key.
	KeyID     string `json:"key_id"`
	Signature []byte `json:"signature"`
}

// payload is what the signature covers: every field but the signature,
// in a fixed encoding.
func (l License) payload() []byte {
	l.Signature = nil
	b, _ := json.Marshal(l)
	return b
}

// KeyID identifies a public key.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// GenerateKey creates a signing key pair.
func GenerateKey() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	return ed25519.GenerateKey(rand.Reader)
}

// Sign fills in KeyID and Signature.
func Sign(l License, priv ed25519.PrivateKey) (License, error) {
	if err := l.check(); err != nil {
		return l, err
	}
	l.KeyID = KeyID(priv.Public().(ed25519.PublicKey))
	l.Signature = ed25519.Sign(priv, l.payload())
	return l, nil
}

func (l License) check() error {
	if l.ID == "" {
		return errors.New("license: id is required")
	}
	if len(l.Features) == 0 {
		return errors.New("license: at least one feature is required (DFW, GFW)")
	}
	for _, f := range l.Features {
		if !slices.Contains(Known, f) {
			return fmt.Errorf("license: unknown feature %q (known: %s)", f, strings.Join(Known, ", "))
		}
	}
	if !l.Expires.After(l.NotBefore) {
		return errors.New("license: expires must be after not_before")
	}
	return nil
}

// Verify checks the license's signature against the trusted keys.
func Verify(l License, trusted []ed25519.PublicKey) error {
	if err := l.check(); err != nil {
		return err
	}
	for _, k := range trusted {
		if KeyID(k) == l.KeyID && ed25519.Verify(k, l.payload(), l.Signature) {
			return nil
		}
	}
	return fmt.Errorf("license %s: the signature is not from a trusted key (signed by key %s)", l.ID, l.KeyID)
}

// Grants reports whether the (verified) license grants a feature at time
// now, with an error saying what is missing.
func (l *License) Grants(feature string, now time.Time) error {
	switch {
	case l == nil:
		return fmt.Errorf("no license is installed; the %s entitlement is required (install one with `kordon license install`)", feature)
	case !slices.Contains(l.Features, feature):
		return fmt.Errorf("license %s does not include the %s entitlement (it grants %s)", l.ID, feature, strings.Join(l.Features, ", "))
	case now.Before(l.NotBefore):
		return fmt.Errorf("license %s is not valid before %s", l.ID, l.NotBefore.Format(time.RFC3339))
	case !now.Before(l.Expires):
		return fmt.Errorf("license %s expired on %s; the %s entitlement is required to change firewall policy (policies already configured stay enforced)", l.ID, l.Expires.Format(time.RFC3339), feature)
	}
	return nil
}

// MarshalPublicKey encodes a public key as PEM.
func MarshalPublicKey(pub ed25519.PublicKey) []byte {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// MarshalPrivateKey encodes a private key as PEM.
func MarshalPrivateKey(priv ed25519.PrivateKey) []byte {
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// ParsePublicKey decodes a PEM public key.
func ParsePublicKey(b []byte) (ed25519.PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("not a PEM public key")
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, errors.New("not an Ed25519 public key")
	}
	return pub, nil
}

// ParsePrivateKey decodes a PEM private key.
func ParsePrivateKey(b []byte) (ed25519.PrivateKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("not a PEM private key")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, errors.New("not an Ed25519 private key")
	}
	return priv, nil
}

// Parse decodes a license document.
func Parse(b []byte) (License, error) {
	var l License
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return l, fmt.Errorf("license: %w", err)
	}
	return l, l.check()
}

// Evaluation issues a license for every feature, valid for days from now,
// signed by a key made for it alone. It returns the license and the key
// to trust; the private key is not kept, so no other license can be made
// with it.
func Evaluation(days int, now time.Time) (License, ed25519.PublicKey, error) {
	pub, priv, err := GenerateKey()
	if err != nil {
		return License{}, nil, err
	}
	l, err := Sign(License{ID: "evaluation-" + KeyID(pub)[:8], Licensee: "evaluation", Features: slices.Clone(Known),
		NotBefore: now.Add(-time.Minute), Expires: now.AddDate(0, 0, days), Evaluation: true}, priv)
	return l, pub, err
}
