package manager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

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
}

// Initialize makes sure the installation exists: on the first start it
// creates the CA every manager of the installation shares, an admin
// token, and a 60-day evaluation license (signed by a key made for it and
// then discarded, whose public half the store trusts). Later starts, and
// other managers racing the first, read what was created.
func Initialize(ctx context.Context, st *store.Store, now time.Time) (Bootstrap, error) {
	for {
		kv, ok, err := st.Get(ctx, store.CAKey)
		if err != nil {
			return Bootstrap{}, err
		}
		if ok {
			var ca pki.CA
			if err := json.Unmarshal(kv.Value, &ca); err != nil {
				return Bootstrap{}, fmt.Errorf("stored CA: %w", err)
			}
			return Bootstrap{CA: ca}, nil
		}
		b, ops, err := newInstallation(now)
		if err != nil {
			return Bootstrap{}, err
		}
		none := int64(0)
		_, err = st.Commit(ctx, []store.Cond{{Key: store.CAKey, ModRevision: &none}}, ops)
		if errors.Is(err, store.ErrConflict) {
			continue // another manager initialized first
		}
		if err != nil {
			return Bootstrap{}, err
		}
		return b, nil
	}
}

func newInstallation(now time.Time) (Bootstrap, []store.Op, error) {
	ca, err := pki.NewCA("kordon CA")
	if err != nil {
		return Bootstrap{}, nil, err
	}
	caJSON, _ := json.Marshal(ca)
	token, hash := pki.NewToken()
	tok, _ := json.Marshal(Token{ID: "admin", Hash: hash, Role: RoleAdmin, Description: "created on first start", Created: now})
	lic, pub, err := license.Evaluation(EvaluationDays, now)
	if err != nil {
		return Bootstrap{}, nil, err
	}
	licJSON, _ := json.Marshal(lic)
	ops := []store.Op{
		{Key: store.CAKey, Value: caJSON},
		{Key: store.TokensPrefix + "admin", Value: tok},
		{Key: store.TrustPrefix + license.KeyID(pub), Value: license.MarshalPublicKey(pub)},
		{Key: store.LicenseKey, Value: licJSON},
		{Key: store.InitKey, Value: []byte(now.UTC().Format(time.RFC3339))},
	}
	return Bootstrap{CA: ca, AdminToken: token, Created: true}, ops, nil
}
