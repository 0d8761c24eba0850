package apiserver

import (
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

	"github.com/kordon-dev/kordon/internal/manager"
)

// Options configure the API.
type Options struct {
	Manager *manager.Manager
	Logger  *slog.Logger
	// Gatherer serves /metrics; Registerer receives the API's metrics.
	Gatherer   prometheus.Gatherer
	Registerer prometheus.Registerer
	// MaxBody limits request bodies (default 32 MiB).
	MaxBody int64
	// WriteTimeout bounds how long a write waits for the store.
	WriteTimeout time.Duration
	// CA is the installation's CA certificate (PEM), handed to adapters.
	CA []byte
}

// Server is the HTTP API.
type Server struct {
	m       *manager.Manager
	log     *slog.Logger
	maxBody int64
	timeout time.Duration
	mux     *http.ServeMux
	latency *prometheus.HistogramVec
	explain *explainCache
	caPEM   []byte
}

// New builds the API handler.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.MaxBody <= 0 {
		o.MaxBody = 32 << 20
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 60 * time.Second
	}
	s := &Server{m: o.Manager, log: o.Logger, maxBody: o.MaxBody, timeout: o.WriteTimeout, mux: http.NewServeMux(), explain: newExplainCache(), caPEM: o.CA}
	s.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "kordon_api_request_duration_seconds",
		Help: "API request latency by route and status code.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)},
		[]string{"method", "route", "code"})
	if o.Registerer != nil {
		o.Registerer.MustRegister(s.latency)
	}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	s.mux.HandleFunc("GET /readyz", s.readyz)
	if o.Gatherer != nil {
		s.mux.Handle("GET /metrics", s.auth(manager.RoleReader, promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{})))
	}
	s.mux.Handle("/policy/api/v1/", s.auth(manager.RoleReader, http.HandlerFunc(s.policy)))
	s.mux.Handle("GET /edl/v1/", s.auth(manager.RoleReader, http.HandlerFunc(s.edl)))
	return s
}

// ServeHTTP serves the API, recording latency and turning panics into
// 500s.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &recorder{ResponseWriter: w, status: 200}
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("panic serving request", "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
			if !rw.wrote {
				writeError(rw, apiError(http.StatusInternalServerError, codeInternal, "internal error", nil))
			}
		}
		s.latency.WithLabelValues(r.Method, route(r.URL.Path), strconv.Itoa(rw.status)).Observe(time.Since(start).Seconds())
	}()
	limit := s.maxBody
	if strings.HasSuffix(r.URL.Path, "/inventory") {
		limit = maxInventoryBody // full synchronisations of large clusters
	}
	r.Body = http.MaxBytesReader(rw, r.Body, limit)
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			writeError(rw, badRequest("the gzip body cannot be read: "+err.Error(), nil))
			return
		}
		// The limit holds for what the body expands to, too.
		r.Body = http.MaxBytesReader(rw, zr, limit)
		r.Header.Del("Content-Encoding")
	}
	s.mux.ServeHTTP(rw, r)
}

// route is a low-cardinality label for a path.
func route(p string) string {
	switch {
	case strings.HasPrefix(p, "/policy/api/v1/kordon/"):
		return "/policy/api/v1/kordon/" + strings.SplitN(strings.TrimPrefix(p, "/policy/api/v1/kordon/"), "/", 2)[0]
	case strings.Contains(p, "/members/"):
		return "members"
	case strings.HasPrefix(p, "/policy/api/v1/orgs/"):
		return "project"
	case strings.HasPrefix(p, "/policy/api/v1/"):
		return "policy"
	case strings.HasPrefix(p, "/edl/"):
		return "edl"
	}
	return p
}

type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *recorder) WriteHeader(code int) {
	r.status, r.wrote = code, true
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if !s.m.Ready() {
		writeError(w, apiError(http.StatusServiceUnavailable, codeUnavailable, "the state is loading", nil))
		return
	}
	w.Write([]byte("ok\n"))
}

type ctxKey struct{}

// principal returns who is calling.
func principal(r *http.Request) manager.Principal {
	p, _ := r.Context().Value(ctxKey{}).(manager.Principal)
	return p
}

// auth admits callers with a bearer token (or, for feeds that cannot send
// one, HTTP basic authentication with the token as password), or a
// cluster's client certificate. Readers may only read; explain and trace are reads.
// A cluster may only report itself.
func (s *Server) auth(min string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
			p, err := s.certPrincipal(r)
			if err != nil {
				writeError(w, apiError(http.StatusUnauthorized, codeUnauthorized, err.Error(), nil))
				return
			}
			if !clusterMayCall(p, r) {
				msg := p.Name + " may only report its own inventory and heartbeat"
				if p.Role == RoleAgent {
					msg = p.Name + " may only fetch its own span and report on it"
				}
				writeError(w, apiError(http.StatusForbidden, codeForbidden, msg, nil))
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, p)))
			return
		}
		token := ""
		if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
			token = strings.TrimSpace(strings.TrimPrefix(h, "Bearer "))
		} else if _, pw, ok := r.BasicAuth(); ok {
			token = pw
		}
		if token == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kordon"`)
			writeError(w, apiError(http.StatusUnauthorized, codeUnauthorized, "authentication required: send Authorization: Bearer <token>", nil))
			return
		}
		p, ok := s.m.Authenticate(token)
		if !ok {
			writeError(w, apiError(http.StatusUnauthorized, codeUnauthorized, "the token is not valid", nil))
			return
		}
		if p.Role != manager.RoleAdmin && !readOnly(r) {
			writeError(w, apiError(http.StatusForbidden, codeForbidden, "the "+p.Role+" role may only read", nil))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, p)))
	})
}

func readOnly(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		// A cluster's or agent's bundle holds its private key.
		return !strings.HasSuffix(r.URL.Path, "/bundle")
	case http.MethodPost:
		return strings.HasSuffix(r.URL.Path, "/kordon/explain") || strings.HasSuffix(r.URL.Path, "/kordon/trace")
	}
	return false
}

// readBody reads a JSON body, refusing oversized ones with 413.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, apiError(http.StatusRequestEntityTooLarge, codeTooLarge, "the request body is larger than "+strconv.FormatInt(mbe.Limit, 10)+" bytes", nil)
	}
	if err != nil {
		return nil, badRequest("reading the request body: "+err.Error(), nil)
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, badRequest("the request body is empty", nil)
	}
	if !json.Valid(b) {
		var v any
		err := json.Unmarshal(b, &v)
		return nil, badRequest("the request body is not valid JSON: "+err.Error(), nil)
	}
	return b, nil
}

func (s *Server) writeCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), s.timeout)
}
