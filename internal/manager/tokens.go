package manager

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/kordon-dev/kordon/internal/access"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/pki"
	"github.com/kordon-dev/kordon/internal/store"
)

// Token is a stored API token: its hash, never the token itself.
type Token struct {
	ID          string      `json:"id"`
	Hash        string      `json:"hash"`
	Role        access.Role `json:"role"`
	Project     string      `json:"project,omitempty"`
	Description string      `json:"description,omitempty"`
	Created     time.Time   `json:"created"`
	// Expires, when set, is when the token stops authenticating.
	Expires time.Time `json:"expires,omitzero"`
}

// TokenInfo is what the API shows of a token.
type TokenInfo struct {
	ID          string      `json:"id"`
	Role        access.Role `json:"role"`
	Project     string      `json:"project,omitempty"`
	Description string      `json:"description,omitempty"`
	Created     time.Time   `json:"created"`
	Expires     time.Time   `json:"expires,omitzero"`
	Expired     bool        `json:"expired,omitempty"`
	// LastUsed is when the token last authenticated a request, to the
	// minute (zero: never since it was created).
	LastUsed time.Time `json:"last_used,omitzero"`
}

// TokenRequest asks for a new token.
type TokenRequest struct {
	ID          string      `json:"id"`
	Role        access.Role `json:"role"`
	Project     string      `json:"project,omitempty"`
	Description string      `json:"description,omitempty"`
	// Expires, when set, must be in the future.
	Expires time.Time `json:"expires,omitzero"`
}

// tokenUseGranularity is how precisely last-used times are kept: a
// token's use is written to the store at most this often, so a busy
// token costs no write per request.
const tokenUseGranularity = time.Minute

// Authenticate returns who a bearer token belongs to. Expired and
// revoked tokens authenticate nobody.
func (m *Manager) Authenticate(token string) (access.Principal, bool) {
	h := pki.HashToken(token)
	m.mu.RLock()
	t, ok := m.tokens[h]
	m.mu.RUnlock()
	// The map is keyed by the hash of a 256-bit random secret: finding a
	// key reveals nothing an attacker can use; compare anyway in constant
	// time, so a lookup never short-cuts on a partial match.
	if !ok || !pki.SameHash(t.Hash, h) {
		return access.Principal{}, false
	}
	now := m.now()
	if !t.Expires.IsZero() && !now.Before(t.Expires) {
		return access.Principal{}, false
	}
	m.usedMu.Lock()
	m.used[t.ID] = now
	m.usedMu.Unlock()
	return access.TokenPrincipal(t.ID, t.Role, t.Project), true
}

// CreateToken stores a new token and returns it (the only time it is
// seen) with what is recorded of it.
func (m *Manager) CreateToken(ctx context.Context, q TokenRequest) (string, TokenInfo, error) {
	invalid := func(f string, a ...any) (string, TokenInfo, error) {
		return "", TokenInfo{}, &WriteError{Kind: ErrInvalid, Message: fmt.Sprintf(f, a...)}
	}
	if !idPattern.MatchString(q.ID) {
		return invalid("token id %q: use letters, digits, '.', '_' and '-' (at most 63, starting with a letter or digit)", q.ID)
	}
	if !access.ValidTokenRole(q.Role) {
		return invalid("role %q: use admin, reader, project-admin or project-reader", q.Role)
	}
	if q.Role.IsProjectRole() != (q.Project != "") {
		if q.Project == "" {
			return invalid("role %s needs the project it is confined to", q.Role)
		}
		return invalid("role %s acts on the whole installation; only project-admin and project-reader tokens name a project", q.Role)
	}
	if q.Project != "" {
		if _, ok := m.Project(q.Project); !ok {
			return "", TokenInfo{}, &WriteError{Kind: ErrNotFound, Message: fmt.Sprintf("project %q does not exist", q.Project)}
		}
	}
	if err := model.CheckText(q.Description, model.MaxDescription, false); err != nil {
		return invalid("description: %v", err)
	}
	now := m.now()
	if !q.Expires.IsZero() && !q.Expires.After(now) {
		return invalid("expires %s is not in the future", q.Expires.Format(time.RFC3339))
	}
	token, hash := pki.NewToken()
	t := Token{ID: q.ID, Hash: hash, Role: q.Role, Project: q.Project, Description: q.Description, Created: now.UTC(), Expires: q.Expires.UTC()}
	if q.Expires.IsZero() {
		t.Expires = time.Time{}
	}
	b, _ := json.Marshal(t)
	none := int64(0)
	conds := []store.Cond{{Key: store.TokensPrefix + q.ID, ModRevision: &none}}
	if q.Project != "" {
		// A token must not outlive a project deleted while it is issued.
		conds = append(conds, store.Cond{Key: store.ProjectsPrefix + q.Project, Exists: true})
	}
	rev, err := m.st.Commit(ctx, conds, []store.Op{{Key: store.TokensPrefix + q.ID, Value: b}})
	if errors.Is(err, store.ErrConflict) {
		if _, ok := m.Project(q.Project); q.Project != "" && !ok {
			return "", TokenInfo{}, &WriteError{Kind: ErrNotFound, Message: fmt.Sprintf("project %q does not exist", q.Project)}
		}
		return "", TokenInfo{}, &WriteError{Kind: ErrConflict, Message: fmt.Sprintf("a token %q exists (revoke it first, or choose another id)", q.ID)}
	}
	if err != nil {
		return "", TokenInfo{}, err
	}
	return token, m.tokenInfo(&t, now), m.WaitApplied(ctx, rev)
}

