// Package http1 turns bytes into a Request view and a Response plan into bytes.
//
// It does no I/O and knows nothing about files or sockets: engines feed it the
// bytes they read and write the bytes (and body sources) it plans. A Request is
// a view into the caller's read buffer: its byte slices are valid only until
// the caller reuses that buffer, and handlers must not retain them.
//
// A request body is the connection's to read and drop, unless the handler
// takes it (BodyHandler, for uploads): Request.Body then streams it, fed by
// the connection (a blocking engine reads the socket through the framing
// decoder, ChunkedBody.Next for chunked bodies) or by net/http and quic-go.
//
// The parser follows RFC 9112 strictly where leniency would let two parsers
// disagree about message framing (request smuggling): whitespace before a colon,
// obs-fold, Transfer-Encoding together with Content-Length, and differing
// Content-Length values are rejected with 400.
package http1
