package apiserver

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/kordon-dev/kordon/internal/manager"
)

// Sessions are how a browser holds a credential: the console signs in with
// an API token once (POST /api/session/create, NSX's form login, which NSX
// scripts and SDKs use too) and gets a session cookie that speaks for that
// token. A cookie is the one credential a browser attaches by itself, to
// requests any page may start, so requests it authenticates must prove
// they come from kordon's own pages: every state change carries the
// session's CSRF token in X-XSRF-TOKEN (NSX's header), which only a page
// of this origin can read (GET .../kordon/session, or the sign-in answer).
// The token is derived from the session's secret, so it is as unguessable
// as the cookie and needs no storage of its own.

const (
	// sessionCookie is NSX's cookie name, so that clients written for
	// NSX's session login find it where they look.
	sessionCookie = "JSESSIONID"
	csrfHeader    = "X-XSRF-TOKEN"
)

// sessionSecret returns the session cookie of a request, if it has one.
func sessionSecret(r *http.Request) (string, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return "", false
	}
	return c.Value, true
}

// errSessionCookies: a request with two different session cookies. A
// sibling site of the installation cannot read kordon's cookie but can
// set one of the same name for the parent domain or a longer path, which
// the browser sends first; taking either would let it choose whom the
// victim acts as.
var errSessionCookies = errors.New("the request carries more than one " + sessionCookie + " cookie (one may have been set by another site of this domain): clear this site's cookies and sign in again")

// sessionCookiesAmbiguous reports whether a request sends different
// session cookies.
func sessionCookiesAmbiguous(r *http.Request) bool {
	first := ""
	for _, c := range r.CookiesNamed(sessionCookie) {
		switch {
		case c.Value == "":
		case first == "":
			first = c.Value
		case c.Value != first:
			return true
		}
	}
	return false
}

// csrfToken derives a session's CSRF token from its secret.
func csrfToken(secret string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("kordon csrf v1"))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// safeMethod: methods that change nothing, which the CSRF check lets pass.
func safeMethod(m string) bool { return m == http.MethodGet || m == http.MethodHead }

// checkCSRF refuses a state change authenticated by a session cookie that
// does not carry the session's CSRF token. (A change another site's page
// starts is refused before, whatever the credential: handle.)
func checkCSRF(r *http.Request) error {
	if safeMethod(r.Method) {
		return nil
	}
	secret, _ := sessionSecret(r)
	got := r.Header.Get(csrfHeader)
	if got == "" {
		return apiError(http.StatusForbidden, codeForbidden, "a request signed in by a session cookie must send the session's CSRF token in "+csrfHeader+" to change anything", nil)
	}
	if !hmac.Equal([]byte(got), []byte(csrfToken(secret))) {
		return apiError(http.StatusForbidden, codeForbidden, csrfHeader+" is not this session's CSRF token", nil)
	}
	return nil
}

// otherSite reports whether a browser says another site started the
// request.
func otherSite(r *http.Request) bool {
	site := r.Header.Get("Sec-Fetch-Site")
	return site != "" && site != "same-origin" && site != "none"
}

// sameOrigin refuses requests a browser says another site started. Both
// headers are set by the browser, not by page scripts; clients that are
// not browsers send neither.
func sameOrigin(r *http.Request) error {
	if otherSite(r) {
		return apiError(http.StatusForbidden, codeForbidden, "a request from another site ("+r.Header.Get("Sec-Fetch-Site")+") may not change anything here", nil)
	}
	if o := r.Header.Get("Origin"); o != "" && o != "https://"+r.Host {
		return apiError(http.StatusForbidden, codeForbidden, "a request from another origin may not change anything here", nil)
	}
	return nil
}

// sessionInfo is what GET .../kordon/session and the sign-in answer say.
type sessionInfo struct {
	Principal string `json:"principal"`
	Role      string `json:"role"`
	Project   string `json:"project,omitempty"`
	// Session is true when the request was authenticated by a session
	// cookie; Expires and CSRFToken are set then.
	Session   bool      `json:"session"`
	Expires   time.Time `json:"expires,omitzero"`
	CSRFToken string    `json:"csrf_token,omitempty"`
}

// sessionCreate is NSX's POST /api/session/create: a form with j_username
// (ignored: a token names its own principal) and j_password, here an API
// token. It answers with the session cookie and, in X-XSRF-TOKEN, the CSRF
// token later state changes must send.
// Another site cannot sign a victim's browser in: handle refuses every
// change another site's page starts.
func (s *Server) sessionCreate(w http.ResponseWriter, r *http.Request) {
	if sessionCookiesAmbiguous(r) {
		// Signed in, the browser would still send the other cookie:
		// say so here, where the sign-in page shows it.
		writeError(w, badRequest(errSessionCookies.Error(), nil))
		return
	}
	ct := strings.ToLower(strings.TrimSpace(strings.Split(r.Header.Get("Content-Type"), ";")[0]))
	if ct != "application/x-www-form-urlencoded" {
		writeError(w, apiError(http.StatusUnsupportedMediaType, codeUnsupported, "send the sign-in as a form (application/x-www-form-urlencoded) with j_password set to an API token", nil))
		return
	}
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, apiError(http.StatusRequestEntityTooLarge, codeTooLarge, "the sign-in form is too large", nil))
			return
		}
		writeError(w, badRequest("the sign-in form cannot be read: "+err.Error(), nil))
		return
	}
	token := strings.TrimSpace(r.PostForm.Get("j_password"))
	if token == "" {
		writeError(w, badRequest("j_password: give an API token", nil))
		return
	}
	ctx, cancel := s.writeCtx(r)
	defer cancel()
	secret, sess, err := s.m.CreateSession(ctx, token)
	if err != nil {
		var we *manager.WriteError
		if errors.As(err, &we) && we.Kind == manager.ErrInvalid {
			// NSX answers a failed sign-in with 403.
			writeError(w, apiError(http.StatusForbidden, codeForbidden, we.Message, nil))
			return
		}
		writeError(w, err)
		return
	}
	p, _, _ := s.m.AuthenticateSession(secret)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: secret, Path: "/", Expires: sess.Expires,
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	w.Header().Set(csrfHeader, csrfToken(secret))
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, sessionInfo{Principal: p.Name, Role: string(p.Role), Project: p.Project, Session: true,
		Expires: sess.Expires, CSRFToken: csrfToken(secret)})
}

// sessionDestroy is NSX's POST /api/session/destroy: the session ends on
// every manager, and the browser is told to forget its cookie.
func (s *Server) sessionDestroy(w http.ResponseWriter, r *http.Request) {
	secret, ok := sessionSecret(r)
	if !ok || r.Header.Get("Authorization") != "" {
		writeError(w, badRequest("only a session signs out: this request was not authenticated by a session cookie", nil))
		return
	}
	ctx, cancel := s.writeCtx(r)
	defer cancel()
	if err := s.m.EndSession(ctx, secret); err != nil && !errors.Is(err, manager.ErrNoSession) {
		writeError(w, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// sessionGet says who the request is signed in as and, for a session, its
// CSRF token: the console's pages read it to send with their changes.
// Only a page of this origin can read the answer (no CORS).
func (s *Server) sessionGet(w http.ResponseWriter, r *http.Request) {
	p := principal(r)
	info := sessionInfo{Principal: p.Name, Role: string(p.Role), Project: p.Project}
	if secret, ok := sessionSecret(r); ok && r.Header.Get("Authorization") == "" {
		if _, sess, ok := s.m.AuthenticateSession(secret); ok {
			info.Session, info.Expires, info.CSRFToken = true, sess.Expires, csrfToken(secret)
		}
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, info)
}
