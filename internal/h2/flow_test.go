package h2_test

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/weft-server/weft/internal/h2"
)

// reader reads the server's frames on a raw connection.
type reader struct {
	t  *testing.T
	fr *http2.Framer
}

func newReader(t *testing.T, a *attacker) *reader {
	a.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	fr := http2.NewFramer(io.Discard, a.conn)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	return &reader{t: t, fr: fr}
}

// next returns the next frame that is not SETTINGS, WINDOW_UPDATE or PING.
func (r *reader) next() http2.Frame {
	r.t.Helper()
	for {
		f, err := r.fr.ReadFrame()
		if err != nil {
			r.t.Fatalf("reading frames: %v", err)
		}
		switch f.(type) {
		case *http2.SettingsFrame, *http2.WindowUpdateFrame, *http2.PingFrame:
			continue
		}
		return f
	}
}

// TestWindowOfOneByte: a client that grants a window of one byte gets the
// response's HEADERS and one byte of DATA, then the rest only as it grants
// more, in order, whole, with END_STREAM on the last frame. (The answer is
// from memory but does not fit the window: it goes to a stream goroutine
// that waits for window.)
func TestWindowOfOneByte(t *testing.T) {
	for _, useTLS := range []bool{true, false} {
		s := startServer(t, useTLS, h2.Limits{})
		a := dial(t, s, false)
		a.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1})
		a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: a.block("/1k"), EndStream: true, EndHeaders: true})
		a.bw.Flush()
		r := newReader(t, a)
		h, ok := r.next().(*http2.MetaHeadersFrame)
		if !ok || h.PseudoValue("status") != "200" || h.StreamEnded() {
			t.Fatalf("tls=%v: want HEADERS 200 without END_STREAM, got %v", useTLS, h)
		}
		d, ok := r.next().(*http2.DataFrame)
		if !ok || len(d.Data()) != 1 || d.StreamEnded() {
			t.Fatalf("tls=%v: want 1 byte of DATA, got %v", useTLS, d)
		}
		var body bytes.Buffer
		body.Write(d.Data())
		// The rest in steps of 100 bytes, each granted on the stream
		// (the connection's window is 65,535 already).
		for body.Len() < len(body1k) {
			a.fr.WriteWindowUpdate(1, 100)
			a.bw.Flush()
			want := min(100, len(body1k)-body.Len())
			for got := 0; got < want; {
				d, ok := r.next().(*http2.DataFrame)
				if !ok {
					t.Fatalf("tls=%v: want DATA after %d bytes", useTLS, body.Len())
				}
				got += len(d.Data())
				body.Write(d.Data())
				if got > want {
					t.Fatalf("tls=%v: %d bytes sent for a window of %d", useTLS, got, want)
				}
				if d.StreamEnded() != (body.Len() == len(body1k)) {
					t.Fatalf("tls=%v: END_STREAM %v after %d bytes", useTLS, d.StreamEnded(), body.Len())
				}
			}
		}
		if body.String() != body1k {
			t.Fatalf("tls=%v: body differs", useTLS)
		}
	}
}

// TestStreamBody: a Stream answer (length unknown, from ServeHTTP1 on a
// stream goroutine) larger than the client's initial windows arrives whole,
// without content-length.
func TestStreamBody(t *testing.T) {
	s := startServer(t, true, h2.Limits{})
	c := goodClient(s)
	defer c.CloseIdleConnections()
	resp, err := c.Get("https://" + s.addr + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 || string(b) != strings.Repeat(body1k, 64) || resp.ContentLength != -1 {
		t.Fatalf("%s %d, %d bytes, content-length %d", resp.Proto, resp.StatusCode, len(b), resp.ContentLength)
	}
}

// TestShutdownFinishesStreams: Shutdown sends GOAWAY (NO_ERROR, naming the
// last stream opened), answers the stream in flight, leaves a stream
// opened after the GOAWAY unanswered, then closes the connection.
func TestShutdownFinishesStreams(t *testing.T) {
	s := startServer(t, true, h2.Limits{})
	a := dial(t, s, false)
	a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: a.block("/slow"), EndStream: true, EndHeaders: true})
	a.bw.Flush()
	time.Sleep(10 * time.Millisecond) // stream 1 is open
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		stopped <- s.srv.Shutdown(ctx)
	}()
	r := newReader(t, a)
	g, ok := r.next().(*http2.GoAwayFrame)
	if !ok || g.ErrCode != http2.ErrCodeNo || g.LastStreamID != 1 {
		t.Fatalf("want GOAWAY NO_ERROR last stream 1, got %v", g)
	}
	a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: a.block("/1k"), EndStream: true, EndHeaders: true})
	a.bw.Flush()
	var ended bool
	for !ended {
		f, err := r.fr.ReadFrame()
		if err != nil {
			t.Fatalf("connection ended before stream 1's answer: %v", err)
		}
		if f.Header().StreamID == 3 {
			t.Fatalf("stream 3, opened after GOAWAY, answered: %v", f)
		}
		if f.Header().StreamID == 1 && f.Header().Flags.Has(http2.FlagDataEndStream) {
			ended = true
		}
	}
	if _, err := r.fr.ReadFrame(); err == nil {
		t.Fatal("a frame after the last stream's end; want the connection closed")
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// TestIdleTimeout: a connection without streams is closed after
// IdleTimeout with GOAWAY NO_ERROR; so is one whose streams all wait for
// the client (a request whose END_STREAM never comes), instead of being
// held open for as long as the client likes.
func TestIdleTimeout(t *testing.T) {
	for _, ended := range []bool{true, false} {
		s := startServer(t, true, h2.Limits{IdleTimeout: 200 * time.Millisecond})
		a := dial(t, s, false)
		a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: a.block("/1k"), EndStream: ended, EndHeaders: true})
		a.bw.Flush()
		r := newReader(t, a)
		var goaway *http2.GoAwayFrame
		var err error
		for err == nil {
			var f http2.Frame
			if f, err = r.fr.ReadFrame(); err == nil {
				if g, ok := f.(*http2.GoAwayFrame); ok {
					goaway = g
				}
			}
		}
		if goaway == nil || goaway.ErrCode != http2.ErrCodeNo || goaway.LastStreamID != 1 {
			t.Fatalf("request ended %v: want GOAWAY NO_ERROR (last stream 1) then the close; got %v (%v)", ended, goaway, err)
		}
	}
}

