package site

// Helpers for the review of issue 8 (representations): requests are
// served in-process, the way an engine does (ServeFromMemory, then
// ServeHTTP1), and a response plan can be held unsent, to model a slow
// client, before its body is read and its Closer released.

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/codec"
	"github.com/weft-server/weft/internal/http1"
)

// plan is one response plan, not yet sent.
type plan struct {
	req  *http1.Request
	resp *http1.Response
	buf  []byte // the request bytes the Request views
}

// serveRaw plans the response to one request: method, path and header
// lines ("Name: value").
func serveRaw(t testing.TB, st *Site, method, path string, hdr ...string) *plan {
	t.Helper()
	raw := method + " " + path + " HTTP/1.1\r\nHost: x\r\n"
	for _, h := range hdr {
		raw += h + "\r\n"
	}
	raw += "\r\n"
	p := &plan{req: new(http1.Request), resp: new(http1.Response), buf: []byte(raw)}
	if _, err := p.req.Parse(p.buf, http1.Limits{}.WithDefaults()); err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	if !st.ServeFromMemory(p.req, p.resp) {
		st.ServeHTTP1(p.req, p.resp)
	}
	return p
}

// wire is a response as a client sees it.
type wire struct {
	status int
	head   string // the header section, as sent
	hdr    map[string]string
	body   []byte
	err    error // reading the body failed (a closed descriptor)
}

// send reads the body the way an engine sends it and releases the plan.
func (p *plan) send() *wire {
	resp := p.resp
	head := string(http1.AppendHead(nil, resp, 1, true, []byte("x")))
	w := &wire{status: resp.Status, head: head, hdr: map[string]string{}}
	for _, l := range strings.Split(head, "\r\n")[1:] {
		if k, v, ok := strings.Cut(l, ":"); ok {
			k = strings.ToLower(k)
			if old, dup := w.hdr[k]; dup {
				v = old + "," + v
			}
			w.hdr[k] = strings.TrimSpace(v)
		}
	}
	if p.req.Method != http1.MethodHead && http1.BodyAllowed(resp.Status) {
		var b bytes.Buffer
		switch {
		case resp.File != nil:
			_, w.err = io.Copy(&b, io.NewSectionReader(resp.File, resp.Off, resp.Len))
		case len(resp.Parts) > 0:
			for _, part := range resp.Parts {
				b.Write(part.Head)
				b.Write(part.Data)
				if part.File != nil {
					if _, err := io.Copy(&b, io.NewSectionReader(part.File, part.Off, part.Len)); err != nil {
						w.err = err
					}
				}
			}
		default:
			b.Write(resp.Body)
		}
		w.body = b.Bytes()
	}
	if resp.Closer != nil {
		resp.Closer.Close()
	}
	return w
}

// decode returns w's body decoded per its Content-Encoding.
func (w *wire) decode() ([]byte, codec.Coding, error) {
	ce := w.hdr["content-encoding"]
	c, ok := map[string]codec.Coding{"": codec.Identity, "br": codec.Brotli, "zstd": codec.Zstd, "gzip": codec.Gzip}[ce]
	if !ok {
		return nil, 0, fmt.Errorf("unknown Content-Encoding %q", ce)
	}
	if c == codec.Identity {
		return w.body, c, nil
	}
	out, err := codec.Decompress(c, w.body)
	return out, c, err
}

// openFDs counts this process's open descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents) - 1 // the one ReadDir held
}

// fdsTo lists the descriptors of this process open on files beneath dir
// (not dir itself: the Site holds the root open).
func fdsTo(dir string) []string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var out []string
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(l, dir+"/") {
			out = append(out, e.Name()+"->"+l)
		}
	}
	return out
}

// waitFor polls cond for up to d.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// tagCoding is the coding an entity-tag names by its suffix.
func tagCoding(tag string) codec.Coding {
	for _, c := range codec.Encoded {
		if strings.HasSuffix(tag, "-"+c.Token()+`"`) {
			return c
		}
	}
	return codec.Identity
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

// waitIdle waits until no build is under way: it takes every slot, then
// gives them back.
func (r *reps) waitIdle() {
	for range cap(r.slots) {
		r.slots <- struct{}{}
	}
	for range cap(r.slots) {
		<-r.slots
	}
}
