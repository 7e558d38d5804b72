package h2_test

import (
	"bytes"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/weft-server/weft/internal/h2"
)

// untilPingAck reads the server's frames on stream id until the ack of a
// PING sent after the request (the server answers in order), and returns
// passes each to see (a frame is valid only until the next is read).
func untilPingAck(t *testing.T, a *attacker, id uint32, see func(http2.Frame)) {
	t.Helper()
	a.fr.WritePing(false, [8]byte{7})
	a.bw.Flush()
	r := newReader(t, a)
	for {
		f, err := r.fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading frames: %v", err)
		}
		switch f := f.(type) {
		case *http2.PingFrame:
			if f.IsAck() && f.Data == [8]byte{7} {
				return
			}
		case *http2.GoAwayFrame:
			t.Fatalf("GOAWAY %v", f.ErrCode)
		default:
			if f.Header().StreamID == id {
				see(f)
			}
		}
	}
}

// TestMultipartFromMemoryEndsOnce: a multipart answer from memory whose
// last part is a Head only (the closing boundary, as the site plans
// multipart/byteranges) ends its stream once: no frame follows the DATA
// with END_STREAM (RFC 9113 §5.1: the stream is closed).
func TestMultipartFromMemoryEndsOnce(t *testing.T) {
	s := startServer(t, false, h2.Limits{})
	a := dial(t, s, false)
	a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: a.block("/multi"), EndStream: true, EndHeaders: true})
	body, ended := "", false
	untilPingAck(t, a, 1, func(f http2.Frame) {
		if ended {
			t.Fatalf("%v after END_STREAM", f)
		}
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			ended = f.StreamEnded()
		case *http2.DataFrame:
			body += string(f.Data())
			ended = f.StreamEnded()
		}
	})
	if want := "--b\r\n\r\nhello\r\n--b--\r\n"; !ended || body != want {
		t.Fatalf("ended %v, body %q, want %q", ended, body, want)
	}
}

// TestStalledWindowResetsStream: a client that opens a stream with a
// window of 0 and never grants more does not hold the stream's goroutine
// (and the file it sends) forever: after WriteByteTimeout without window
// the stream is reset, and the connection, idle, can end.
func TestStalledWindowResetsStream(t *testing.T) {
	s := startServer(t, false, h2.Limits{WriteByteTimeout: 200 * time.Millisecond})
	a := dial(t, s, false)
	a.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 0})
	a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: a.block("/stream"), EndStream: true, EndHeaders: true})
	a.bw.Flush()
	r := newReader(t, a)
	for {
		f := r.next()
		if rst, ok := f.(*http2.RSTStreamFrame); ok && rst.StreamID == 1 {
			return
		}
		if g, ok := f.(*http2.GoAwayFrame); ok {
			t.Fatalf("GOAWAY %v: want the stream reset", g.ErrCode)
		}
	}
}

// TestBodyPastLimitAnsweredOnce: a request without content-length whose
// dropped body (no BodyLimit) grows past MaxBodyBytes is answered once,
// on a stream goroutine (/slow), however many DATA frames follow: one
// HEADERS for the stream, never two handlers on one stream. (A second
// handler would start with the first, before stream 1's answer arrives;
// stream 3 is sent only then and waits as long, so a second answer to
// stream 1 comes before stream 3's end. The race detector sees the two
// handlers share the stream too.)
func TestBodyPastLimitAnsweredOnce(t *testing.T) {
	s := startServer(t, false, h2.Limits{})
	a := dial(t, s, false)
	a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: a.block("/slow"), EndHeaders: true})
	chunk := make([]byte, 16384)
	for range 8 { // 128 KiB: past the test server's 64 KiB, within the 256 KiB window
		a.fr.WriteData(1, false, chunk)
	}
	a.bw.Flush()
	r := newReader(t, a)
	heads, sent3 := 0, false
	for {
		f, err := r.fr.ReadFrame()
		if err != nil {
			t.Fatalf("reading frames (stream 1 got %d HEADERS): %v", heads, err)
		}
		if g, ok := f.(*http2.GoAwayFrame); ok {
			t.Fatalf("GOAWAY %v", g.ErrCode)
		}
		id := f.Header().StreamID
		if _, ok := f.(*http2.MetaHeadersFrame); ok && id == 1 {
			heads++
		}
		end := f.Header().Flags.Has(http2.FlagDataEndStream) && (f.Header().Type == http2.FrameData || f.Header().Type == http2.FrameHeaders)
		switch {
		case end && id == 1 && !sent3:
			sent3 = true
			a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: a.block("/slow"), EndStream: true, EndHeaders: true})
			a.bw.Flush()
		case end && id == 3:
			if heads != 1 {
				t.Fatalf("stream 1 got %d HEADERS, want 1", heads)
			}
			return
		}
	}
}

