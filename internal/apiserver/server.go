package apiserver

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/kordon-dev/kordon/internal/access"
	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/model"
	"github.com/kordon-dev/kordon/internal/netlimit"
	"github.com/kordon-dev/kordon/internal/textdoc"
)

// Options configure the API.
type Options struct {
	Manager *manager.Manager
	Logger  *slog.Logger
	// Gatherer serves /metrics; Registerer receives the API's metrics.
	Gatherer   prometheus.Gatherer
	Registerer prometheus.Registerer
	// MaxBody limits policy documents (default 32 MiB); other routes have
	// smaller limits of their own.
	MaxBody int64
	// WriteTimeout bounds how long a write waits for the store.
	WriteTimeout time.Duration
	// CA is the installation's CA certificate (PEM), handed to adapters.
	CA []byte
	// HeavyReads bounds the heavy reads (exports, lists, members,
	// advice) served at once, HeavyPerPrincipal those of one principal
	// (defaults: one per CPU, at least 2; and half of that, at least 1),
	// so that reads leave writes their share of the CPUs.
	HeavyReads, HeavyPerPrincipal int
}

// Server is the HTTP API.
type Server struct {
	m       *manager.Manager
	log     *slog.Logger
	maxBody int64
	timeout time.Duration
	mux     *http.ServeMux
	// paths matches a path whatever its method, to tell 405 from 404.
	paths          *http.ServeMux
	methods        map[string][]string
	latency        *prometheus.HistogramVec
	explain        *explainCache
	infra          *infraCache
	decodes        *model.DecodeCache // documents PATCHed to /infra (infra.go)
	heavy          *limiter
	streams        *limiter
	scrapes        *limiter
	caPEM          []byte
	metricsHandler http.Handler
}

// New builds the API handler.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxBody <= 0 {
		o.MaxBody = docBody
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 60 * time.Second
	}
	s := &Server{m: o.Manager, log: o.Logger, maxBody: o.MaxBody, timeout: o.WriteTimeout, mux: http.NewServeMux(),
		paths: http.NewServeMux(), methods: map[string][]string{}, explain: newExplainCache(), infra: newInfraCache(), decodes: model.NewDecodeCache(decodeCacheObjects), caPEM: o.CA,
		heavy: newLimiter(o.HeavyReads, o.HeavyPerPrincipal), streams: newLimiter(1<<20, streamsPerPrincipal),
		scrapes: newLimiter(1, scrapesPerPrincipal)}
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "kordon_api_request_duration_seconds",
		Help: "API request latency by route (its pattern, or \"unmatched\") and status code.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)},
		[]string{"method", "route", "code"})
	if o.Registerer != nil {
		o.Registerer.MustRegister(s.latency, s.heavy.collector())
	}
	if o.Gatherer != nil {
		s.metricsHandler = promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{})
	}
	for _, rt := range s.routes() {
		if rt.body == 0 {
			rt.body = noBody
		}
		s.mux.Handle(rt.method+" "+rt.pattern, s.handle(rt))
		if _, ok := s.methods[rt.pattern]; !ok {
			s.paths.Handle(rt.pattern, http.NotFoundHandler())
		}
		s.methods[rt.pattern] = append(s.methods[rt.pattern], rt.method)
	}
	s.mux.HandleFunc("/", s.unmatched)
	return s
}

// streamsPerPrincipal bounds one principal's watch streams and span long
// polls at once.
const streamsPerPrincipal = 8

// /metrics has a limiter of its own (Server.scrapes): monitoring must not
// wait for anyone's heavy reads, and scrapes must not take every CPU
// either. One is gathered at a time, installation-wide; a principal may
// have scrapesPerPrincipal answers in flight: a few, for monitoring pairs
// that share a token when one of them reads slowly.
const scrapesPerPrincipal = 4

