package http1

import (
	"bytes"
	"io"
	"net/netip"
)

// Header is one header field as received: views into the read buffer.
type Header struct {
	Name, Value []byte
}

// Limits bound what one request head may hold.
type Limits struct {
	MaxURI         int // longest request-target, in bytes (414 beyond)
	MaxHeadBytes   int // longest request head, request line included (431 beyond)
	MaxHeaderCount int // most header fields (431 beyond)
}

// DefaultLimits are the limits used when a field of Limits is zero.
var DefaultLimits = Limits{MaxURI: 8 << 10, MaxHeadBytes: 16 << 10, MaxHeaderCount: 100}

// WithDefaults returns l with zero fields replaced by DefaultLimits.
func (l Limits) WithDefaults() Limits {
	if l.MaxURI <= 0 {
		l.MaxURI = DefaultLimits.MaxURI
	}
	if l.MaxHeadBytes <= 0 {
		l.MaxHeadBytes = DefaultLimits.MaxHeadBytes
	}
	if l.MaxHeaderCount <= 0 {
		l.MaxHeaderCount = DefaultLimits.MaxHeaderCount
	}
	return l
}

// HeadStatus is the status ParseHead refuses a head of these sizes with,
// for a protocol that delivers the head as fields (HTTP/2, HTTP/3) and
// measures it as HTTP/1.1 would carry it: line is the request line's
// length with its CRLF, size the head's (Host field included), count its
// fields and uri the target's length. 414 or 431, or 0 within l.
func HeadStatus(l Limits, line, size, count, uri int) int {
	switch {
	case size > l.MaxHeadBytes && line >= l.MaxHeadBytes:
		return 414
	case size > l.MaxHeadBytes:
		return 431
	case uri > l.MaxURI:
		return 414
	case count > l.MaxHeaderCount:
		return 431
	}
	return 0
}

// Request is a parsed request head. Every byte slice is a view into the buffer
// given to Parse and is valid only as long as that buffer is; a Request is
// reused from one request to the next, so handlers must not retain it.
type Request struct {
	Method     Method
	MethodName []byte // the method token as received
	Target     []byte // request-target as received
	Path       []byte // path of the target, still percent-encoded; "*" for asterisk-form
	Query      []byte // query without '?'; nil when the target has no '?'
	Major      int
	Minor      int
	Host       []byte // from an absolute-form target, else from the Host field

	Headers []Header // every field, in order received

	ContentLength int64 // -1 when absent
	Chunked       bool  // Transfer-Encoding ends in chunked
	KeepAlive     bool  // the connection may carry another request after this one
	Expect        []byte

	// Fields the file server consults, found while parsing so handlers need
	// no second scan.
	IfMatch           []byte
	IfNoneMatch       []byte
	IfModifiedSince   []byte
	IfUnmodifiedSince []byte
	IfRange           []byte
	Range             []byte
	AcceptEncoding    []byte
	// AcceptEncodingRepeated: the field came on several lines, which
	// mean their comma-joined list (RFC 9110 §5.3); AcceptEncoding is the
	// last, and Headers has them all.
	AcceptEncodingRepeated bool
	Referer                []byte
	UserAgent              []byte
	Origin                 []byte // for CORS

	// Set by the connection, not parsed: the peer's address (zero where
	// unknown), and whether the request came over TLS (a TLS front sets
	// it; the engines serve plain HTTP and leave it false).
	Remote netip.AddrPort
	TLS    bool

	// Body is the request body, decoded from its framing, for a request
	// whose body the handler takes (see BodyHandler); nil otherwise. The
	// connection sets it; it is valid only during the handler's call.
	// Reading past the handler's limit fails with ErrBodyTooLarge; a body
	// cut short fails with io.ErrUnexpectedEOF or the connection's error.
	Body io.Reader

	hostSeen  bool
	teSeen    bool
	connClose bool
}

// Reset clears r for reuse, keeping its header storage.
func (r *Request) Reset() {
	h := r.Headers[:0]
	*r = Request{Headers: h}
}

// HasBody reports whether a message body follows the head.
func (r *Request) HasBody() bool { return r.Chunked || r.ContentLength > 0 }

