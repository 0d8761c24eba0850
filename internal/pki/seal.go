package pki

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// A seal key encrypts the secrets kordon must keep in its store (the CA's
// private key) with AES-256-GCM, as Kubernetes' encryption at rest does
// for Secrets: whoever reads the store without the key file learns
// nothing of them. The key lives in a file beside the manager, never in
// the store.
type SealKey struct {
	// ID names the key in what it sealed: the first 8 bytes of the
	// SHA-256 of the key, in hex.
	ID  string
	key [32]byte
}

// sealKeyHeader starts a seal key file.
const sealKeyHeader = "kordon-seal-key-v1 "

// NewSealKey makes a random seal key.
func NewSealKey() (SealKey, error) {
	var k SealKey
	if _, err := rand.Read(k.key[:]); err != nil {
		return k, err
	}
	k.ID = keyID(k.key[:])
	return k, nil
}

func keyID(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// Marshal writes the key in its file format: one line.
func (k SealKey) Marshal() []byte {
	return []byte(sealKeyHeader + base64.StdEncoding.EncodeToString(k.key[:]) + "\n")
}

// ParseSealKey reads a seal key file.
func ParseSealKey(b []byte) (SealKey, error) {
	var k SealKey
	s := strings.TrimSpace(string(b))
	rest, ok := strings.CutPrefix(s, sealKeyHeader)
	if !ok {
		return k, errors.New("not a kordon seal key (it starts with \"kordon-seal-key-v1\"; `kordon seal keygen FILE` writes one)")
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if err != nil || len(raw) != len(k.key) {
		return k, errors.New("the seal key is damaged: it must hold 32 bytes in base64")
	}
	copy(k.key[:], raw)
	k.ID = keyID(k.key[:])
	return k, nil
}

// Keyring holds the seal keys a manager has: the first seals, any of
// them opens. Rotation adds a new key in front, re-seals, then drops
// the old one.
type Keyring []SealKey

// Sealed is a secret sealed with one key of a keyring.
type Sealed struct {
	KeyID string `json:"key_id"`
	Nonce []byte `json:"nonce"`
	Data  []byte `json:"data"`
}

// Primary returns the key that seals.
func (r Keyring) Primary() (SealKey, bool) {
	if len(r) == 0 {
		return SealKey{}, false
	}
	return r[0], true
}

// IDs lists the keys' ids.
func (r Keyring) IDs() []string {
	out := make([]string, len(r))
	for i, k := range r {
		out[i] = k.ID
	}
	return out
}

// Seal encrypts plain with the primary key. The purpose is authenticated
// with it, so a sealed secret cannot be moved to another use.
func (r Keyring) Seal(plain []byte, purpose string) (Sealed, error) {
	k, ok := r.Primary()
	if !ok {
		return Sealed{}, errors.New("no seal key")
	}
	aead, err := k.aead()
	if err != nil {
		return Sealed{}, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return Sealed{}, err
	}
	return Sealed{KeyID: k.ID, Nonce: nonce, Data: aead.Seal(nil, nonce, plain, []byte(purpose))}, nil
}

// ErrNoSealKey: a secret was sealed with a key the keyring does not hold.
var ErrNoSealKey = errors.New("the secret is sealed with a key this manager does not have")

// Open decrypts a sealed secret with the key it names.
func (r Keyring) Open(s Sealed, purpose string) ([]byte, error) {
	for _, k := range r {
		if k.ID != s.KeyID {
			continue
		}
		aead, err := k.aead()
		if err != nil {
			return nil, err
		}
		plain, err := aead.Open(nil, s.Nonce, s.Data, []byte(purpose))
		if err != nil {
			return nil, fmt.Errorf("the secret sealed with key %s does not open with it: it was altered, or the key file is not the one it was sealed with", s.KeyID)
		}
		return plain, nil
	}
	return nil, fmt.Errorf("%w (key %s; this manager has %s)", ErrNoSealKey, s.KeyID, orNone(r.IDs()))
}

func orNone(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ", ")
}

func (k SealKey) aead() (cipher.AEAD, error) {
	var zero [32]byte
	if bytes.Equal(k.key[:], zero[:]) {
		return nil, errors.New("the seal key is empty")
	}
	b, err := aes.NewCipher(k.key[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// KeyringForTest returns a keyring of one new key.
func KeyringForTest() Keyring {
	k, err := NewSealKey()
	if err != nil {
		panic(err)
	}
	return Keyring{k}
}