// ServeHTTP serves the API. A path's trailing slashes are dropped first:
// /groups/web/ is /groups/web, with the same route and the same access. A
// path with empty, "." or ".." segments is refused: ServeMux would
// redirect it to its clean form, which a client may follow with the same
// method and body, so DELETE .../rules/.. would delete the policy.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.Path; len(p) > 1 && strings.HasSuffix(p, "/") {
		r.URL.Path = strings.TrimRight(p, "/")
		if r.URL.Path == "" {
			r.URL.Path = "/"
		}
		r.URL.RawPath = ""
	}
	start := time.Now()
	rw := &recorder{ResponseWriter: w, status: 200}
	if !cleanPath(r.URL.Path) {
		rw.route = "unmatched"
		writeError(rw, badRequest("the path "+strconv.Quote(r.URL.Path)+" has empty, '.' or '..' segments; send its clean form", nil))
		s.latency.WithLabelValues(methodLabel(r.Method), rw.route, strconv.Itoa(rw.status)).Observe(time.Since(start).Seconds())
		return
	}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("panic serving request", "route", rw.route, "panic", p, "stack", string(debug.Stack()))
			if !rw.wrote {
				writeError(rw, apiError(http.StatusInternalServerError, codeInternal, "internal error", nil))
			}
		}
		route := rw.route
		if route == "" {
			route = "unmatched"
		}
		// Only the route's pattern is a label: request paths and methods
		// a client invents must not grow the metrics.
		s.latency.WithLabelValues(methodLabel(r.Method), route, strconv.Itoa(rw.status)).Observe(time.Since(start).Seconds())
		// The route, not the path: a client's invented path is not
		// repeated into the log.
		s.log.Debug("request", "method", methodLabel(r.Method), "route", route, "status", rw.status, "took", time.Since(start))
	}()
	s.mux.ServeHTTP(rw, r)
}

// cleanPath reports whether p is absolute and has no empty, "." or ".."
// segment.
func cleanPath(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	if p == "/" {
		return true
	}
	for _, seg := range strings.Split(p[1:], "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// methodLabel keeps the method label to the methods the API has.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return m
	}
	return "other"
}

// unmatched answers requests no route takes: 405 when the path has a
// route for another method, else 404, both in NSX's error shape.
func (s *Server) unmatched(w http.ResponseWriter, r *http.Request) {
	if _, pattern := s.paths.Handler(r); pattern != "" && pattern != "/" {
		ms := s.methods[pattern]
		w.Header().Set("Allow", strings.Join(ms, ", "))
		writeError(w, apiError(http.StatusMethodNotAllowed, codeMethod, r.Method+" is not allowed here; use "+strings.Join(ms, " or "), nil))
		return
	}
	writeError(w, notFound("no API at "+r.URL.Path))
}

// handle wraps a route's handler with everything the route table says:
// authentication, the access decision, the project's existence, limits
// on the body and on heavy reads, and deadlines. A long-lived answer
// keeps checking the request's credentials while it runs.
func (s *Server) handle(rt route) http.Handler {
	wildcards := wildcardsOf(rt.pattern)
	needsProject := strings.Contains(rt.pattern, "{project}/")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rec, ok := w.(*recorder); ok {
			rec.route = rt.pattern
		}
		// A browser attaches more than cookies by itself: Basic
		// credentials it was given in its dialog, a client certificate.
		// Whatever the credential, a change another site's page starts
		// is refused (browsers say so in Sec-Fetch-Site or Origin;
		// clients that are not browsers send neither).
		if !safeMethod(r.Method) {
			if err := sameOrigin(r); err != nil {
				writeError(w, err)
				return
			}
		}
		var p access.Principal
		if rt.rule != access.Public {
			var viaSession bool
			var err error
			if p, viaSession, err = s.authenticateHow(r); err != nil {
				s.refuseAuth(w, r, rt, err.Error())
				return
			}
			if viaSession {
				if err := checkCSRF(r); err != nil {
					writeError(w, err)
					return
				}
			}
			if !p.Anonymous() {
				netlimit.Authenticated(r.Context(), p.Name)
			}
		}
		t := access.Target{Project: r.PathValue("project"), Cluster: r.PathValue("cluster"), Agent: r.PathValue("agent")}
		if err := access.Decide(rt.rule, p, t); err != nil {
			if errors.Is(err, access.ErrUnauthenticated) {
				s.refuseAuth(w, r, rt, "authentication required: send Authorization: Bearer <token> (or the token as the HTTP basic password)")
				return
			}
			writeError(w, apiError(http.StatusForbidden, codeForbidden, strings.TrimPrefix(err.Error(), access.ErrForbidden.Error()+": "), nil))
			return
		}
		for _, name := range wildcards {
			if v := r.PathValue(name); !model.ValidID(v) {
				writeError(w, notFound(strconv.Quote(v)+" is not a valid "+name+": "+model.IDRule))
				return
			}
		}
		if needsProject {
			if _, ok := s.m.Project(t.Project); !ok {
				writeError(w, notFound("project "+strconv.Quote(t.Project)+" does not exist"))
				return
			}
		}
		if err := s.limitBody(w, r, rt); err != nil {
			writeError(w, err)
			return
		}
		if rt.stream {
			// A long-lived answer holds a goroutine and a connection: a
			// few at a time per principal.
			h, err := s.streams.acquire(r.Context(), p)
			if err != nil {
				w.Header().Set("Retry-After", "1")
				writeError(w, err)
				return
			}
			defer h.release()
			s.serveWhileAuthenticated(w, r, rt, p, t)
			return
		}
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.timeout + time.Minute))
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, p))
		if !rt.heavy && !rt.scrape {
			rt.serve(s, w, r)
			return
		}
		lim := s.heavy
		if rt.scrape {
			lim = s.scrapes
		}
		h, err := lim.acquire(r.Context(), p)
		if err != nil {
			w.Header().Set("Retry-After", "1")
			writeError(w, err)
			return
		}
		defer h.release()
		// The slot in all bounds the computation, not the network: the
		// answer is rendered in memory, the slot given back, and only
		// then is the answer written, however slowly the client reads
		// (the principal's own slot stays held until it is written).
		ans := newBufferedAnswer()
		func() {
			defer h.computed() // also when the handler panics
			rt.serve(s, ans, r)
		}()
		ans.send(w)
	})
}

