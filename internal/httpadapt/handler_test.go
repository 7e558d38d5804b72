package httpadapt_test

import (
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
// the same; a handler that panics after opening its file releases it too.
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
		log.mu.Lock()
		if len(log.recs) != 1 || log.recs[0].Status != 200 || log.recs[0].Bytes != 1<<20 {
			t.Errorf("panics=%v: logged %+v, want one 200 record of %d bytes", panics, log.recs, 1<<20)
		}
		log.mu.Unlock()
	}
}
