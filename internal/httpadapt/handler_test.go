package httpadapt_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/httpadapt"
)

// failingFile fails every read past half of its length, as a file cut
// short under a response would.
type failingFile struct{ size int64 }

func (f failingFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= f.size/2 {
		return 0, errors.New("disk gone")
	}
	n := min(int64(len(p)), f.size/2-off)
	clear(p[:n])
	return int(n), nil
}

type closer struct{ closed *atomic.Int32 }

func (c closer) Close() error { c.closed.Add(1); return nil }

// fileHandler plans a 1 MiB file body, or panics after planning it.
type fileHandler struct {
	closed *atomic.Int32
	panics bool
}

func (h fileHandler) ServeHTTP1(req *http1.Request, resp *http1.Response) {
	resp.Status = 200
	resp.AddHeader("Content-Type", "application/octet-stream")
	resp.File, resp.Off, resp.Len = failingFile{1 << 20}, 0, 1<<20
	resp.Closer = closer{h.closed}
	if h.panics {
		panic("handler bug")
	}
}

type logSink struct {
	mu   sync.Mutex
	recs []http1.Record
}

func (l *logSink) Log(r *http1.Record) {
	l.mu.Lock()
	l.recs = append(l.recs, http1.Record{Status: r.Status, Bytes: r.Bytes})
	l.mu.Unlock()
}

// TestCutResponseReleasedAndLogged: a body whose file fails half-way is
// cut (the client sees a short, failed body, never one padded to its
// Content-Length), and the file is released and the request logged all
// the same, with the bytes written; a handler that panics after opening
// its file releases it too.
func TestCutResponseReleasedAndLogged(t *testing.T) {
	for _, panics := range []bool{false, true} {
		var closed atomic.Int32
		log := &logSink{}
		srv := httptest.NewServer(httpadapt.New(fileHandler{&closed, panics}, httpadapt.Options{Log: log, MaxBodyBytes: 1 << 10}))
		srv.Config.ErrorLog = nil
		resp, err := http.Get(srv.URL + "/f")
		if err == nil {
			n, rerr := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if rerr == nil || n == 1<<20 {
				t.Errorf("panics=%v: body read %d bytes, err %v; want a cut body", panics, n, rerr)
			}
		}
		srv.Close()
		if closed.Load() != 1 {
			t.Errorf("panics=%v: Closer called %d times, want 1", panics, closed.Load())
		}
		// Logged with the bytes written: the half the file gave, or
		// none when the handler panicked before any.
		want := int64(1 << 19)
		if panics {
			want = 0
		}
		log.mu.Lock()
		if len(log.recs) != 1 || log.recs[0].Status != 200 || log.recs[0].Bytes != want {
			t.Errorf("panics=%v: logged %+v, want one 200 record of %d bytes", panics, log.recs, want)
		}
		log.mu.Unlock()
	}
}

// stream writes n bytes of 'x' in writes of 1000, then fails if fail.
type stream struct {
	n    int
	fail bool
}

func (s stream) WriteTo(w io.Writer) (int64, error) {
	var sent int64
	chunk := bytes.Repeat([]byte("x"), 1000)
	for left := s.n; left > 0; left -= len(chunk) {
		m, err := w.Write(chunk[:min(left, len(chunk))])
		sent += int64(m)
		if err != nil {
			return sent, err
		}
	}
	if s.fail {
		return sent, errors.New("disk gone")
	}
	return sent, nil
}

type streamHandler struct {
	s      stream
	closed *atomic.Int32
}

func (h streamHandler) ServeHTTP1(req *http1.Request, resp *http1.Response) {
	resp.Status = 200
	resp.AddHeader("Content-Type", "application/zip")
	resp.Stream = h.s
	resp.Closer = closer{h.closed}
}

// TestStream: a streamed body goes out whole without a Content-Length,
// framed by the protocol (here HTTP/1.1 chunks and HTTP/2 frames); one
// whose producer fails is cut, never ended as if whole; HEAD sends none.
// The Closer is released once, either way.
func TestStream(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		for _, fail := range []bool{false, true} {
			var closed atomic.Int32
			srv := httptest.NewUnstartedServer(httpadapt.New(streamHandler{stream{100_000, fail}, &closed}, httpadapt.Options{}))
			srv.EnableHTTP2 = h2
			srv.Config.ErrorLog = nil
			srv.StartTLS()
			c := srv.Client()
			resp, err := c.Get(srv.URL + "/a.zip")
			if err != nil {
				t.Fatal(err)
			}
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.ProtoMajor != map[bool]int{false: 1, true: 2}[h2] {
				t.Errorf("h2=%v: served over %s", h2, resp.Proto)
			}
			if resp.ContentLength != -1 || resp.Header.Get("Content-Length") != "" {
				t.Errorf("h2=%v: Content-Length %d", h2, resp.ContentLength)
			}
			switch {
			case fail && rerr == nil:
				t.Errorf("h2=%v: a failed stream read whole (%d bytes)", h2, len(body))
			case !fail && (rerr != nil || len(body) != 100_000):
				t.Errorf("h2=%v: body of %d bytes, err %v; want 100000", h2, len(body), rerr)
			}
			head, err := c.Head(srv.URL + "/a.zip")
			if err != nil {
				t.Fatal(err)
			}
			head.Body.Close()
			srv.Close()
			if closed.Load() != 2 {
				t.Errorf("h2=%v fail=%v: Closer called %d times for two requests, want 2", h2, fail, closed.Load())
			}
		}
	}
}
