package console

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options configure the console.
type Options struct {
	// API is the JSON API the pages are rendered from, called in process
	// with each browser request's own credentials.
	API    http.Handler
	Logger *slog.Logger
}

// Console serves the web console.
type Console struct {
	api    http.Handler
	log    *slog.Logger
	mux    *http.ServeMux
	pages  map[string]*template.Template
	static http.Handler
	slots  pageSlots
}

// Owns reports whether a path is the console's: the root and everything
// under /ui/. Every other path is the API's.
func Owns(path string) bool { return path == "/" || path == "/ui" || strings.HasPrefix(path, "/ui/") }

// New builds the console.
func New(o Options) *Console {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Console{api: o.API, log: o.Logger, mux: http.NewServeMux(), pages: map[string]*template.Template{}}
	sub, _ := fs.Sub(staticFS, "static")
	c.static = http.StripPrefix("/ui/static/", http.FileServerFS(sub))
	names, _ := fs.Glob(templateFS, "templates/*.html")
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" || base == "parts" {
			continue
		}
		c.pages[base] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html", n))
	}
	c.routes()
	return c
}

func (c *Console) routes() {
	c.mux.HandleFunc("GET /{$}", c.page("overview", c.overview))
	c.mux.HandleFunc("GET /ui", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/", http.StatusSeeOther) })
	c.mux.HandleFunc("GET /ui/signin", c.signin)
	c.mux.Handle("GET /ui/static/", c.static)
	c.mux.HandleFunc("GET /ui/inventory", c.page("inventory", c.inventory))
	c.mux.HandleFunc("GET /ui/inventory/object", c.page("object", c.object))
	c.mux.HandleFunc("GET /ui/groups", c.page("groups", c.groups))
	c.mux.HandleFunc("GET /ui/group", c.page("group", c.group))
	c.mux.HandleFunc("GET /ui/group/edit", c.page("edit", c.editGroup))
	c.mux.HandleFunc("GET /ui/rule/edit", c.page("ruleedit", c.editRule))
	c.mux.HandleFunc("GET /ui/policy/edit", c.page("policyedit", c.editPolicy))
	c.mux.HandleFunc("GET /ui/dfw", c.page("firewall", c.dfw))
	c.mux.HandleFunc("GET /ui/gfw", c.page("firewall", c.gfw))
	c.mux.HandleFunc("GET /ui/trace", c.page("trace", c.trace))
	c.mux.HandleFunc("GET /ui/advisor", c.page("advisor", c.advisor))
	c.mux.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, nil, &apiError{Status: http.StatusNotFound, Message: "no console page at " + r.URL.Path})
	})
}

// ServeHTTP serves a console request with the headers every answer of the
// console carries: no script but the console's own, no framing, nothing
// sniffed, no referrer leaving the installation.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	c.mux.ServeHTTP(w, r)
}

// view is what every page template gets.
type view struct {
	Title string
	// Nav is the navigation entry the page belongs to.
	Nav     string
	Session sessionView
	// Project is the space the page shows ("" for the default space).
	Project string
	// Live lists the watch event types that refresh the page; LivePrefix
	// limits them to paths under it.
	Live       string
	LivePrefix string
	Data       any
	Now        time.Time
}

// CanWrite reports whether the signed-in principal may change the space
// the page shows; the API decides anyway, this only hides controls.
func (v view) CanWrite() bool {
	switch v.Session.Role {
	case "admin":
		return true
	case "project-admin":
		return v.Project != "" && v.Project == v.Session.Project
	}
	return false
}

// Installation reports whether the principal reads installation-wide
// state (clusters, inventory, agents): admins and readers.
func (v view) Installation() bool { return v.Session.Role == "admin" || v.Session.Role == "reader" }

// Q adds the page's space to a console URL's query.
func (v view) Q(path string, kv ...string) string {
	q := url.Values{}
	if v.Project != "" {
		q.Set("project", v.Project)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

type sessionView struct {
	Principal string    `json:"principal"`
	Role      string    `json:"role"`
	Project   string    `json:"project"`
	Session   bool      `json:"session"`
	Expires   time.Time `json:"expires"`
	CSRFToken string    `json:"csrf_token"`
}

// pageFunc fills a page's view; an error is shown as the page.
type pageFunc func(k *caller, v *view, r *http.Request) error

// page wraps a page: it finds who is signed in (through the API, like
// everything else), sends to the sign-in page whoever is not, and renders
// the template, or only its main part for the live refresh.
func (c *Console) page(name string, fill pageFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		k := &caller{api: c.api, r: r}
		v := &view{Now: time.Now()}
		if err := k.get("/policy/api/v1/kordon/session", &v.Session); err != nil {
			if statusOf(err) == http.StatusUnauthorized {
				if r.Header.Get("X-Kordon-Fragment") != "" {
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				http.Redirect(w, r, "/ui/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			c.fail(w, r, v, err)
			return
		}
		k.csrf = v.Session.CSRFToken
		release, ok := c.slots.acquire(r.Context(), v.Session.Principal)
		if !ok {
			w.Header().Set("Retry-After", "1")
			c.fail(w, r, v, &apiError{Status: http.StatusTooManyRequests, Message: "too many pages of " + v.Session.Principal + " are being rendered at once; try again"})
			return
		}
		defer release()
		v.Project = r.URL.Query().Get("project")
		if v.Project == "" && v.Session.Project != "" {
			v.Project = v.Session.Project
		}
		if err := fill(k, v, r); err != nil {
			c.fail(w, r, v, err)
			return
		}
		c.render(w, r, name, http.StatusOK, v)
	}
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, name string, status int, v *view) {
	t := c.pages[name]
	var buf bytes.Buffer
	which := "layout.html"
	if r.Header.Get("X-Kordon-Fragment") != "" {
		which = "main"
	}
	if err := t.ExecuteTemplate(&buf, which, v); err != nil {
		c.log.Error("console template", "page", name, "err", err)
		http.Error(w, "the page cannot be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fail shows an error as a page, with the API's status and message.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, v *view, err error) {
	if v == nil {
		v = &view{Now: time.Now()}
	}
	status := statusOf(err)
	msg := err.Error()
	var ae *apiError
	if errors.As(err, &ae) {
		msg = ae.Message
	} else {
		c.log.Error("console page", "path", r.URL.Path, "err", err)
		msg = "the page cannot be shown: " + msg
	}
	v.Title, v.Data = http.StatusText(status), errorPage{Status: status, Message: msg}
	c.render(w, r, "error", status, v)
}

type errorPage struct {
	Status  int
	Message string
}

// signin serves the sign-in page. The form posts to the API's session
// login from the page's script; the page itself needs no session.
func (c *Console) signin(w http.ResponseWriter, r *http.Request) {
	v := &view{Title: "Sign in", Now: time.Now(), Data: safeNext(r.URL.Query().Get("next"))}
	c.render(w, r, "signin", http.StatusOK, v)
}

// safeNext keeps a post-sign-in destination on this site: a path of the
// console, never another origin ("//host", "/\host", "https:...").
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || !Owns(u.Path) || path.Clean(u.Path) != u.Path && u.Path != "/ui/" {
		return "/"
	}
	return u.RequestURI()
}
