package accesslog

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/weft-server/weft/internal/http1"
)

// A template is text with nginx-like variables, $name or ${name}, e.g.
//
//	$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent $request_time "$http_x_request_id"
//
// It is compiled once (ParseFormat) into literal text and variables, and
// a line is then written by appending each in turn, with no allocation.
// Values that come from the client (the request, its fields, the user)
// are escaped as nginx escapes them: quotes, backslashes, control and
// non-ASCII bytes become \xHH, so a hostile field cannot forge a line or a
// column. An empty value is written "-". Variables lists the names; the
// README says what each writes.

// variable is what a template's segment writes.
type variable uint8

const (
	varLiteral variable = iota
	varRemoteAddr
	varRemotePort
	varRemoteUser
	varTimeLocal
	varTimeISO8601
	varMsec
	varRequest
	varRequestMethod
	varRequestURI
	varServerProtocol
	varStatus
	varBodyBytesSent
	varBytesSent
	varRequestTime
	varHost
	varReferer
	varUserAgent
	varHeader // $http_<name>
)

// Variables are the names of the template variables, as the README's
// table lists them (http_NAME standing for any request field, dashes
// written as underscores).
var Variables = []string{
	"remote_addr", "remote_port", "remote_user", "time_local", "time_iso8601", "msec",
	"request", "request_method", "request_uri", "server_protocol", "status",
	"body_bytes_sent", "bytes_sent", "request_time", "host", "http_NAME",
}

var varsByName = map[string]variable{
	"remote_addr": varRemoteAddr, "remote_port": varRemotePort, "remote_user": varRemoteUser,
	"time_local": varTimeLocal, "time_iso8601": varTimeISO8601, "msec": varMsec,
	"request": varRequest, "request_method": varRequestMethod, "request_uri": varRequestURI,
	"server_protocol": varServerProtocol, "status": varStatus,
	"body_bytes_sent": varBodyBytesSent, "bytes_sent": varBytesSent, "request_time": varRequestTime,
	"host": varHost, "http_referer": varReferer, "http_user_agent": varUserAgent,
}

// segment is literal text or a variable.
type segment struct {
	v     variable
	text  string // varLiteral's
	field string // varHeader's field name, in lower case with dashes
}

// parseTemplate compiles a template, refusing unknown variables.
func parseTemplate(s string) (Format, error) {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		return Format{}, fmt.Errorf("weft: log format: a template is one line; a line break at byte %d", i)
	}
	l := &layout{kind: kindTemplate}
	lit := 0
	for i := 0; i < len(s); {
		if s[i] != '$' {
			i++
			continue
		}
		if lit < i {
			l.segs = append(l.segs, segment{text: s[lit:i]})
		}
		name, n := varName(s[i+1:])
		if name == "" {
			return Format{}, fmt.Errorf("weft: log format: \"$\" at byte %d names no variable (write $name or ${name})", i)
		}
		seg, ok := lookupVar(name)
		if !ok {
			return Format{}, fmt.Errorf("weft: log format: unknown variable $%s", name)
		}
		if seg.v == varHeader || seg.v == varRemoteUser {
			l.headers = true
		}
		l.segs = append(l.segs, seg)
		i += 1 + n
		lit = i
	}
	if lit < len(s) {
		l.segs = append(l.segs, segment{text: s[lit:]})
	}
	return Format{l: l}, nil
}

// varName reads the variable name at the start of s ("name" or
// "{name}") and how many bytes it took; "" when there is none.
func varName(s string) (string, int) {
	if strings.HasPrefix(s, "{") {
		end := strings.IndexByte(s, '}')
		if end < 0 || !isName(s[1:end]) {
			return "", 0
		}
		return s[1:end], end + 1
	}
	n := 0
	for n < len(s) && isNameByte(s[n]) {
		n++
	}
	return s[:n], n
}

func isName(s string) bool {
	for i := range len(s) {
		if !isNameByte(s[i]) {
			return false
		}
	}
	return s != ""
}

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

func lookupVar(name string) (segment, bool) {
	name = strings.ToLower(name) // as nginx: names are not case-sensitive
	if v, ok := varsByName[name]; ok {
		return segment{v: v}, true
	}
	if f, ok := strings.CutPrefix(name, "http_"); ok && f != "" {
		return segment{v: varHeader, field: strings.ReplaceAll(f, "_", "-")}, true
	}
	return segment{}, false
}