// edlPrefix starts the external dynamic lists' routes.
const edlPrefix = "/edl/"

// refuseAuth answers 401 and closes the connection: a client without
// credentials gets no keep-alive connection to hold.
func (s *Server) refuseAuth(w http.ResponseWriter, r *http.Request, rt route, msg string) {
	// Feed clients (firewalls reading an EDL) send Basic credentials only
	// after a Basic challenge, and many read only the first challenge:
	// the EDL routes offer Basic alone.
	if !strings.HasPrefix(rt.pattern, edlPrefix) {
		w.Header().Add("WWW-Authenticate", `Bearer realm="kordon"`)
	}
	// A page's script (the console's fetch) must not get a Basic
	// challenge: browsers answer it with a password dialog of their own.
	// Nor may another site's page (a frame of an API URL, a link): its
	// dialog would ask for the token on that page's behalf, and the
	// browser would then send it by itself with every request.
	if r.Header.Get("Sec-Fetch-Dest") != "empty" && !otherSite(r) {
		w.Header().Add("WWW-Authenticate", `Basic realm="kordon", charset="UTF-8"`)
	}
	w.Header().Set("Connection", "close")
	writeError(w, apiError(http.StatusUnauthorized, codeUnauthorized, msg, nil))
}

// limitBody bounds the request body to the route's limit, decompressed,
// and the time the client may take to send it.
func (s *Server) limitBody(w http.ResponseWriter, r *http.Request, rt route) error {
	r.Body = http.MaxBytesReader(w, r.Body, rt.body)
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return badRequest("the gzip body is empty", nil)
			}
			return badRequest("the gzip body cannot be read: "+err.Error(), nil)
		}
		// The limit holds for what the body expands to, too.
		r.Body = http.MaxBytesReader(w, zr, rt.body)
		r.Header.Del("Content-Encoding")
	default:
		return apiError(http.StatusUnsupportedMediaType, codeUnsupported, "Content-Encoding "+strconv.Quote(enc)+" is not supported (send gzip or nothing)", nil)
	}
	if rt.body <= noBody {
		return nil // no body to wait for: the headers' timeout has passed
	}
	// A body must arrive at a reasonable pace: 20 seconds, plus a second
	// per 256 KiB it may hold. Once it is read the deadline goes, so that
	// a slow write to the store does not end the request.
	rc := http.NewResponseController(w)
	d := 20*time.Second + time.Duration(rt.body/(256<<10))*time.Second
	_ = rc.SetReadDeadline(time.Now().Add(d))
	r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
	return nil
}

// deadlineBody clears the connection's read deadline once the body has
// been read to its end. A body that fails (too slow, too large) keeps the
// deadline, so the server cannot wait on the rest of it either.
type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) && !b.done {
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// wildcardsOf lists a pattern's wildcard names.
func wildcardsOf(pattern string) []string {
	var out []string
	for _, seg := range strings.Split(pattern, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			out = append(out, strings.TrimSuffix(strings.TrimPrefix(seg, "{"), "}"))
		}
	}
	return out
}

type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
	route  string
}

func (r *recorder) WriteHeader(code int) {
	r.status, r.wrote = code, true
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's deadlines.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) }

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if !s.m.Ready() {
		writeError(w, apiError(http.StatusServiceUnavailable, codeUnavailable, "the state is loading", nil))
		return
	}
	w.Write([]byte("ok\n"))
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	if s.metricsHandler == nil {
		writeError(w, notFound("this server exports no metrics"))
		return
	}
	s.metricsHandler.ServeHTTP(w, r)
}

type ctxKey struct{}

