package h2_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/weft-server/weft/internal/h2"
)

// The attack tests run one attacker connection against a server (over
// TLS) while a well-behaved client fetches /1k
// on its own connection. Each wants the client served throughout, the
// attacker's connection ended with GOAWAY or closed, and the server's heap
// and goroutines bounded.

// Bounds: generous, far below what an unbounded attack reaches.
const (
	maxHeapGrowth  = 64 << 20
	maxGoroutines  = 2000
	attackDuration = 2 * time.Second
)

// attacker is a raw HTTP/2 client connection.
type attacker struct {
	t    *testing.T
	conn net.Conn
	bw   *bufio.Writer
	fr   *http2.Framer
	enc  *hpack.Encoder
	hbuf bytes.Buffer

	goaway atomic.Pointer[http2.GoAwayFrame]
	closed chan struct{} // closed when reading fails: the server hung up
	frames atomic.Int64  // frames read from the server
}

// dial connects, sends the preface and an empty SETTINGS. If read, frames
// from the server are read (and dropped) until the connection ends.
func dial(t *testing.T, s *server, read bool) *attacker {
	t.Helper()
	var c net.Conn
	var err error
	if s.tls != nil {
		c, err = tls.Dial("tcp", s.addr, s.tls)
	} else {
		c, err = net.Dial("tcp", s.addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	a := &attacker{t: t, conn: c, bw: bufio.NewWriterSize(c, 64<<10), closed: make(chan struct{})}
	a.fr = http2.NewFramer(a.bw, c)
	a.enc = hpack.NewEncoder(&a.hbuf)
	io.WriteString(a.bw, http2.ClientPreface)
	a.fr.WriteSettings()
	a.bw.Flush()
	if read {
		go a.readLoop()
	}
	return a
}

func (a *attacker) readLoop() {
	defer close(a.closed)
	rf := http2.NewFramer(io.Discard, a.conn)
	for {
		f, err := rf.ReadFrame()
		if err != nil {
			return
		}
		a.frames.Add(1)
		if g, ok := f.(*http2.GoAwayFrame); ok {
			g2 := *g
			a.goaway.Store(&g2)
		}
	}
}

// block encodes a request header block; extra fields follow the pseudo ones.
func (a *attacker) block(path string, extra ...hpack.HeaderField) []byte {
	a.hbuf.Reset()
	a.enc.WriteField(hpack.HeaderField{Name: ":method", Value: "GET"})
	a.enc.WriteField(hpack.HeaderField{Name: ":scheme", Value: "https"})
	a.enc.WriteField(hpack.HeaderField{Name: ":authority", Value: "127.0.0.1"})
	a.enc.WriteField(hpack.HeaderField{Name: ":path", Value: path})
	for _, f := range extra {
		a.enc.WriteField(f)
	}
	return bytes.Clone(a.hbuf.Bytes())
}

// ended reports whether the server ended the attacker's connection: it sent
// GOAWAY or closed it.
func (a *attacker) ended() string {
	select {
	case <-a.closed:
		if g := a.goaway.Load(); g != nil {
			return "GOAWAY " + g.ErrCode.String() + ", then closed"
		}
		return "closed"
	default:
		if g := a.goaway.Load(); g != nil {
			return "GOAWAY " + g.ErrCode.String()
		}
		return ""
	}
}

// watch runs a well-behaved client and samples the server's process while
// attack runs, then checks the bounds.
func watch(t *testing.T, s *server, attack func(stop <-chan struct{})) {
	t.Helper()
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	baseG := runtime.NumGoroutine()

	client := goodClient(s)
	defer client.CloseIdleConnections()
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { // the well-behaved client
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := fetch(client, s); err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
			} else {
				ok.Add(1)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	var peakHeap uint64
	var peakG int
	go func() { // samples
		defer wg.Done()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			peakHeap = max(peakHeap, m.HeapInuse)
			peakG = max(peakG, runtime.NumGoroutine())
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	go func() {
		defer wg.Done()
		attack(stop)
	}()
	time.Sleep(attackDuration)
	close(stop)
	wg.Wait()

	growth := int64(peakHeap) - int64(before.HeapInuse)
	t.Logf("client: %d ok, %d failed; heap in use +%d KiB at peak; goroutines %d at peak (%d before)",
		ok.Load(), failed.Load(), growth>>10, peakG, baseG)
	if failed.Load() > 0 || ok.Load() < 10 {
		t.Errorf("well-behaved client: %d ok, %d failed (%v)", ok.Load(), failed.Load(), firstErr.Load())
	}
	if growth > maxHeapGrowth {
		t.Errorf("heap in use grew by %d MiB", growth>>20)
	}
	if peakG > maxGoroutines {
		t.Errorf("%d goroutines", peakG)
	}
}

func goodClient(s *server) *http.Client {
	tr := &http.Transport{TLSClientConfig: s.tls, ForceAttemptHTTP2: true}
	if s.tls == nil {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		tr.Protocols = &p
	}
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

func fetch(c *http.Client, s *server) error {
	scheme := "https://"
	if s.tls == nil {
		scheme = "http://"
	}
	resp, err := c.Get(scheme + s.addr + "/1k")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.ProtoMajor != 2 || resp.StatusCode != 200 || string(b) != body1k {
		return &badResponse{resp.Proto, resp.StatusCode}
	}
	return nil
}

type badResponse struct {
	proto  string
	status int
}

func (e *badResponse) Error() string { return e.proto + " " + http.StatusText(e.status) }

// waitEnded waits a little for the server to end the attacker's connection.
func waitEnded(t *testing.T, a *attacker, what string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for a.ended() == "" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if e := a.ended(); e != "" {
		t.Logf("%s: attacker's connection: %s", what, e)
	} else {
		t.Errorf("%s: attacker's connection still open", what)
	}
}

// CVE-2023-44487: HEADERS then RST_STREAM, in a loop, never waiting. The
// requests go to a slow path (a handler goroutine each) so that resets
// pile up: the control-frame bucket ends the connection (GOAWAY
// ENHANCE_YOUR_CALM), and so does a pile of more than
// 2×MaxConcurrentStreams handlers still running for reset streams.
func TestRapidReset(t *testing.T) {
	s := startServer(t, true, h2.Limits{})
	a := dial(t, s, true)
	var sent int
	watch(t, s, func(stop <-chan struct{}) {
		blk := a.block("/slow")
		for id := uint32(1); ; id += 2 {
			select {
			case <-stop:
				return
			default:
			}
			a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: blk, EndStream: true, EndHeaders: true})
			a.fr.WriteRSTStream(id, http2.ErrCodeCancel)
			sent++
			if sent%64 == 0 {
				if a.bw.Flush() != nil {
					return
				}
			}
		}
	})
	t.Logf("%d streams opened and reset", sent)
	waitEnded(t, a, "rapid reset")
}

// CVE-2024-27316 class: a header block that never ends. Empty
// CONTINUATION frames cost nothing to buffer but would keep the reader
// busy forever; the server ends the connection after
// Limits.MaxContinuations.
func TestContinuationFlood(t *testing.T) {
	s := startServer(t, true, h2.Limits{})
	a := dial(t, s, true)
	var sent int
	watch(t, s, func(stop <-chan struct{}) {
		a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: a.block("/"), EndStream: true})
		for {
			select {
			case <-stop:
				return
			default:
			}
			a.fr.WriteContinuation(1, false, nil)
			sent++
			if sent%64 == 0 && a.bw.Flush() != nil {
				return
			}
		}
	})
	t.Logf("%d CONTINUATION frames sent", sent)
	waitEnded(t, a, "CONTINUATION flood")
}

// HPACK bomb: one 4000-byte field goes into the dynamic table, then each
// request refers to it thousands of times (one byte each), 16 000 × 4 KiB
// = 64 MB of headers from a 16 KiB frame. The header list limit refuses
// each such request (431, or GOAWAY); nothing of that size is built.
func TestHPACKBomb(t *testing.T) {
	s := startServer(t, true, h2.Limits{})
	a := dial(t, s, true)
	big := hpack.HeaderField{Name: "x-bomb", Value: strings.Repeat("b", 4000)}
	var sent int
	watch(t, s, func(stop <-chan struct{}) {
		// Stream 1 puts the field in the table (a request of 4 KiB).
		a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: a.block("/", big), EndStream: true, EndHeaders: true})
		a.bw.Flush()
		for id := uint32(3); ; id += 2 {
			select {
			case <-stop:
				return
			default:
			}
			// The encoder refers to the table entry: 1 byte per copy.
			blk := a.block("/")
			refs := bytes.Repeat([]byte{0x80 | 62}, 16000)
			a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: append(blk, refs...), EndStream: true, EndHeaders: true})
			sent++
			if a.bw.Flush() != nil {
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
	t.Logf("%d bombs sent (%d MB of headers each)", sent, 16000*4038/1000000)
	if a.ended() == "" {
		// Refused request by request (431) is a fine outcome too.
		t.Logf("HPACK bomb: connection kept, bombs refused one by one; frames read: %d", a.frames.Load())
	}
}

// PING flood from a client that does not read: the ACKs are written as
// the PINGs are read (nothing queues), so the client's own writes stall
// once the socket buffers are full; the control-frame bucket ends the
// connection first.
func TestPingFlood(t *testing.T) {
	s := startServer(t, true, h2.Limits{})
	a := dial(t, s, false)
	var sent int
	var werr error
	watch(t, s, func(stop <-chan struct{}) {
		a.conn.SetWriteDeadline(time.Now().Add(attackDuration))
		for {
			select {
			case <-stop:
				return
			default:
			}
			if werr = a.fr.WritePing(false, [8]byte{1}); werr != nil {
				return
			}
			sent++
		}
	})
	t.Logf("%d PINGs sent, write error: %v", sent, werr)
	go a.readLoop()
	waitEnded(t, a, "PING flood")
}

// SETTINGS flood from a client that does not read: each SETTINGS needs an
// ACK, written like PING ACKs, with the same bound.
func TestSettingsFlood(t *testing.T) {
	s := startServer(t, true, h2.Limits{})
	a := dial(t, s, false)
	var sent int
	var werr error
	watch(t, s, func(stop <-chan struct{}) {
		a.conn.SetWriteDeadline(time.Now().Add(attackDuration))
		for {
			select {
			case <-stop:
				return
			default:
			}
			if werr = a.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 65535}); werr != nil {
				return
			}
			sent++
		}
	})
	t.Logf("%d SETTINGS sent, write error: %v", sent, werr)
	go a.readLoop()
	waitEnded(t, a, "SETTINGS flood")
}

