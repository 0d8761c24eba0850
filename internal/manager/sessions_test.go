package manager

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/kordon-dev/kordon/internal/access"
)

func (e *env) sessionsOf(tokenID string) int {
	e.m.mu.RLock()
	defer e.m.mu.RUnlock()
	n := 0
	for _, s := range e.m.sessions {
		if s.TokenID == tokenID {
			n++
		}
	}
	return n
}

// TestSessionAttackParallelSignIns: a token signing in from many
// connections at once must not keep more than maxSessionsPerToken
// sessions: each sign-in counts the token's sessions before it writes,
// and sign-ins that counted at the same time each add one.
func TestSessionAttackParallelSignIns(t *testing.T) {
	e := newEnv(t)
	tk, _, err := e.m.CreateToken(e.ctx, TokenRequest{ID: "loop", Role: access.Reader})
	if err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 3; round++ {
		var wg sync.WaitGroup
		for range 3 * maxSessionsPerToken {
			wg.Go(func() {
				if _, _, err := e.m.CreateSession(e.ctx, tk); err != nil && !errors.Is(err, ErrTooFrequent) {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	if n := e.sessionsOf("loop"); n > maxSessionsPerToken {
		t.Fatalf("the token keeps %d sessions; at most %d", n, maxSessionsPerToken)
	}
}

// TestSessionOutlivesNothing: a session ends with its token's expiry,
// and with a token issued again under the same id.
func TestSessionOutlivesNothing(t *testing.T) {
	e := newEnv(t)
	tk, _, err := e.m.CreateToken(e.ctx, TokenRequest{ID: "t", Role: access.Admin, Expires: e.clock.now().Add(SessionLifetime / 2)})
	if err != nil {
		t.Fatal(err)
	}
	secret, s, err := e.m.CreateSession(e.ctx, tk)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Expires.Equal(e.clock.now().Add(SessionLifetime / 2)) {
		t.Errorf("the session expires %s, after its token", s.Expires)
	}
	if _, _, ok := e.m.AuthenticateSession(secret); !ok {
		t.Fatal("a new session does not authenticate")
	}
	if err := e.m.RevokeToken(e.ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.m.CreateToken(e.ctx, TokenRequest{ID: "t", Role: access.Admin}); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := e.m.AuthenticateSession(secret); ok {
		t.Fatal("a session of a revoked token speaks for the token issued again under its id")
	}
	if e.sessionsOf("t") != 0 {
		t.Error("the revoked token's session is still stored")
	}
}

// TestSessionAttackSignInLoop: every sign-in is a write to the store,
// which any token may make, a project reader's too: a token signing in in
// a loop wrote as fast as it could send. Beyond maxSessionsPerToken
// sign-ins in signInWindow it is refused; later, a sign-in ends the
// oldest session as before.
func TestSessionAttackSignInLoop(t *testing.T) {
	e := newEnv(t)
	tk, _, err := e.m.CreateToken(e.ctx, TokenRequest{ID: "loop", Role: access.Reader})
	if err != nil {
		t.Fatal(err)
	}
	first, _, err := e.m.CreateSession(e.ctx, tk)
	if err != nil {
		t.Fatal(err)
	}
	for range maxSessionsPerToken - 1 {
		e.clock.advance(time.Second)
		if _, _, err := e.m.CreateSession(e.ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	rev := e.m.Revision()
	for range 100 {
		if _, _, err := e.m.CreateSession(e.ctx, tk); !errors.Is(err, ErrTooFrequent) {
			t.Fatalf("sign-in %d within a minute: %v; want ErrTooFrequent", maxSessionsPerToken+1, err)
		}
	}
	if e.m.Revision() != rev {
		t.Errorf("refused sign-ins wrote to the store (revision %d, then %d)", rev, e.m.Revision())
	}
	e.clock.advance(signInWindow)
	if _, _, err := e.m.CreateSession(e.ctx, tk); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := e.m.AuthenticateSession(first); ok {
		t.Error("the oldest session outlived a sign-in beyond the bound")
	}
	if n := e.sessionsOf("loop"); n != maxSessionsPerToken {
		t.Errorf("%d sessions", n)
	}
}

// TestSessionRecordsGoWithTheProject: deleting a project deletes its
// tokens and their session records, so nothing of them stays stored.
func TestSessionRecordsGoWithTheProject(t *testing.T) {
	e := newEnv(t)
	if _, err := e.m.PutProject(e.ctx, Project{ID: "p"}); err != nil {
		t.Fatal(err)
	}
	tk, _, err := e.m.CreateToken(e.ctx, TokenRequest{ID: "p-reader", Role: access.ProjectReader, Project: "p"})
	if err != nil {
		t.Fatal(err)
	}
	secret, _, err := e.m.CreateSession(e.ctx, tk)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.m.DeleteProject(e.ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := e.m.AuthenticateSession(secret); ok {
		t.Fatal("a deleted project's session authenticates")
	}
	if n := e.sessionsOf("p-reader"); n != 0 {
		t.Fatalf("%d session records of the deleted project's token are still stored", n)
	}
}

// TestSessionExpires: a session of a token without expiry ends after
// SessionLifetime, and the token signs in anew.
func TestSessionExpires(t *testing.T) {
	e := newEnv(t)
	tk, _, err := e.m.CreateToken(e.ctx, TokenRequest{ID: "ops", Role: access.Admin})
	if err != nil {
		t.Fatal(err)
	}
	secret, _, err := e.m.CreateSession(e.ctx, tk)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.advance(SessionLifetime - time.Second)
	if _, _, ok := e.m.AuthenticateSession(secret); !ok {
		t.Fatal("the session ended before its lifetime")
	}
	e.clock.advance(time.Second)
	if _, _, ok := e.m.AuthenticateSession(secret); ok {
		t.Fatal("the session outlived its lifetime")
	}
	if _, _, err := e.m.CreateSession(e.ctx, tk); err != nil {
		t.Fatalf("signing in again: %v", err)
	}
}