// principal returns who is calling.
func principal(r *http.Request) access.Principal {
	p, _ := r.Context().Value(ctxKey{}).(access.Principal)
	return p
}

// space is the project of the route's space ("" for the default space).
func space(r *http.Request) string { return r.PathValue("project") }

// authenticate returns who sent a request: a cluster or agent by its
// verified client certificate, or a token given as a bearer token or as
// the password of HTTP basic authentication (feeds and NSX clients that
// can send only that; the user name is ignored), or a session cookie
// (session.go) when no Authorization header is sent. No credentials is
// the anonymous principal; credentials that do not hold are an error.
func (s *Server) authenticate(r *http.Request) (access.Principal, error) {
	p, _, err := s.authenticateHow(r)
	return p, err
}

// authenticateHow is authenticate, also saying whether the credential was
// a session cookie: the one credential a browser attaches by itself, so
// the one that needs the CSRF check.
func (s *Server) authenticateHow(r *http.Request) (access.Principal, bool, error) {
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		p, err := s.certPrincipal(r)
		return p, false, err
	}
	if r.Header.Get("Authorization") == "" {
		if sessionCookiesAmbiguous(r) {
			return access.Principal{}, true, errSessionCookies
		}
		if secret, ok := sessionSecret(r); ok {
			p, _, ok := s.m.AuthenticateSession(secret)
			if !ok {
				return access.Principal{}, true, errors.New("the session has ended (signed out, expired, or its token revoked): sign in again")
			}
			return p, true, nil
		}
	}
	p, err := s.tokenPrincipal(r)
	return p, false, err
}

func (s *Server) tokenPrincipal(r *http.Request) (access.Principal, error) {
	token := ""
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, _ := strings.Cut(h, " ")
		switch {
		case strings.EqualFold(scheme, "Bearer"):
			token = strings.TrimSpace(rest)
		case strings.EqualFold(scheme, "Basic"):
			_, pw, ok := r.BasicAuth()
			if !ok {
				return access.Principal{}, errors.New("the basic authentication header cannot be read")
			}
			token = pw
		default:
			return access.Principal{}, errors.New("send Authorization: Bearer <token> or Basic (the token as the password)")
		}
		if token == "" {
			return access.Principal{}, errors.New("the Authorization header holds no token")
		}
	}
	if token == "" {
		return access.Principal{}, nil
	}
	p, ok := s.m.Authenticate(token)
	if !ok {
		return access.Principal{}, errors.New("the token is not valid: unknown, revoked or expired")
	}
	return p, nil
}

// readBody reads a JSON body, refusing oversized ones with 413 and
// anything encoding/json would accept silently (duplicate keys, invalid
// UTF-8, null) with 400.
func readBody(r *http.Request) ([]byte, error) {
	d, err := readDocument(r)
	return d.JSON, err
}

// readDocument is readBody, with the depth of the body's values as the
// check measured it (textdoc.Document).
func readDocument(r *http.Request) (textdoc.Document, error) {
	b, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return textdoc.Document{}, apiError(http.StatusRequestEntityTooLarge, codeTooLarge, "the request body is larger than "+strconv.FormatInt(mbe.Limit, 10)+" bytes", nil)
	}
	if err != nil {
		return textdoc.Document{}, badRequest("reading the request body: "+err.Error(), nil)
	}
	t := bytes.TrimSpace(b)
	if len(t) == 0 {
		return textdoc.Document{}, badRequest("the request body is empty", nil)
	}
	if t[0] == '{' || t[0] == '[' {
		// One light scan (textdoc.Split's) accepts most bodies: one JSON
		// value, valid UTF-8, no key twice, no deeper than encoding/json
		// allows; it checks the others in the order below, which names
		// their problem. Not textdoc.CheckJSON alone: on a document its
		// scan is unsure of, it walks the document with one Go frame per
		// level and no depth limit, and a body of a few MB of '[' would
		// overflow the stack (a fatal error, not a panic).
		if docs, errs := textdoc.Split("request body", b); len(errs) == 0 && len(docs) == 1 {
			return docs[0], nil
		}
	}
	if !json.Valid(b) {
		var v any
		err := json.Unmarshal(b, &v)
		return textdoc.Document{}, badRequest("the request body is not valid JSON: "+err.Error(), nil)
	}
	if err := textdoc.CheckJSON(b); err != nil {
		return textdoc.Document{}, badRequest("the request body: "+err.Error(), nil)
	}
	return textdoc.Document{Where: "request body", JSON: b}, nil // a scalar: nothing nests
}

func (s *Server) writeCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), s.timeout)
}
