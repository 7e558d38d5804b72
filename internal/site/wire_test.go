package site_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/site"
)

// listen serves st on a loopback socket with a minimal HTTP/1.1 loop
// (parse, ServeFromMemory or ServeHTTP1, write), so that the site's tests
// can attack it over real sockets without depending on an engine.
func listen(t testing.TB, st *site.Site) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveConn(c, st)
		}
	}()
	return ln.Addr().String()
}

func serveConn(c net.Conn, h http1.MemoryHandler) {
	defer c.Close()
	lim := http1.Limits{}.WithDefaults()
	var (
		req   http1.Request
		resp  http1.Response
		clock http1.Clock
		buf   []byte
		out   []byte
	)
	tmp := make([]byte, 64<<10)
	bw := bufio.NewWriterSize(c, 64<<10)
	for {
		n, err := req.Parse(buf, lim)
		if err == http1.ErrIncomplete {
			bw.Flush()
			m, err := c.Read(tmp)
			if err != nil {
				return
			}
			buf = append(buf, tmp[:m]...)
			continue
		}
		if err != nil {
			resp.Reset()
			http1.ErrorPage(&resp, http1.StatusOf(err))
			out = http1.AppendHead(out[:0], &resp, 1, false, clock.Date(time.Now()))
			bw.Write(out)
			bw.Write(resp.Body)
			bw.Flush()
			return
		}
		resp.Reset()
		if !h.ServeFromMemory(&req, &resp) {
			h.ServeHTTP1(&req, &resp)
		}
		out = http1.AppendHead(out[:0], &resp, req.Minor, true, clock.Date(time.Now()))
		bw.Write(out)
		if req.Method != http1.MethodHead && http1.BodyAllowed(resp.Status) {
			writeBody(bw, &resp)
		}
		if resp.Closer != nil {
			resp.Closer.Close()
		}
		buf = append(buf[:0], buf[n:]...)
	}
}

func writeBody(w io.Writer, resp *http1.Response) {
	switch {
	case resp.File != nil:
		io.Copy(w, io.NewSectionReader(resp.File, resp.Off, resp.Len))
	case len(resp.Parts) > 0:
		for _, p := range resp.Parts {
			w.Write(p.Head)
			w.Write(p.Data)
			if p.File != nil {
				io.Copy(w, io.NewSectionReader(p.File, p.Off, p.Len))
			}
		}
	default:
		w.Write(resp.Body)
	}
}

// reply is one response read off the wire.
type reply struct {
	status int
	header map[string]string // lower-case names
	body   string
}

// readReply reads one response to a request of the given method.
func readReply(br *bufio.Reader, method string) (*reply, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	f := strings.Fields(line)
	if len(f) < 2 {
		return nil, fmt.Errorf("bad status line %q", line)
	}
	r := &reply{header: map[string]string{}}
	if r.status, err = strconv.Atoi(f[1]); err != nil {
		return nil, err
	}
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		l = strings.TrimRight(l, "\r\n")
		if l == "" {
			break
		}
		k, v, _ := strings.Cut(l, ":")
		r.header[strings.ToLower(k)] = strings.TrimSpace(v)
	}
	if method == "HEAD" || r.status == 304 {
		return r, nil
	}
	n, _ := strconv.Atoi(r.header["content-length"])
	b := make([]byte, n)
	if _, err := io.ReadFull(br, b); err != nil {
		return nil, err
	}
	r.body = string(b)
	return r, nil
}

// pipeline sends every request on one raw connection (from another
// goroutine, so that neither side's buffers can deadlock) and returns the
// replies, in order.
func pipeline(t testing.TB, addr, method string, paths []string, extra ...string) []*reply {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	go func() {
		bw := bufio.NewWriter(c)
		for _, p := range paths {
			fmt.Fprintf(bw, "%s %s HTTP/1.1\r\nHost: x\r\n%s\r\n", method, p, strings.Join(extra, ""))
		}
		bw.Flush()
	}()
	br := bufio.NewReader(c)
	replies := make([]*reply, 0, len(paths))
	for range paths {
		r, err := readReply(br, method)
		if err != nil {
			t.Fatalf("after %d replies: %v", len(replies), err)
		}
		replies = append(replies, r)
	}
	return replies
}

// get fetches one path on a new raw connection.
func get(t testing.TB, addr, path string, extra ...string) *reply {
	t.Helper()
	return pipeline(t, addr, "GET", []string{path}, extra...)[0]
}