// HeadLength returns the length of the request head at the start of b, up to
// and including the empty line that ends it, or -1 if b does not hold a whole
// head yet. Scanning starts at from (a previous, shorter b's length is a safe
// value), so a head that arrives a byte at a time is not rescanned each time.
func HeadLength(b []byte, from int) int {
	from -= 3
	if from < 0 {
		from = 0
	}
	for {
		i := bytes.IndexByte(b[from:], '\n')
		if i < 0 {
			return -1
		}
		i += from
		if i+1 < len(b) && b[i+1] == '\n' {
			return i + 2
		}
		if i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n' {
			return i + 3
		}
		if i+2 >= len(b) {
			// The next line may be empty but has not arrived yet.
			if i+1 == len(b) || (i+2 == len(b) && b[i+1] == '\r') {
				return -1
			}
		}
		from = i + 1
	}
}

// OversizeStatus tells, for a buffer that holds no complete head but has
// reached lim.MaxHeadBytes, which status to refuse it with.
func OversizeStatus(b []byte, lim Limits) int { return oversize(b, lim).Status }

// oversize is the error for a head over lim.MaxHeadBytes: 414 when the
// request line alone fills the limit, 431 otherwise. Only the first
// MaxHeadBytes bytes decide, so the answer does not depend on how much
// more had arrived when the limit was noticed.
func oversize(b []byte, lim Limits) *Error {
	if bytes.IndexByte(b[:min(len(b), lim.MaxHeadBytes)], '\n') < 0 {
		return errURITooLong
	}
	return errHeadTooLarge
}

// Parse parses the request head at the start of b, which must hold a whole head
// (see HeadLength); n is the head's length. Leading empty lines are skipped.
func (r *Request) Parse(b []byte, lim Limits) (n int, err error) {
	n = HeadLength(b, 0)
	if n < 0 {
		r.Reset()
		return 0, ErrIncomplete
	}
	return n, r.ParseHead(b[:n], lim)
}

// ParseHead parses head, which must be exactly one whole request head as
// measured by HeadLength.
func (r *Request) ParseHead(head []byte, lim Limits) error {
	r.Reset()
	n := len(head)
	if n > lim.MaxHeadBytes {
		return oversize(head, lim)
	}
	// RFC 9112 §2.2: ignore at least one empty line before the request line.
	for len(head) > 0 && (head[0] == '\r' || head[0] == '\n') {
		if head[0] == '\r' && (len(head) < 2 || head[1] != '\n') {
			return errBareCR
		}
		head = head[1:]
	}
	line, rest, err := nextLine(head)
	if err != nil {
		return err
	}
	if err := r.parseRequestLine(line, lim); err != nil {
		return err
	}
	for {
		line, rest, err = nextLine(rest)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			break
		}
		if len(r.Headers) >= lim.MaxHeaderCount {
			return errTooManyFields
		}
		if err := r.parseField(line); err != nil {
			return err
		}
	}
	return r.finish()
}

// nextLine splits off one line ending in LF or CRLF. A CR anywhere else is an error.
func nextLine(b []byte) (line, rest []byte, err error) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, nil, ErrIncomplete
	}
	line, rest = b[:i], b[i+1:]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	if bytes.IndexByte(line, '\r') >= 0 {
		return nil, nil, errBareCR
	}
	return line, rest, nil
}

func (r *Request) parseRequestLine(line []byte, lim Limits) error {
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return errBadRequestLine
	}
	r.MethodName = line[:sp]
	if !isToken(r.MethodName) {
		return errBadMethod
	}
	r.Method = lookupMethod(r.MethodName)
	line = line[sp+1:]
	sp = bytes.LastIndexByte(line, ' ')
	if sp < 0 {
		return errBadRequestLine
	}
	target, version := line[:sp], line[sp+1:]
	if len(target) > lim.MaxURI {
		return errURITooLong
	}
	if len(target) == 0 {
		return errBadRequestLine
	}
	for _, c := range target {
		// '#' starts a fragment, which is never part of a
		// request-target (RFC 9112 §3.2).
		if c <= ' ' || c == 0x7f || c == '#' {
			return errBadTarget
		}
	}
	if err := r.parseVersion(version); err != nil {
		return err
	}
	r.Target = target
	return r.splitTarget(target)
}

func (r *Request) parseVersion(v []byte) error {
	if len(v) != 8 || string(v[:5]) != "HTTP/" || v[6] != '.' || !isDigit(v[5]) || !isDigit(v[7]) {
		return errBadVersion
	}
	r.Major, r.Minor = int(v[5]-'0'), int(v[7]-'0')
	if r.Major != 1 {
		return errVersion
	}
	if r.Minor > 1 {
		// RFC 9110 §6.2: a higher minor version is answered as the highest we speak.
		r.Minor = 1
	}
	r.KeepAlive = r.Minor == 1
	r.ContentLength = -1
	return nil
}

