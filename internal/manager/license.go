package manager

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"

	"github.com/kordon-dev/kordon/internal/license"
	"github.com/kordon-dev/kordon/internal/store"
)

// LicenseStatus is the installed license and whether it is valid.
type LicenseStatus struct {
	License *license.License `json:"license,omitempty"`
	Valid   bool             `json:"valid"`
	Error   string           `json:"error,omitempty"`
	// Features in force now.
	Active []string `json:"active_features"`
}

// License describes the installed license.
func (m *Manager) License() LicenseStatus {
	m.mu.RLock()
	defer m.mu.RUnlock()
	s := LicenseStatus{License: m.lic, Valid: m.lic != nil, Active: []string{}}
	if m.licErr != nil {
		s.Error = m.licErr.Error()
	}
	for _, f := range license.Known {
		if m.lic.Grants(f, m.now()) == nil {
			s.Active = append(s.Active, f)
		}
	}
	return s
}

// InstallLicense verifies and stores a license.
func (m *Manager) InstallLicense(ctx context.Context, l license.License) error {
	m.mu.RLock()
	trusted := m.trustedLocked()
	m.mu.RUnlock()
	if err := license.Verify(l, trusted); err != nil {
		return &WriteError{Kind: ErrInvalid, Message: err.Error() + " (start the manager with --license-trust KEY.pub for your signing key)"}
	}
	if !m.now().Before(l.Expires) {
		return &WriteError{Kind: ErrInvalid, Message: fmt.Sprintf("license %s expired on %s", l.ID, l.Expires.Format("2006-01-02"))}
	}
	b, _ := json.Marshal(l)
	rev, err := m.st.Commit(ctx, nil, []store.Op{{Key: store.LicenseKey, Value: b}})
	if err != nil {
		return err
	}
	return m.WaitApplied(ctx, rev)
}

// setLicenseLocked verifies the stored license against every trusted key.
func (m *Manager) setLicenseLocked(raw []byte) {
	m.lic, m.licErr = nil, nil
	if raw == nil {
		return
	}
	l, err := license.Parse(raw)
	if err == nil {
		err = license.Verify(l, m.trustedLocked())
	}
	if err != nil {
		m.licErr = err
		m.log.Warn("the stored license is not valid", "error", err)
		return
	}
	m.lic = &l
}

func (m *Manager) trustedLocked() []ed25519.PublicKey {
	out := append([]ed25519.PublicKey(nil), m.trust...)
	for _, k := range m.storedKey {
		out = append(out, k)
	}
	return out
}