// TestStalledUploadEnds: an upload whose client stops sending its body
// does not hold the handler for as long as the connection lives: as over
// HTTP/1.1, a body with no byte for the idle timeout fails the handler's
// read, and the stream is answered (400) and closed.
func TestStalledUploadEnds(t *testing.T) {
	s := startServer(t, false, h2.Limits{IdleTimeout: 200 * time.Millisecond})
	a := dial(t, s, false)
	a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: a.block("/upload"), EndHeaders: true})
	a.fr.WriteData(1, false, []byte("0123456789"))
	a.bw.Flush()
	r := newReader(t, a)
	for {
		switch f := r.next().(type) {
		case *http2.MetaHeadersFrame:
			if f.StreamID == 1 {
				if st := f.PseudoValue("status"); st != "400" {
					t.Fatalf("status %s, want 400", st)
				}
				return
			}
		case *http2.GoAwayFrame:
			t.Fatalf("GOAWAY %v", f.ErrCode)
		}
	}
}

// TestAnswerNotHeldByPartialFrame: answers are sent while the next frame
// is still arriving. A client whose next frame comes slowly (here the
// first 5 bytes of a PING, the rest never) still gets the answers to the
// requests before it: one from memory (/1k, stream 1) and one from a
// stream goroutine (/slow, stream 3).
func TestAnswerNotHeldByPartialFrame(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		s := startServer(t, useTLS, h2.Limits{})
		a := dial(t, s, false)
		a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: a.block("/1k"), EndStream: true, EndHeaders: true})
		a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: a.block("/slow"), EndStream: true, EndHeaders: true})
		a.bw.Write([]byte{0, 0, 8, byte(http2.FramePing), 0}) // a PING's header, cut
		a.bw.Flush()
		r := newReader(t, a)
		ended := map[uint32]bool{}
		for !ended[1] || !ended[3] {
			switch f := r.next().(type) {
			case *http2.DataFrame:
				if f.StreamEnded() {
					ended[f.StreamID] = true
				}
			case *http2.GoAwayFrame:
				t.Fatalf("tls=%v: GOAWAY %v", useTLS, f.ErrCode)
			}
		}
	}
}

// TestFramesAfterOurResetIgnored: frames the client sent on a stream
// before it saw the server's RST_STREAM are ignored (RFC 9113 §5.1,
// "closed"): here a request with a body past the limit is answered 413
// and reset (NO_ERROR), and the client's DATA and trailers already on
// their way neither end the connection nor draw more resets; the next
// request is answered.
func TestFramesAfterOurResetIgnored(t *testing.T) {
	s := startServer(t, false, h2.Limits{})
	a := dial(t, s, false)
	a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: a.block("/1k", hpack.HeaderField{Name: "content-length", Value: "100000"}), EndHeaders: true})
	a.fr.WriteData(1, false, make([]byte, 1000))
	a.hbuf.Reset()
	a.enc.WriteField(hpack.HeaderField{Name: "x-trailer", Value: "1"})
	a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: bytes.Clone(a.hbuf.Bytes()), EndStream: true, EndHeaders: true})
	a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: a.block("/1k"), EndStream: true, EndHeaders: true})
	a.bw.Flush()
	r := newReader(t, a)
	status, resets := "", 0
	for {
		switch f := r.next().(type) {
		case *http2.GoAwayFrame:
			t.Fatalf("GOAWAY %v", f.ErrCode)
		case *http2.MetaHeadersFrame:
			if f.StreamID == 1 {
				status = f.PseudoValue("status")
			}
		case *http2.RSTStreamFrame:
			if f.StreamID == 1 {
				resets++
			}
		case *http2.DataFrame:
			if f.StreamID == 3 && f.StreamEnded() {
				if status != "413" || resets != 1 {
					t.Fatalf("stream 1: status %q, %d RST_STREAM; want 413 and 1", status, resets)
				}
				return
			}
		}
	}
}
