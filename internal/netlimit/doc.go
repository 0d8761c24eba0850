// Package netlimit owns the manager's connection budget: a listener that
// caps open connections, keeps a reserve of them for callers that have
// authenticated, and survives running out of file descriptors (it waits
// and retries instead of failing). The HTTP server marks a connection
// authenticated once a request on it presents valid credentials.
package netlimit
