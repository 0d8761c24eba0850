package pki

import (
	"errors"
	"strings"
	"testing"
)

func TestSeal(t *testing.T) {
	old, _ := NewSealKey()
	cur, _ := NewSealKey()
	secret := []byte("-----BEGIN PRIVATE KEY-----\nsecret\n")
	s, err := Keyring{old}.Seal(secret, "ca")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(s.Data), "secret") {
		t.Fatal("sealed data holds the plain text")
	}
	// Rotation: a keyring with the new key first still opens the old seal.
	if got, err := (Keyring{cur, old}).Open(s, "ca"); err != nil || string(got) != string(secret) {
		t.Fatalf("open after rotation: %q %v", got, err)
	}
	if _, err := (Keyring{cur}).Open(s, "ca"); !errors.Is(err, ErrNoSealKey) || !strings.Contains(err.Error(), old.ID) {
		t.Fatalf("open without the key: %v", err)
	}
	if _, err := (Keyring{old}).Open(s, "other"); err == nil {
		t.Fatal("a seal opened for another purpose")
	}
	s.Data[0] ^= 1
	if _, err := (Keyring{old}).Open(s, "ca"); err == nil || !strings.Contains(err.Error(), "altered") {
		t.Fatalf("a flipped byte: %v", err)
	}
	// File format round trip, and damaged files.
	k, err := ParseSealKey(old.Marshal())
	if err != nil || k.ID != old.ID {
		t.Fatalf("parse: %+v %v", k, err)
	}
	for _, bad := range []string{"", "kordon-seal-key-v1 AAAA", "something else", "kordon-seal-key-v1 !!!"} {
		if _, err := ParseSealKey([]byte(bad)); err == nil {
			t.Errorf("ParseSealKey(%q) accepted", bad)
		}
	}
	if _, err := (Keyring{}).Seal(secret, "ca"); err == nil {
		t.Fatal("sealed with no key")
	}
}