func (r *Request) splitTarget(t []byte) error {
	switch {
	case t[0] == '/':
	case len(t) == 1 && t[0] == '*':
		r.Path = t
		return nil
	case hasPrefixFold(t, "http://") || hasPrefixFold(t, "https://"):
		t = t[bytes.IndexByte(t, ':')+3:]
		end := bytes.IndexAny(t, "/?")
		if end < 0 {
			end = len(t)
		}
		r.Host = t[:end]
		if !validHost(r.Host) || len(r.Host) == 0 {
			return errBadHost
		}
		t = t[end:]
		if len(t) == 0 || t[0] == '?' {
			// An empty path in absolute-form means "/".
			if len(t) == 0 {
				r.Path = slash
				return nil
			}
			r.Path = slash
			r.Query = t[1:]
			return nil
		}
	default:
		if r.Method == MethodConnect {
			// authority-form: kept as the path; CONNECT is refused later.
			r.Path = t
			return nil
		}
		return errBadTarget
	}
	if q := bytes.IndexByte(t, '?'); q >= 0 {
		r.Path, r.Query = t[:q], t[q+1:]
	} else {
		r.Path = t
	}
	return nil
}

var slash = []byte("/")

func (r *Request) parseField(line []byte) error {
	if line[0] == ' ' || line[0] == '\t' {
		return errObsFold
	}
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return errBadField
	}
	name := line[:colon]
	if c := name[len(name)-1]; c == ' ' || c == '\t' {
		return errSpaceColon
	}
	if !isToken(name) {
		return errBadField
	}
	value := trimOWS(line[colon+1:])
	for _, c := range value {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return errBadField
		}
	}
	r.Headers = append(r.Headers, Header{Name: name, Value: value})
	return r.noteField(name, value)
}

// noteField records the fields weft acts on.
func (r *Request) noteField(name, value []byte) error {
	switch len(name) {
	case 4:
		if equalFold(name, "host") {
			if r.hostSeen {
				return errDupHost
			}
			r.hostSeen = true
			if !validHost(value) {
				return errBadHost
			}
			if r.Host == nil {
				r.Host = value
			}
		}
	case 5:
		if equalFold(name, "range") {
			r.Range = value
		}
	case 6:
		if equalFold(name, "expect") {
			r.Expect = value
		} else if equalFold(name, "origin") {
			r.Origin = value
		}
	case 7:
		if equalFold(name, "referer") {
			r.Referer = value
		}
	case 8:
		if equalFold(name, "if-match") {
			r.IfMatch = value
		} else if equalFold(name, "if-range") {
			r.IfRange = value
		}
	case 10:
		if equalFold(name, "connection") {
			r.noteConnection(value)
		} else if equalFold(name, "user-agent") {
			r.UserAgent = value
		}
	case 13:
		if equalFold(name, "if-none-match") {
			r.IfNoneMatch = value
		}
	case 14:
		if equalFold(name, "content-length") {
			return r.noteContentLength(value)
		}
	case 15:
		if equalFold(name, "accept-encoding") {
			r.AcceptEncodingRepeated = r.AcceptEncoding != nil
			r.AcceptEncoding = value
		}
	case 17:
		if equalFold(name, "if-modified-since") {
			r.IfModifiedSince = value
		} else if equalFold(name, "transfer-encoding") {
			return r.noteTransferEncoding(value)
		}
	case 19:
		if equalFold(name, "if-unmodified-since") {
			r.IfUnmodifiedSince = value
		}
	}
	return nil
}

func (r *Request) noteConnection(v []byte) {
	for len(v) > 0 {
		var opt []byte
		opt, v = nextListItem(v)
		if equalFold(opt, "close") {
			r.KeepAlive = false
			r.connClose = true
		} else if equalFold(opt, "keep-alive") && r.Minor == 0 && !r.connClose {
			r.KeepAlive = true
		}
	}
}

func (r *Request) noteContentLength(v []byte) error {
	for len(v) > 0 {
		var item []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			item, v = trimOWS(v[:i]), v[i+1:]
		} else {
			item, v = trimOWS(v), nil
		}
		n, ok := parseDecimal(item)
		if !ok {
			return errBadCL
		}
		if r.ContentLength >= 0 && r.ContentLength != n {
			return errDupCL
		}
		r.ContentLength = n
	}
	if r.ContentLength < 0 {
		return errBadCL
	}
	return nil
}