// appendTemplate appends r as one line of template l, times in t's zone.
func (l *layout) appendTemplate(b []byte, r *http1.Record, t time.Time) []byte {
	for i := range l.segs {
		sg := &l.segs[i]
		switch sg.v {
		case varLiteral:
			b = append(b, sg.text...)
		case varRemoteAddr:
			b = appendRemote(b, r)
		case varRemotePort:
			b = strconv.AppendUint(b, uint64(r.Remote.Port()), 10)
		case varRemoteUser:
			b = appendValue(b, basicUser(field(r, "authorization"), make([]byte, 0, 64)))
		case varTimeLocal:
			b = t.AppendFormat(b, timeLocal)
		case varTimeISO8601:
			b = t.AppendFormat(b, "2006-01-02T15:04:05-07:00")
		case varMsec:
			ms := t.UnixMilli()
			b = strconv.AppendInt(b, ms/1000, 10)
			b = append(b, '.')
			b = appendPadded(b, ms%1000, 3)
		case varRequest:
			b = appendRequest(b, r)
		case varRequestMethod:
			b = appendValue(b, r.Method)
		case varRequestURI:
			b = appendValue(b, r.Target)
		case varServerProtocol:
			if r.Major == 0 {
				b = append(b, '-')
			} else {
				b = appendProto(b, r)
			}
		case varStatus:
			b = strconv.AppendInt(b, int64(r.Status), 10)
		case varBodyBytesSent:
			b = strconv.AppendInt(b, r.Bytes, 10)
		case varBytesSent:
			b = strconv.AppendInt(b, r.Sent, 10)
		case varRequestTime:
			b = appendSeconds(b, r.Duration, 3)
		case varHost:
			b = appendValue(b, r.Host)
		case varReferer:
			b = appendValue(b, r.Referer)
		case varUserAgent:
			b = appendValue(b, r.UserAgent)
		case varHeader:
			b = appendValue(b, field(r, sg.field))
		}
	}
	return append(b, '\n')
}

// appendValue appends a value from the client, escaped, or "-" for none.
func appendValue(b, v []byte) []byte { return appendEscaped(b, orDash(v)) }

// field is the value of r's first field named name (in lower case), or
// nil.
func field(r *http1.Record, name string) []byte {
	for i := range r.Headers {
		if http1.EqualFold(r.Headers[i].Name, name) {
			return r.Headers[i].Value
		}
	}
	return nil
}

// basicUser is the user name of Basic credentials auth ("Basic
// base64(user:password)"), decoded into buf, or nil.
func basicUser(auth, buf []byte) []byte {
	const prefix = "basic "
	if len(auth) < len(prefix) || !http1.EqualFold(auth[:len(prefix)], prefix) {
		return nil
	}
	enc := auth[len(prefix):]
	// The user comes first: decoding a bounded prefix finds it.
	enc = enc[:min(len(enc), cap(buf)/3*4)]
	buf = buf[:base64.StdEncoding.DecodedLen(len(enc))]
	n, err := base64.StdEncoding.Decode(buf, enc)
	if err != nil {
		return nil
	}
	user := buf[:n]
	for i, c := range user {
		if c == ':' {
			return user[:i]
		}
	}
	if len(enc) < len(auth)-len(prefix) {
		return user // a long name, cut short
	}
	return nil // no colon: not credentials
}

// appendSeconds appends d in seconds with prec decimals (3 or 6).
func appendSeconds(b []byte, d time.Duration, prec int) []byte {
	unit := int64(time.Millisecond)
	if prec == 6 {
		unit = int64(time.Microsecond)
	}
	n := max(int64(d), 0) / unit
	scale := int64(1000)
	if prec == 6 {
		scale = 1000000
	}
	b = strconv.AppendInt(b, n/scale, 10)
	b = append(b, '.')
	return appendPadded(b, n%scale, prec)
}

// appendPadded appends n with leading zeros to width digits.
func appendPadded(b []byte, n int64, width int) []byte {
	var d [20]byte
	s := strconv.AppendInt(d[:0], n, 10)
	for range width - len(s) {
		b = append(b, '0')
	}
	return append(b, s...)
}
