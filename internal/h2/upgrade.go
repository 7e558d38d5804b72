package h2

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net"
	"time"

	"golang.org/x/net/http2"

	"github.com/weft-server/weft/internal/http1"
)

// The answer that switches a cleartext connection to HTTP/2 (RFC 7540
// §3.2).
const switching = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"

// errBadSettings refuses an HTTP2-Settings value.
var errBadSettings = errors.New("weft: malformed HTTP2-Settings")

// DecodeSettings decodes an HTTP2-Settings field value (RFC 7540
// §3.2.1): the payload of a SETTINGS frame in base64url, its padding
// optional, each setting within its bounds (§6.5.2).
func DecodeSettings(v []byte) ([]http2.Setting, error) {
	b, err := base64.RawURLEncoding.DecodeString(string(bytes.TrimRight(v, "=")))
	if err != nil || len(b)%6 != 0 {
		return nil, errBadSettings
	}
	set := make([]http2.Setting, 0, len(b)/6)
	for ; len(b) > 0; b = b[6:] {
		s := http2.Setting{
			ID:  http2.SettingID(uint16(b[0])<<8 | uint16(b[1])),
			Val: uint32(b[2])<<24 | uint32(b[3])<<16 | uint32(b[4])<<8 | uint32(b[5]),
		}
		if s.Valid() != nil {
			return nil, errBadSettings
		}
		set = append(set, s)
	}
	return set, nil
}

// Upgrade takes a cleartext connection whose first request asked to
// switch to HTTP/2 (RFC 7540 §3.2): head is that request's whole head,
// which the caller read and found to carry "Upgrade: h2c", one
// HTTP2-Settings field (settings, its value), "Connection: Upgrade,
// HTTP2-Settings" and no body; nc reads on from the byte after the head.
// When settings is malformed Upgrade reports false, having written
// nothing, and the request is the caller's to serve over HTTP/1.1.
// Upgrade keeps head: the caller must not reuse it.
// Otherwise it serves the connection on a goroutine of its own: the 101,
// the server's SETTINGS, the answer to head on stream 1 (half-closed
// remote), then the client's preface and HTTP/2 from there.
func (s *Server) Upgrade(nc net.Conn, head, settings []byte) bool {
	set, err := DecodeSettings(settings)
	if err != nil {
		return false
	}
	go s.track(nc, func(c *conn) { c.serveUpgraded(head, set) })
	return true
}

// serveUpgraded runs a connection switched from HTTP/1.1 (see Upgrade).
func (c *conn) serveUpgraded(head []byte, set []http2.Setting) {
	defer c.close()
	c.mu.Lock()
	// The preface's deadline, set under mu: stream 1's goroutine may move
	// it (to the idle timeout) once the stream is done.
	now := time.Now()
	c.nc.SetReadDeadline(now.Add(c.s.PrefaceTimeout))
	c.deadlineSet, c.deadlineAt = true, now
	c.inBatch = true
	c.bw.WriteString(switching)
	c.writeSettingsLocked()
	for _, s := range set {
		c.applySetting(s) // checked by DecodeSettings
	}
	c.maxID = 1
	st := newStream(c, 1)
	st.start = time.Now()
	if err := st.req.ParseHead(head, c.s.head); err != nil {
		st.status = http1.StatusOf(err)
	}
	// Answered over HTTP/2: the request is one, as SetTarget makes them.
	st.req.Major, st.req.Minor, st.req.KeepAlive = 2, 0, true
	st.req.Remote, st.req.TLS = c.remote, false
	st.req.ContentLength = 0
	st.state = stateHalfClosedRemote
	c.answer(st)
	c.inBatch = false
	c.flushLocked()
	c.mu.Unlock()
	if !c.prefaceCame() {
		return
	}
	c.loop()
}