func (r *Request) noteTransferEncoding(v []byte) error {
	r.teSeen = true
	// The last coding decides framing; only chunked is one we can frame.
	last := v
	if i := bytes.LastIndexByte(v, ','); i >= 0 {
		last = v[i+1:]
	}
	r.Chunked = equalFold(trimOWS(last), "chunked")
	if !r.Chunked {
		return errBadTE
	}
	return nil
}

// finish applies the rules that need the whole head.
func (r *Request) finish() error {
	if r.teSeen {
		if r.ContentLength >= 0 {
			return errTEWithCL
		}
		if r.Minor == 0 {
			return errBadTE
		}
	}
	if r.Minor == 1 && !r.hostSeen {
		return errNoHost
	}
	if r.HasBody() && !r.Chunked && r.ContentLength < 0 {
		return errBadCL
	}
	return nil
}

func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isToken(b []byte) bool { return len(b) > 0 && allIn(b, &tchar) }

// validHost accepts the characters of a URI host and port (RFC 3986 §3.2.2).
func validHost(b []byte) bool { return allIn(b, &hostChar) }

func allIn(b []byte, set *[256]bool) bool {
	for _, c := range b {
		if !set[c] {
			return false
		}
	}
	return true
}

var (
	tchar    = alnumAnd("!#$%&'*+-.^_`|~")     // token characters, RFC 9110 §5.6.2
	hostChar = alnumAnd("-._~!$&'()*+,;=:[]%") // host and port characters
)

// alnumAnd returns the set of ASCII letters and digits and the bytes of extra.
func alnumAnd(extra string) (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range extra {
		t[c] = true
	}
	return t
}

// equalFold reports whether b equals the lower-case ASCII string s, ignoring case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

// EqualFold reports whether b equals the lower-case ASCII string s, ignoring case.
func EqualFold(b []byte, s string) bool { return equalFold(b, s) }

func hasPrefixFold(b []byte, s string) bool {
	return len(b) >= len(s) && equalFold(b[:len(s)], s)
}

// SetTarget starts r as a request that another protocol (HTTP/2, HTTP/3)
// delivered as fields rather than as a head: method is its :method, target
// its :path, major its version. AddField then adds its header fields.
// The slices are kept as views, as Parse keeps views of its buffer.
func (r *Request) SetTarget(method, target []byte, major int) error {
	r.Reset()
	if !isToken(method) {
		return errBadMethod
	}
	if len(target) == 0 {
		return errBadTarget
	}
	r.MethodName, r.Method = method, lookupMethod(method)
	r.Target, r.Major, r.Minor = target, major, 0
	r.KeepAlive, r.ContentLength = true, -1
	return r.splitTarget(target)
}

// SetHost sets the Host of a request started by SetTarget from what its
// protocol says (HTTP/2 and HTTP/3: :authority, else the host field),
// refusing what ParseHead refuses in a Host field. An absolute-form
// target's host, if any, is replaced.
func (r *Request) SetHost(host []byte) error {
	if !validHost(host) {
		return errBadHost
	}
	r.Host = host
	return nil
}

// AddField adds a header field of a request started by SetTarget and
// notes it as ParseHead notes a field, so that a request means the same to
// a handler over every protocol. Fields that frame an HTTP/1 message or
// its connection (Host, Content-Length, Transfer-Encoding, Connection) are
// the protocol's own business and are kept but not acted on; the caller
// sets Host and ContentLength from what its protocol says.
func (r *Request) AddField(name, value []byte) error {
	if !isToken(name) {
		return errBadField
	}
	// HTTP/2 and HTTP/3 forbid whitespace around a value, but Go's and
	// quic-go's servers pass it on: trimmed, as a head's field is.
	value = trimOWS(value)
	for _, c := range value {
		if (c < ' ' && c != '\t') || c == 0x7f {
			return errBadField
		}
	}
	r.Headers = append(r.Headers, Header{Name: name, Value: value})
	switch {
	case equalFold(name, "host"), equalFold(name, "content-length"),
		equalFold(name, "transfer-encoding"), equalFold(name, "connection"):
		return nil
	}
	return r.noteField(name, value)
}

// HasToken reports whether the comma-separated list v (a field value such
// as Connection's or Upgrade's) holds tok, compared case-insensitively.
func HasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		var opt []byte
		opt, v = nextListItem(v)
		if equalFold(opt, tok) {
			return true
		}
	}
	return false
}

// nextListItem splits the first item, without its whitespace, off the
// comma-separated list v.
func nextListItem(v []byte) (item, rest []byte) {
	if i := bytes.IndexByte(v, ','); i >= 0 {
		return trimOWS(v[:i]), v[i+1:]
	}
	return trimOWS(v), nil
}
