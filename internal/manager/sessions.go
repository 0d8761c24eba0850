package manager

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/kordon-dev/kordon/internal/access"
	"github.com/kordon-dev/kordon/internal/pki"
	"github.com/kordon-dev/kordon/internal/store"
)

// Session is a sign-in of the console (or of an NSX client's session
// login): a random secret, held by the browser in an HttpOnly cookie, that
// speaks for one API token and nothing more. The store keeps the hash of
// the secret, never the secret, so every manager of an installation
// accepts the session and a reader of the store cannot use it.
type Session struct {
	Hash    string `json:"hash"`
	TokenID string `json:"token_id"`
	// TokenHash binds the session to the token as it was at sign-in: a
	// token revoked and issued again under the same id is another token,
	// and its predecessor's sessions end with it.
	TokenHash string    `json:"token_hash"`
	Created   time.Time `json:"created"`
	Expires   time.Time `json:"expires"`
}

// SessionLifetime is how long a session lasts, at most: a working day.
// A session never outlives its token's own expiry.
const SessionLifetime = 8 * time.Hour

// maxSessionsPerToken bounds the sessions one token keeps at once (each
// sign-in is a stored record): a new sign-in beyond it ends the token's
// oldest session.
const maxSessionsPerToken = 16

// signInWindow: a token signs in at most maxSessionsPerToken times in it.
// Each sign-in is a write to the store, which any token may make, a
// project reader's as well: without a bound, a token signing in in a loop
// writes as fast as it can send.
const signInWindow = time.Minute

// maxSessionSweep bounds the dead sessions (expired, or of a token that is
// gone) one sign-in deletes along the way, so that sign-ins clean up after
// each other without any one of them growing large.
const maxSessionSweep = 64

// sessionPrefix marks session secrets, as "kdn_" marks API tokens, so that
// one is never mistaken for the other in a log or a secret scanner.
const sessionPrefix = "kds_"

// ErrNoSession: the session is unknown, ended or expired.
var ErrNoSession = errors.New("no such session")

// CreateSession signs a token in: it returns a new session secret and its
// record. The token must authenticate now; the session is stored on the
// condition that the token still exists, so a revocation racing the
// sign-in cannot leave a session behind.
func (m *Manager) CreateSession(ctx context.Context, token string) (string, Session, error) {
	if _, ok := m.Authenticate(token); !ok {
		return "", Session{}, &WriteError{Kind: ErrInvalid, Message: "the token is not valid: unknown, revoked or expired"}
	}
	// Sign-ins count the token's sessions, then write: one at a time, or
	// sign-ins that counted together would each add one past the bound.
	// Managers of one installation sign in apart, so a token signing in
	// through all of them at once keeps at most one session more per
	// manager.
	m.signInMu.Lock()
	defer m.signInMu.Unlock()
	h := pki.HashToken(token)
	now := m.now()
	m.mu.RLock()
	t := m.tokens[h]
	var mine, dead []*Session
	for _, s := range m.sessions {
		switch tok := m.tokens[s.TokenHash]; {
		case !now.Before(s.Expires) || tok == nil || tok.ID != s.TokenID:
			dead = append(dead, s)
		case s.TokenHash == h:
			mine = append(mine, s)
		}
	}
	m.mu.RUnlock()
	if t == nil {
		return "", Session{}, &WriteError{Kind: ErrInvalid, Message: "the token is not valid: unknown, revoked or expired"}
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", Session{}, err
	}
	secret := sessionPrefix + base64.RawURLEncoding.EncodeToString(b)
	s := Session{Hash: pki.HashToken(secret), TokenID: t.ID, TokenHash: t.Hash, Created: now.UTC(), Expires: now.Add(SessionLifetime).UTC()}
	if !t.Expires.IsZero() && t.Expires.Before(s.Expires) {
		s.Expires = t.Expires.UTC()
	}
	v, _ := json.Marshal(s)
	ops := []store.Op{{Key: store.SessionsPrefix + s.Hash, Value: v}}
	sort.Slice(mine, func(i, j int) bool { return mine[i].Created.Before(mine[j].Created) })
	if n := len(mine); n >= maxSessionsPerToken && now.Sub(mine[n-maxSessionsPerToken].Created) < signInWindow {
		return "", Session{}, &WriteError{Kind: ErrTooFrequent, Message: fmt.Sprintf(
			"this token signed in %d times in the last %s; sign in again later, or use the sessions it has", maxSessionsPerToken, signInWindow)}
	}
	for len(mine) >= maxSessionsPerToken {
		ops = append(ops, store.Op{Key: store.SessionsPrefix + mine[0].Hash, Delete: true})
		mine = mine[1:]
	}
	for i, d := range dead {
		if i == maxSessionSweep {
			break
		}
		ops = append(ops, store.Op{Key: store.SessionsPrefix + d.Hash, Delete: true})
	}
	none := int64(0)
	conds := []store.Cond{{Key: store.TokensPrefix + t.ID, Exists: true}, {Key: store.SessionsPrefix + s.Hash, ModRevision: &none}}
	rev, err := m.st.Commit(ctx, conds, ops)
	if errors.Is(err, store.ErrConflict) {
		return "", Session{}, &WriteError{Kind: ErrInvalid, Message: "the token is not valid: unknown, revoked or expired"}
	}
	if err != nil {
		return "", Session{}, err
	}
	return secret, s, m.WaitApplied(ctx, rev)
}

