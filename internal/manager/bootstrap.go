package manager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/kordon-dev/kordon/internal/access"
	"github.com/kordon-dev/kordon/internal/license"
	"github.com/kordon-dev/kordon/internal/pki"
	"github.com/kordon-dev/kordon/internal/store"
)

// EvaluationDays is how long the license a new installation starts with
// lasts.
const EvaluationDays = 60

// Bootstrap is what the first start of an installation creates.
type Bootstrap struct {
	CA pki.CA
	// AdminToken is set only when this call created the installation: it
	// is shown once and stored only as a hash.
	AdminToken string
	Created    bool
	// Resealed names the key the CA was sealed with again, when it was
	// sealed with another key (rotation) or not sealed at all (an
	// installation of an earlier version).
	Resealed string
}

// caPurpose binds the sealed CA key to its use.
const caPurpose = "kordon/v1/pki/ca"

// storedCA is the CA as the store holds it: the certificate, and the key
// sealed with the managers' seal key. Key is the plain key of
// installations made before sealing; it is sealed at the next start.
type storedCA struct {
	Cert      []byte      `json:"cert"`
	Key       []byte      `json:"key,omitempty"`
	SealedKey *pki.Sealed `json:"sealed_key,omitempty"`
}

func unsealCA(value []byte, ring pki.Keyring) (pki.CA, error) {
	var s storedCA
	if err := json.Unmarshal(value, &s); err != nil {
		return pki.CA{}, fmt.Errorf("the stored CA cannot be read: %w", err)
	}
	if s.SealedKey == nil {
		if len(s.Key) == 0 {
			return pki.CA{}, errors.New("the stored CA has no key")
		}
		return pki.CA{CertPEM: s.Cert, KeyPEM: s.Key}, nil
	}
	key, err := ring.Open(*s.SealedKey, caPurpose)
	if err != nil {
		return pki.CA{}, fmt.Errorf("the CA's key: %w", err)
	}
	return pki.CA{CertPEM: s.Cert, KeyPEM: key}, nil
}

func sealCA(ca pki.CA, ring pki.Keyring) ([]byte, error) {
	sealed, err := ring.Seal(ca.KeyPEM, caPurpose)
	if err != nil {
		return nil, err
	}
	return json.Marshal(storedCA{Cert: ca.CertPEM, SealedKey: &sealed})
}

// Installed reports whether the store holds an installation, and refuses a
// store that holds part of one.
func Installed(ctx context.Context, st *store.Store) (bool, error) {
	_, ca, err := st.Get(ctx, store.CAKey)
	if err != nil {
		return false, err
	}
	_, init, err := st.Get(ctx, store.InitKey)
	if err != nil {
		return false, err
	}
	if ca != init {
		return false, fmt.Errorf("the store holds part of an installation (%s %v, %s %v); it is damaged: restore it from a backup", store.CAKey, ca, store.InitKey, init)
	}
	return ca, nil
}

// Prepared is a new installation made but not yet stored: the caller
// keeps its admin token somewhere safe first, then Commits it.
type Prepared struct {
	Bootstrap
	ops []store.Op
}

// Prepare makes a new installation: a CA (its key sealed with the
// keyring's primary key), an admin token, and a 60-day evaluation license
// (signed by a key made for it and then discarded, whose public half the
// store trusts).
func Prepare(now time.Time, ring pki.Keyring) (*Prepared, error) {
	ca, err := pki.NewCA("kordon CA")
	if err != nil {
		return nil, err
	}
	caJSON, err := sealCA(ca, ring)
	if err != nil {
		return nil, err
	}
	token, hash := pki.NewToken()
	tok, _ := json.Marshal(Token{ID: "admin", Hash: hash, Role: access.Admin, Description: "created on first start", Created: now.UTC()})
	lic, pub, err := license.Evaluation(EvaluationDays, now)
	if err != nil {
		return nil, err
	}
	licJSON, _ := json.Marshal(lic)
	ops := []store.Op{
		{Key: store.CAKey, Value: caJSON},
		{Key: store.TokensPrefix + "admin", Value: tok},
		{Key: store.TrustPrefix + license.KeyID(pub), Value: license.MarshalPublicKey(pub)},
		{Key: store.LicenseKey, Value: licJSON},
		{Key: store.InitKey, Value: []byte(now.UTC().Format(time.RFC3339))},
	}
	return &Prepared{Bootstrap: Bootstrap{CA: ca, AdminToken: token, Created: true}, ops: ops}, nil
}

// ErrInstalled: another manager created the installation first.
var ErrInstalled = errors.New("the installation already exists")

// Commit stores a prepared installation in one transaction, unless one
// exists (ErrInstalled: read it with Open).
func (p *Prepared) Commit(ctx context.Context, st *store.Store) error {
	none := int64(0)
	_, err := st.Commit(ctx, []store.Cond{{Key: store.CAKey, ModRevision: &none}, {Key: store.InitKey, ModRevision: &none}}, p.ops)
	if errors.Is(err, store.ErrConflict) {
		return ErrInstalled
	}
	return err
}

// Open reads an existing installation's CA with the keyring. It seals the
// CA's key with the primary key when it is sealed with another one (seal
// key rotation) or not at all (an earlier version's installation), and
// deletes the cluster and agent keys earlier versions stored.
func Open(ctx context.Context, st *store.Store, ring pki.Keyring) (Bootstrap, error) {
	kv, ok, err := st.Get(ctx, store.CAKey)
	if err != nil {
		return Bootstrap{}, err
	}
	if !ok {
		return Bootstrap{}, errors.New("the store holds no installation")
	}
	ca, err := unsealCA(kv.Value, ring)
	if err != nil {
		return Bootstrap{}, err
	}
	b := Bootstrap{CA: ca}
	var s storedCA
	_ = json.Unmarshal(kv.Value, &s)
	primary, _ := ring.Primary()
	if s.SealedKey == nil || s.SealedKey.KeyID != primary.ID {
		v, err := sealCA(ca, ring)
		if err != nil {
			return Bootstrap{}, err
		}
		mod := kv.ModRevision
		_, err = st.Commit(ctx, []store.Cond{{Key: store.CAKey, ModRevision: &mod}}, []store.Op{{Key: store.CAKey, Value: v}})
		if err != nil && !errors.Is(err, store.ErrConflict) { // a conflict: another manager re-sealed it
			return Bootstrap{}, fmt.Errorf("sealing the CA with key %s: %w", primary.ID, err)
		}
		b.Resealed = primary.ID
	}
	if _, err := st.Commit(ctx, nil, []store.Op{
		{Key: store.LegacyClusterCredentialsPrefix, Delete: true, Prefix: true},
		{Key: store.LegacyAgentCredentialsPrefix, Delete: true, Prefix: true},
	}); err != nil {
		return Bootstrap{}, fmt.Errorf("deleting the private keys an earlier version stored: %w", err)
	}
	return b, nil
}

// Initialize opens the installation, creating it first when the store has
// none (tests and tools that keep no files; kordon serve prepares and
// commits in steps, so the admin token is on disk before it is stored).
func Initialize(ctx context.Context, st *store.Store, now time.Time, ring pki.Keyring) (Bootstrap, error) {
	installed, err := Installed(ctx, st)
	if err != nil {
		return Bootstrap{}, err
	}
	if !installed {
		p, err := Prepare(now, ring)
		if err != nil {
			return Bootstrap{}, err
		}
		err = p.Commit(ctx, st)
		if err == nil {
			return p.Bootstrap, nil
		}
		if !errors.Is(err, ErrInstalled) {
			return Bootstrap{}, err
		}
	}
	return Open(ctx, st, ring)
}