// TestMalformedStreamKeepsConnection: a request with a connection-specific
// field is reset with PROTOCOL_ERROR, and the connection stays usable: the
// next request, whose header block refers to table entries the refused one
// added (the encoder indexes "connection: keep-alive" and :authority), is
// answered, so the server decoded the refused block and its HPACK table
// is the client's.
func TestMalformedStreamKeepsConnection(t *testing.T) {
	for _, useTLS := range []bool{true, false} {
		s := startServer(t, useTLS, h2.Limits{})
		a := dial(t, s, false)
		conn := hpack.HeaderField{Name: "connection", Value: "keep-alive"}
		te := hpack.HeaderField{Name: "te", Value: "trailers"}
		a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: a.block("/", conn), EndStream: true, EndHeaders: true})
		a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 3, BlockFragment: a.block("/", te), EndStream: true, EndHeaders: true})
		a.bw.Flush()
		a.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		rf := http2.NewFramer(io.Discard, a.conn)
		rf.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
		var reset, answered bool
		for !(reset && answered) {
			f, err := rf.ReadFrame()
			if err != nil {
				t.Fatalf("tls=%v: reset %v, answered %v: %v", useTLS, reset, answered, err)
			}
			switch f := f.(type) {
			case *http2.RSTStreamFrame:
				if f.StreamID != 1 || f.ErrCode != http2.ErrCodeProtocol {
					t.Fatalf("tls=%v: RST_STREAM %d %v", useTLS, f.StreamID, f.ErrCode)
				}
				reset = true
			case *http2.MetaHeadersFrame:
				if f.StreamID != 3 || f.PseudoValue("status") != "200" {
					t.Fatalf("tls=%v: HEADERS on stream %d, status %s", useTLS, f.StreamID, f.PseudoValue("status"))
				}
				answered = true
			case *http2.GoAwayFrame:
				t.Fatalf("tls=%v: GOAWAY %v", useTLS, f.ErrCode)
			}
		}
	}
}

// TestControlFlagsCounted: RST_STREAM defines no flags and a receiver
// ignores unknown ones (RFC 9113 §4.1), so a RST_STREAM with a flag set
// is a RST_STREAM like any other: it takes a token from the control
// bucket too (a rapid reset must not escape the limit by setting a bit).
// A PING or SETTINGS with ACK takes none.
func TestControlFlagsCounted(t *testing.T) {
	for _, flags := range []http2.Flags{0, 0x1, 0xff} {
		s := startServer(t, true, h2.Limits{ControlRate: 1, ControlBurst: 20})
		a := dial(t, s, true)
		a.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: a.block("/"), EndStream: true, EndHeaders: true})
		a.bw.Flush()
		time.Sleep(100 * time.Millisecond) // answered and closed: resets of it are ignored
		for range 100 {
			a.fr.WriteRawFrame(http2.FrameRSTStream, flags, 1, []byte{0, 0, 0, byte(http2.ErrCodeCancel)})
		}
		a.bw.Flush()
		waitEnded(t, a, fmt.Sprintf("100 RST_STREAM with flags %#x (burst 20)", flags))
	}
}