// TestUploadWindow: an upload larger than the stream window (256 KiB)
// gets through only if the server gives the window back as the handler
// reads; Expect: 100-continue is answered with a 100 before the handler's
// first read; the answer counts every byte.
func TestUploadWindow(t *testing.T) {
	s := startServer(t, false, h2.Limits{})
	a := dial(t, s, false)
	const size = 768 << 10 // three stream windows
	blk := a.block("/upload", hpack.HeaderField{Name: "expect", Value: "100-continue"},
		hpack.HeaderField{Name: "content-length", Value: strconv.Itoa(size)})
	a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk, EndHeaders: true})
	a.bw.Flush()
	// Frames are read on a goroutine of their own (the test writes DATA
	// meanwhile) and handed over as what the test needs of them.
	type frame struct {
		typ    http2.FrameType
		stream uint32
		n      uint32 // WINDOW_UPDATE's increment, SETTINGS' initial window (0: none)
		code   http2.ErrCode
		status string
		data   []byte
	}
	frames := make(chan frame, 1024)
	r := newReader(t, a)
	go func() {
		defer close(frames)
		for {
			f, err := r.fr.ReadFrame()
			if err != nil {
				return
			}
			fr := frame{typ: f.Header().Type, stream: f.Header().StreamID}
			switch f := f.(type) {
			case *http2.SettingsFrame:
				fr.n, _ = f.Value(http2.SettingInitialWindowSize)
			case *http2.WindowUpdateFrame:
				fr.n = f.Increment
			case *http2.MetaHeadersFrame:
				fr.status = f.PseudoValue("status")
			case *http2.DataFrame:
				fr.data = bytes.Clone(f.Data())
			case *http2.RSTStreamFrame:
				fr.code = f.ErrCode
			case *http2.GoAwayFrame:
				fr.code = f.ErrCode
			}
			frames <- fr
		}
	}()
	next := func() frame {
		select {
		case f, ok := <-frames:
			if !ok {
				t.Fatal("connection ended")
			}
			return f
		case <-time.After(10 * time.Second):
			t.Fatal("no frame for 10s")
		}
		return frame{}
	}
	var continued bool
	streamWin, connWin := 65535, 65535 // until the server's SETTINGS arrive
	sent := 0
	chunk := make([]byte, 16384)
	var body []byte
	var status string
	for !continued || status == "" || len(body) == 0 {
		for continued && sent < size && streamWin > 0 && connWin > 0 {
			k := min(len(chunk), size-sent, streamWin, connWin)
			a.fr.WriteData(1, sent+k == size, chunk[:k])
			sent += k
			streamWin -= k
			connWin -= k
		}
		a.bw.Flush()
		f := next()
		switch f.typ {
		case http2.FrameSettings:
			if f.n != 0 {
				streamWin += int(f.n) - 65535
			}
		case http2.FrameWindowUpdate:
			if f.stream == 0 {
				connWin += int(f.n)
			} else {
				streamWin += int(f.n)
			}
		case http2.FrameHeaders:
			switch {
			case !continued && f.status == "100":
				continued = true
			case continued:
				status = f.status
			default:
				t.Fatalf("want 100 Continue first, got %s", f.status)
			}
		case http2.FrameData:
			body = append(body, f.data...)
		case http2.FrameRSTStream, http2.FrameGoAway:
			t.Fatalf("%v %v after %d bytes sent", f.typ, f.code, sent)
		}
	}
	if status != "200" || string(body) != strconv.Itoa(size) || sent != size {
		t.Fatalf("status %s, body %q; want 200 and %d (sent %d)", status, body, size, sent)
	}
}

// TestCookiesJoined: cookie fields sent apart (as browsers do over HTTP/2,
// for HPACK) reach the site as one field, as over HTTP/1.1 (RFC 9113
// §8.2.3).
func TestCookiesJoined(t *testing.T) {
	s := startServer(t, true, h2.Limits{})
	a := dial(t, s, false)
	blk := a.block("/cookie", hpack.HeaderField{Name: "cookie", Value: "a=1"}, hpack.HeaderField{Name: "cookie", Value: "b=2"})
	a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: blk, EndStream: true, EndHeaders: true})
	a.bw.Flush()
	r := newReader(t, a)
	if h, ok := r.next().(*http2.MetaHeadersFrame); !ok || h.PseudoValue("status") != "200" {
		t.Fatalf("want HEADERS 200, got %v", h)
	}
	d, ok := r.next().(*http2.DataFrame)
	if !ok || string(d.Data()) != "a=1; b=2\n" {
		t.Fatalf("the site saw cookie fields %q, want one: \"a=1; b=2\"", d.Data())
	}
}
