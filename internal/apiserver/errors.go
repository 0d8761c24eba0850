package apiserver

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/kordon-dev/kordon/internal/manager"
	"github.com/kordon-dev/kordon/internal/model"
)

// Error codes kordon returns in error_code, by kind of failure.
const (
	codeBadRequest     = 400001
	codeInvalid        = 400012
	codeUnauthorized   = 401001
	codeForbidden      = 403001
	codeNotEntitled    = 403010
	codeNotFound       = 404001
	codeMethod         = 405001
	codeConflict       = 409001
	codeGone           = 410001
	codeStale          = 412001
	codeInUse          = 412002
	codeTooLarge       = 413001
	codeUnsupported    = 415001
	codeTooMany        = 429001
	codeInternal       = 500001
	codeNotImplemented = 501001
	codeUnavailable    = 503001
)

// APIError is NSX's error body.
type APIError struct {
	HTTPStatus    string         `json:"httpStatus"`
	ErrorCode     int            `json:"error_code"`
	ModuleName    string         `json:"module_name"`
	ErrorMessage  string         `json:"error_message"`
	RelatedErrors []RelatedError `json:"related_errors,omitempty"`
	status        int
}

// RelatedError is one of several problems.
type RelatedError struct {
	HTTPStatus   string `json:"httpStatus"`
	ErrorCode    int    `json:"error_code"`
	ModuleName   string `json:"module_name"`
	ErrorMessage string `json:"error_message"`
	Path         string `json:"path,omitempty"`
	Field        string `json:"field,omitempty"`
}

func (e *APIError) Error() string { return e.ErrorMessage }

func statusName(code int) string {
	return strings.ToUpper(strings.ReplaceAll(http.StatusText(code), " ", "_"))
}

func apiError(status, code int, msg string, details model.Errors) *APIError {
	e := &APIError{HTTPStatus: statusName(status), ErrorCode: code, ModuleName: "kordon", ErrorMessage: msg, status: status}
	for _, d := range details {
		e.RelatedErrors = append(e.RelatedErrors, RelatedError{HTTPStatus: e.HTTPStatus, ErrorCode: code, ModuleName: "kordon",
			ErrorMessage: d.Error(), Path: d.Path, Field: d.Field})
	}
	return e
}

func badRequest(msg string, details model.Errors) *APIError {
	return apiError(http.StatusBadRequest, codeBadRequest, msg, details)
}

func notFound(msg string) *APIError { return apiError(http.StatusNotFound, codeNotFound, msg, nil) }

// toAPIError maps a manager (or other) error to the API's.
func toAPIError(err error) *APIError {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae
	}
	var we *manager.WriteError
	if errors.As(err, &we) {
		switch {
		case errors.Is(err, manager.ErrInvalid):
			return apiError(http.StatusBadRequest, codeInvalid, we.Message, we.Details)
		case errors.Is(err, manager.ErrNotEntitled):
			return apiError(http.StatusForbidden, codeNotEntitled, we.Message, we.Details)
		case errors.Is(err, manager.ErrStale):
			return apiError(http.StatusPreconditionFailed, codeStale, we.Message, we.Details)
		case errors.Is(err, manager.ErrNotFound):
			return apiError(http.StatusNotFound, codeNotFound, we.Message, we.Details)
		case errors.Is(err, manager.ErrConflict):
			return apiError(http.StatusConflict, codeConflict, we.Message, we.Details)
		case errors.Is(err, manager.ErrTooFrequent):
			return apiError(http.StatusTooManyRequests, codeTooMany, we.Message, we.Details)
		case errors.Is(err, manager.ErrQuota):
			return apiError(http.StatusRequestEntityTooLarge, codeTooLarge, we.Message, we.Details)
		}
	}
	if errors.Is(err, manager.ErrTooOld) {
		return apiError(http.StatusGone, codeGone, err.Error(), nil)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return apiError(http.StatusServiceUnavailable, codeUnavailable, "the store did not answer in time: "+err.Error(), nil)
	}
	return apiError(http.StatusInternalServerError, codeInternal, err.Error(), nil)
}

func writeError(w http.ResponseWriter, err error) {
	e := toAPIError(err)
	writeJSON(w, e.status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