// AuthenticateSession returns who a session secret speaks for: the
// principal of its token, while both the session and the token live.
func (m *Manager) AuthenticateSession(secret string) (access.Principal, Session, bool) {
	if !strings.HasPrefix(secret, sessionPrefix) {
		return access.Principal{}, Session{}, false
	}
	h := pki.HashToken(secret)
	now := m.now()
	m.mu.RLock()
	s, ok := m.sessions[h]
	var t *Token
	if ok {
		t = m.tokens[s.TokenHash]
	}
	m.mu.RUnlock()
	if !ok || !pki.SameHash(s.Hash, h) || !now.Before(s.Expires) {
		return access.Principal{}, Session{}, false
	}
	if t == nil || t.ID != s.TokenID || (!t.Expires.IsZero() && !now.Before(t.Expires)) {
		return access.Principal{}, Session{}, false
	}
	m.usedMu.Lock()
	m.used[t.ID] = now
	m.usedMu.Unlock()
	return access.TokenPrincipal(t.ID, t.Role, t.Project), *s, true
}

// EndSession signs a session out. Ending a session that does not exist
// (ended already, expired and swept) is ErrNoSession.
func (m *Manager) EndSession(ctx context.Context, secret string) error {
	h := pki.HashToken(secret)
	m.mu.RLock()
	_, ok := m.sessions[h]
	m.mu.RUnlock()
	if !ok || !strings.HasPrefix(secret, sessionPrefix) {
		return ErrNoSession
	}
	rev, err := m.st.Commit(ctx, []store.Cond{{Key: store.SessionsPrefix + h, Exists: true}},
		[]store.Op{{Key: store.SessionsPrefix + h, Delete: true}})
	if errors.Is(err, store.ErrConflict) {
		return ErrNoSession
	}
	if err != nil {
		return err
	}
	return m.WaitApplied(ctx, rev)
}

// sessionOpsOfLocked returns the deletions of a token's sessions, for a
// revocation to end them with the token.
func (m *Manager) sessionOpsOfLocked(tokenID string) []store.Op {
	var ops []store.Op
	for _, s := range m.sessions {
		if s.TokenID == tokenID {
			ops = append(ops, store.Op{Key: store.SessionsPrefix + s.Hash, Delete: true})
		}
	}
	return ops
}

func (s *state) foldSession(_ *fold, ev store.Event) error {
	h := strings.TrimPrefix(ev.Key, store.SessionsPrefix)
	if ev.Deleted {
		delete(s.sessions, h)
		return nil
	}
	var se Session
	if err := decode(ev, &se); err != nil {
		return err
	}
	if se.Hash != h {
		return fmt.Errorf("session record %s names another session", ev.Key)
	}
	s.sessions[h] = &se
	return nil
}