// Tokens lists the tokens, sorted by id.
func (m *Manager) Tokens() []TokenInfo {
	now := m.now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]TokenInfo, 0, len(m.tokens))
	for _, t := range m.tokens {
		out = append(out, m.tokenInfo(t, now))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Token returns one token's record.
func (m *Manager) Token(id string) (TokenInfo, bool) {
	now := m.now()
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, t := range m.tokens {
		if t.ID == id {
			return m.tokenInfo(t, now), true
		}
	}
	return TokenInfo{}, false
}

func (m *Manager) tokenInfo(t *Token, now time.Time) TokenInfo {
	ti := TokenInfo{ID: t.ID, Role: t.Role, Project: t.Project, Description: t.Description, Created: t.Created, Expires: t.Expires,
		Expired: !t.Expires.IsZero() && !now.Before(t.Expires)}
	m.usedMu.Lock()
	used := m.used[t.ID]
	if s := m.usedStored[t.ID]; s.After(used) {
		used = s
	}
	m.usedMu.Unlock()
	if !used.IsZero() {
		ti.LastUsed = used.UTC().Truncate(tokenUseGranularity)
	}
	return ti
}

// RevokeToken deletes a token: it authenticates nothing from the moment
// the deletion is applied. The last admin token without an expiry cannot
// be revoked, so the installation always has an administrator: an admin
// token that expires does not count, since it will not be one for long.
// The rule is checked against the store, and the deletion is conditioned
// on the admin tokens it counted, so two managers revoking the last two
// at once cannot both succeed.
func (m *Manager) RevokeToken(ctx context.Context, id string) error {
	m.writeMu.Lock()
	defer m.writeMu.Unlock()
	for attempt := 0; ; attempt++ {
		conds, err := m.revocationConds(ctx, id)
		if err != nil {
			return err
		}
		// The token's sessions end with it (they would authenticate
		// nobody anyway: a session checks its token on every request).
		ops := []store.Op{{Key: store.TokensPrefix + id, Delete: true}, {Key: store.TokenUsedPrefix + id, Delete: true}}
		m.mu.RLock()
		ops = append(ops, m.sessionOpsOfLocked(id)...)
		m.mu.RUnlock()
		rev, err := m.st.Commit(ctx, conds, ops)
		if errors.Is(err, store.ErrConflict) && attempt < maxRetries {
			continue // a token changed since it was read: count again
		}
		if errors.Is(err, store.ErrConflict) {
			return &WriteError{Kind: ErrConflict, Message: fmt.Sprintf("tokens kept changing while token %q was revoked; try again", id)}
		}
		if err != nil {
			return err
		}
		return m.WaitApplied(ctx, rev)
	}
}

// revocationConds reads the tokens and returns the conditions under
// which id may be deleted: it exists and, when it is an admin token
// without expiry, every other such token it counted is unchanged.
func (m *Manager) revocationConds(ctx context.Context, id string) ([]store.Cond, error) {
	kvs, _, err := m.st.List(ctx, store.TokensPrefix)
	if err != nil {
		return nil, err
	}
	var target *Token
	var conds, admins []store.Cond
	for _, kv := range kvs {
		var t Token
		if err := json.Unmarshal(kv.Value, &t); err != nil {
			return nil, fmt.Errorf("token record %s cannot be read: %w", kv.Key, err)
		}
		mod := kv.ModRevision
		switch {
		case t.ID == id:
			target = &t
			conds = append(conds, store.Cond{Key: kv.Key, ModRevision: &mod})
		case permanentAdmin(&t):
			admins = append(admins, store.Cond{Key: kv.Key, ModRevision: &mod})
		}
	}
	if target == nil {
		return nil, &WriteError{Kind: ErrNotFound, Message: fmt.Sprintf("no token %q", id)}
	}
	if !permanentAdmin(target) {
		return conds, nil
	}
	if len(admins) == 0 {
		return nil, &WriteError{Kind: ErrConflict, Message: fmt.Sprintf("token %q is the last admin token without an expiry; create another admin token (without --expires) before revoking it", id)}
	}
	return append(conds, admins...), nil
}

func permanentAdmin(t *Token) bool { return t.Role == access.Admin && t.Expires.IsZero() }

// flushTokenUse writes the last-used times that moved by at least the
// granularity since they were last stored. Each write is conditioned on
// the token still existing, so a revoked token leaves nothing behind.
func (m *Manager) flushTokenUse(ctx context.Context) {
	m.usedMu.Lock()
	var due []string
	for id, t := range m.used {
		if t.Sub(m.usedStored[id]) >= tokenUseGranularity {
			due = append(due, id)
		}
	}
	times := make(map[string]time.Time, len(due))
	for _, id := range due {
		times[id] = m.used[id]
	}
	m.usedMu.Unlock()
	for _, id := range due {
		b, _ := json.Marshal(times[id].UTC())
		_, err := m.st.Commit(ctx, []store.Cond{{Key: store.TokensPrefix + id, Exists: true}}, []store.Op{{Key: store.TokenUsedPrefix + id, Value: b}})
		if err != nil && !errors.Is(err, store.ErrConflict) && ctx.Err() == nil {
			m.log.Warn("recording a token's last use", "token", id, "error", err)
		}
	}
}

// tokenUseLoop flushes last-used times until ctx ends.
func (m *Manager) tokenUseLoop(ctx context.Context) {
	t := time.NewTicker(tokenUseGranularity)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			m.flushTokenUse(ctx)
		}
	}
}
