package manager

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"

	"github.com/kordon-dev/kordon/internal/pki"
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
