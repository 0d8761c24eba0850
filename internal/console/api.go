package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxAnswer bounds one API answer the console reads into memory for a
// page; lists are read a page at a time, so only a pathological object
// comes near it.
const maxAnswer = 64 << 20

// apiError is an answer of the API that is not a success: its status and
// NSX error message.
type apiError struct {
	Status  int
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d: %s", e.Status, e.Message) }

// statusOf returns the HTTP status of an API error (500 for others).
func statusOf(err error) int {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return http.StatusInternalServerError
}

// caller calls the API for one browser request, with that request's
// credentials and nothing else: its cookies (the session), its
// connection's TLS state and address. csrf is the session's CSRF token,
// sent with the few reads the API takes as POST (trace). What the browser
// said of where the request comes from (Sec-Fetch-Site, Origin) goes
// along, so that the API refuses the console's POST for another site's
// page as it would refuse that page's own: a GET the console turns into
// a POST is no way around the API's check.
type caller struct {
	api  http.Handler
	r    *http.Request
	csrf string
}

// get reads path into v.
func (c *caller) get(path string, v any) error { return c.do(http.MethodGet, path, nil, v) }

// post sends body as JSON to path and reads the answer into v.
func (c *caller) post(path string, body, v any) error { return c.do(http.MethodPost, path, body, v) }

func (c *caller) do(method, path string, body, v any) error {
	u, err := url.Parse(path)
	if err != nil {
		return err
	}
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(c.r.Context(), method, u.String(), rd)
	if err != nil {
		return err
	}
	req.RemoteAddr, req.TLS, req.Host = c.r.RemoteAddr, c.r.TLS, c.r.Host
	for _, ck := range c.r.Cookies() {
		req.AddCookie(ck)
	}
	for _, h := range []string{"Sec-Fetch-Site", "Origin"} {
		if v := c.r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-XSRF-TOKEN", c.csrf)
	}
	w := &answer{header: http.Header{}, status: http.StatusOK}
	c.api.ServeHTTP(w, req)
	if w.over {
		return &apiError{Status: http.StatusInsufficientStorage, Message: "the answer is larger than the console reads"}
	}
	if w.status >= 300 {
		var e struct {
			Message string `json:"error_message"`
		}
		_ = json.Unmarshal(w.body.Bytes(), &e)
		if e.Message == "" {
			e.Message = strings.TrimSpace(w.body.String())
		}
		return &apiError{Status: w.status, Message: e.Message}
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(w.body.Bytes(), v); err != nil {
		return fmt.Errorf("the API's answer to %s cannot be read: %w", u.Path, err)
	}
	return nil
}

// answer is an in-memory http.ResponseWriter for one API call.
type answer struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
	over   bool
}

func (a *answer) Header() http.Header { return a.header }

func (a *answer) WriteHeader(code int) {
	if !a.wrote {
		a.status, a.wrote = code, true
	}
}

func (a *answer) Write(b []byte) (int, error) {
	a.wrote = true
	if a.body.Len()+len(b) > maxAnswer {
		a.over = true
		return 0, errors.New("answer too large")
	}
	return a.body.Write(b)
}

// spacePrefix is the API prefix of a space: the default space, or a
// project's.
func spacePrefix(project string) string {
	if project == "" {
		return "/policy/api/v1"
	}
	return "/policy/api/v1/orgs/default/projects/" + url.PathEscape(project)
}

// listAll reads every page of an NSX list into out, up to limit items.
func listAll[T any](c *caller, path string, limit int) ([]T, error) {
	var out []T
	cursor := ""
	for {
		var page struct {
			Results     []T    `json:"results"`
			ResultCount int    `json:"result_count"`
			Cursor      string `json:"cursor"`
		}
		p := path
		sep := "?"
		if strings.Contains(p, "?") {
			sep = "&"
		}
		p += sep + "page_size=1000"
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		if err := c.get(p, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Results...)
		if page.Cursor == "" || len(out) >= limit {
			return out, nil
		}
		cursor = page.Cursor
	}
}
