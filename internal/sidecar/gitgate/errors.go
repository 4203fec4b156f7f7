package gitgate

import (
	"errors"
	"net/http"
)

// Error categories. Detail is added with %w; httpStatus maps a category to
// the status the client gets.
var (
	// errNotFound: the URL names no declared repository or git service.
	errNotFound = errors.New("not found")
	// errBadRequest: the client sent something malformed.
	errBadRequest = errors.New("bad request")
	// errTooLarge: a request body exceeds --max-pack.
	errTooLarge = errors.New("request too large")
	// errUpstream: the upstream could not be reached or failed.
	errUpstream = errors.New("upstream failed")
	// errBusy: the gate is at its limit of concurrent pushes.
	errBusy = errors.New("busy")
)

// httpStatus is the HTTP status for err's category.
func httpStatus(err error) int {
	switch {
	case errors.Is(err, errNotFound):
		return http.StatusNotFound
	case errors.Is(err, errBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, errTooLarge):
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, errUpstream):
		return http.StatusBadGateway
	case errors.Is(err, errBusy):
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}
