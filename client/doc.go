// Package client is a Go client for the ringd protocol (docs: the project's
// protocol.md). It owns the client side of the wire: turning typed requests
// into `POST` bodies (JSON, and for requests with data a NUL and exactly
// `length` bytes), reading answers back (JSON, and for fetch, callinfo and
// aicall a NUL and `length` bytes), and turning error answers into *Error.
//
// It does not own identities: a caller keeps its numbers' uuids (they are
// the numbers' secrets) and passes them in each request. It holds no state
// between requests beyond the HTTP connection pool, so one Client may be
// used by many goroutines at once.
//
// Data is streamed both ways and never held whole in memory: Send and Sends
// read their data from an io.Reader of known length while the request is
// being written, and Fetch copies the answer's data to an io.Writer as it
// arrives. Call data (callinfo, aicall answers) is small by contract and is
// returned as a []byte.
//
// Every method takes a context; cancelling it aborts the request, including
// a long-polling get or callinfo.
package client
