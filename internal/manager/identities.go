package manager

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/kordon-dev/kordon/internal/pki"
	"github.com/kordon-dev/kordon/internal/store"
)

// ErrRevoked: a client certificate whose identity no longer exists.
var ErrRevoked = errors.New("identity revoked")

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// issueIdentity issues a client certificate for a cluster or agent and
// returns it with its key and serial.
func (m *Manager) issueIdentity(ctx context.Context, name, kind string) (Credentials, string, error) {
	ca, err := m.ca(ctx)
	if err != nil {
		return Credentials{}, "", err
	}
	issued, err := ca.IssueClient(name, kind, 5)
	if err != nil {
		return Credentials{}, "", err
	}
	serial, err := pki.SerialOf(issued.CertPEM)
	if err != nil {
		return Credentials{}, "", err
	}
	return Credentials{Cert: string(issued.CertPEM), Key: string(issued.KeyPEM)}, serial, nil
}

// rotateIdentity issues a new certificate for the cluster or agent whose
// record is at key and stores its serial in the record, conditioned on the
// record read: the old certificate is refused from the moment the new
// record is applied, and a rotation racing another change of the record
// fails rather than undo it. refuse says why a record has no identity to
// rotate; missing is the error when there is no record.
func rotateIdentity[T any](m *Manager, ctx context.Context, key, kind, name string, missing error,
	refuse func(*T) error, setSerial func(*T, string)) (T, Credentials, error) {
	var rec T
	kv, ok, err := m.st.Get(ctx, key)
	if err != nil {
		return rec, Credentials{}, err
	}
	if !ok {
		return rec, Credentials{}, missing
	}
	if err := json.Unmarshal(kv.Value, &rec); err != nil {
		return rec, Credentials{}, fmt.Errorf("%s %q: its stored record cannot be read: %w", kind, name, err)
	}
	if refuse != nil {
		if err := refuse(&rec); err != nil {
			return rec, Credentials{}, err
		}
	}
	creds, serial, err := m.issueIdentity(ctx, name, kind)
	if err != nil {
		return rec, Credentials{}, err
	}
	setSerial(&rec, serial)
	b, _ := json.Marshal(rec)
	mod := kv.ModRevision
	rev, err := m.st.Commit(ctx, []store.Cond{{Key: key, ModRevision: &mod}}, []store.Op{{Key: key, Value: b}})
	if errors.Is(err, store.ErrConflict) {
		return rec, Credentials{}, &WriteError{Kind: ErrConflict, Message: fmt.Sprintf("%s %q changed while its identity was rotated; try again", kind, name)}
	}
	if err != nil {
		return rec, Credentials{}, err
	}
	return rec, creds, m.WaitApplied(ctx, rev)
}
