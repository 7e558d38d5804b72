package http1

import "errors"

// Error is a request the server must refuse with Status. Its text is for logs,
// never for clients: the client sees only the status and a fixed page.
type Error struct {
	Status int
	Reason string
}

func (e *Error) Error() string { return "weft: " + e.Reason }

// ErrIncomplete reports that the buffer does not yet hold a whole request head.
var ErrIncomplete = errors.New("weft: incomplete request head")

// ErrBodyTooLarge is the error of a request body read past the limit its
// handler set (see BodyHandler).
var ErrBodyTooLarge = &Error{413, "request body too large"}

var (
	errBadRequestLine = &Error{400, "malformed request line"}
	errBadMethod      = &Error{400, "malformed method"}
	errBadTarget      = &Error{400, "malformed request-target"}
	errBadVersion     = &Error{400, "malformed HTTP version"}
	errVersion        = &Error{505, "unsupported HTTP version"}
	errURITooLong     = &Error{414, "request-target too long"}
	errHeadTooLarge   = &Error{431, "request header section too large"}
	errTooManyFields  = &Error{431, "too many header fields"}
	errBadField       = &Error{400, "malformed header field"}
	errSpaceColon     = &Error{400, "whitespace between field name and colon"}
	errObsFold        = &Error{400, "obsolete line folding"}
	errBadCL          = &Error{400, "invalid Content-Length"}
	errDupCL          = &Error{400, "conflicting Content-Length values"}
	errTEWithCL       = &Error{400, "Transfer-Encoding with Content-Length"}
	errBadTE          = &Error{400, "unsupported Transfer-Encoding"}
	errNoHost         = &Error{400, "HTTP/1.1 request without Host"}
	errDupHost        = &Error{400, "more than one Host"}
	errBadHost        = &Error{400, "invalid Host"}
	errBareCR         = &Error{400, "bare CR in request head"}
)

// StatusOf returns the HTTP status for a parse error: the Error's status, or
// 400 for anything else.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 400
}
