package conformance

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/site"
)

// uploadMax is the upload limit of the uploads group's servers.
const uploadMax = 1 << 20

// uploadTree is a root for uploads inside a folder of its own (parent), so
// a case can check that nothing was written beside the root: the root
// holds a file, a folder, and a link out to parent/outside.
func uploadTree(t *testing.T) (parent, root string) {
	t.Helper()
	parent = t.TempDir()
	root = filepath.Join(parent, "root")
	must(t, os.MkdirAll(filepath.Join(root, "sub"), 0o755))
	must(t, os.MkdirAll(filepath.Join(root, "inbox"), 0o755))
	must(t, os.MkdirAll(filepath.Join(parent, "outside"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "old.txt"), []byte("old\n"), 0o644))
	if runtime.GOOS != "windows" {
		must(t, os.Symlink(filepath.Join(parent, "outside"), filepath.Join(root, "out")))
	}
	return parent, root
}

// snapshot maps every path beneath dir (symbolic links not followed) to
// its content ("<dir>" for a folder, "-> target" for a link). A file
// removed while it walks (a server removing a cut upload's temporary
// file) is left out; sameTree looks again until the tree settles.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed as the walk went: a server cleaning up
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			m[rel] = "-> " + target
		case d.IsDir():
			m[rel] = "<dir>"
		default:
			b, err := os.ReadFile(p)
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed since it was listed
			}
			if err != nil {
				return err
			}
			m[rel] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// sameTree fails unless dir's snapshot is want, waiting a little for a
// server that is still cleaning up after a cut connection.
func sameTree(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	var got map[string]string
	for deadline := time.Now().Add(5 * time.Second); ; {
		got = snapshot(t, dir)
		if equalMaps(got, want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for k, v := range got {
		if w, ok := want[k]; !ok {
			t.Errorf("%s: %s appeared (%d bytes)", dir, k, len(v))
		} else if w != v {
			t.Errorf("%s: %s changed", dir, k)
		}
	}
	for k := range want {
		if _, ok := got[k]; !ok {
			t.Errorf("%s: %s disappeared", dir, k)
		}
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// uploadBody is n bytes that no two offsets of a short window repeat.
func uploadBody(n int) string {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return string(b)
}

func put(path, body string, headers ...string) string {
	return req("PUT", path, append(headers, fmt.Sprintf("Content-Length: %d", len(body)))...) + body
}

// chunk frames body as chunks of at most size bytes.
func chunk(body string, size int) string {
	var b strings.Builder
	for len(body) > 0 {
		n := min(size, len(body))
		fmt.Fprintf(&b, "%x\r\n%s\r\n", n, body[:n])
		body = body[n:]
	}
	b.WriteString("0\r\n\r\n")
	return b.String()
}

// uploads checks PUT and form uploads (site.UploadConfig) over real
// sockets: a body lands whole or not at all, never outside the upload
// folder, and every refusal has its status.
func (s *suite) uploads(t *testing.T) {
	parent, root := uploadTree(t)
	srv := s.start(t, Options{Site: site.Config{Root: root, Listing: true,
		Upload: site.UploadConfig{On: true, MaxBytes: uploadMax}}})
	addr := srv.Addr
	file := func(name string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return string(b)
	}

	t.Run("Complete", func(t *testing.T) {
		body := uploadBody(300 << 10)
		r := one(t, addr, put("/sub/complete.bin", body))
		wantStatus(t, r, 201)
		wantHeader(t, r, "Location", "/sub/complete.bin")
		if file("sub/complete.bin") != body {
			t.Fatal("the file on disk differs from the body sent")
		}
		wantStatus(t, one(t, addr, get("/sub/complete.bin")), 200)
	})

	t.Run("Empty", func(t *testing.T) {
		wantStatus(t, one(t, addr, put("/sub/empty.txt", "")), 201)
		if file("sub/empty.txt") != "" {
			t.Fatal("the empty upload is not empty")
		}
	})

	t.Run("KeepAlive", func(t *testing.T) {
		// The connection serves the next request after a whole upload.
		resps, _ := exchange(t, addr, put("/sub/ka.txt", "keep\n")+get("/sub/ka.txt", "Connection: close"))
		if len(resps) != 2 || resps[0].Status != 201 || resps[1].Status != 200 || resps[1].Body != "keep\n" {
			t.Fatalf("got %d responses: %v", len(resps), statuses(resps))
		}
	})

	t.Run("PipelinedAfterLargeBody", func(t *testing.T) {
		// A large body and the next request in one write: the engine
		// may have received the next request before the handler read
		// the body; it is served all the same.
		body := uploadBody(300<<10 + 3)
		resps, _ := exchange(t, addr, put("/sub/pipelined.bin", body)+get("/sub/ka.txt", "Connection: close"))
		if len(resps) != 2 || resps[0].Status != 201 || resps[1].Status != 200 || resps[1].Body != "keep\n" {
			t.Fatalf("got %d responses: %v", len(resps), statuses(resps))
		}
		if file("sub/pipelined.bin") != body {
			t.Fatal("the file on disk differs from the body sent")
		}
	})

	t.Run("Chunked", func(t *testing.T) {
		body := uploadBody(200<<10 + 7)
		r := one(t, addr, req("PUT", "/sub/chunked.bin", "Transfer-Encoding: chunked")+chunk(body, 10000))
		wantStatus(t, r, 201)
		if file("sub/chunked.bin") != body {
			t.Fatal("the file on disk differs from the body sent")
		}
	})

	t.Run("ExpectContinue", func(t *testing.T) {
		// Alone, and behind a pipelined GET: the GET's answer comes
		// first, then the interim answer (a 100 ahead of it would read
		// as the GET's), then the upload's.
		for _, behind := range []bool{false, true} {
			c := dial(t, addr)
			defer c.Close()
			body, name, before := "continued\n", "sub/continue.txt", ""
			if behind {
				body, name, before = "after a get\n", "sub/pipelined-continue.txt", get("/old.txt")
			}
			io.WriteString(c, before+req("PUT", "/"+name, "Expect: 100-continue", fmt.Sprintf("Content-Length: %d", len(body))))
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			br := bufio.NewReader(c)
			if behind {
				if r, err := readResp(br, "GET"); err != nil || r.Status != 200 || r.Body != "old\n" {
					t.Fatalf("first answer %v, %v; want the GET's 200", r, err)
				}
			}
			interim := make([]byte, len("HTTP/1.1 100 Continue\r\n\r\n"))
			if _, err := io.ReadFull(br, interim); err != nil || string(interim) != "HTTP/1.1 100 Continue\r\n\r\n" {
				t.Fatalf("behind a GET %v, before the body: %q, %v; want 100 Continue", behind, interim, err)
			}
			io.WriteString(c, body)
			if r, err := readResp(br, ""); err != nil || r.Status != 201 {
				t.Fatalf("behind a GET %v, after the body: %v %v", behind, r, err)
			}
			if file(name) != body {
				t.Fatal("the file on disk differs from the body sent")
			}
		}
	})

	t.Run("PipelinedUploads", func(t *testing.T) {
		// Two uploads and a GET in one write: the second upload's head
		// and body, and the GET, were buffered behind the first body.
		a, b := uploadBody(90<<10), uploadBody(5000)
		resps, _ := exchange(t, addr, put("/sub/pipe-a.bin", a)+put("/sub/pipe-b.bin", b)+get("/sub/pipe-b.bin", "Connection: close"))
		if len(resps) != 3 || resps[0].Status != 201 || resps[1].Status != 201 || resps[2].Status != 200 || resps[2].Body != b {
			t.Fatalf("got %d responses: %v", len(resps), statuses(resps))
		}
		if file("sub/pipe-a.bin") != a || file("sub/pipe-b.bin") != b {
			t.Fatal("the files on disk differ from the bodies sent")
		}
	})

	t.Run("HalfClosedAfterBody", func(t *testing.T) {
		// A client that shuts down its side after a whole body still
		// gets the answer.
		c := dial(t, addr)
		defer c.Close()
		body := uploadBody(40 << 10)
		io.WriteString(c, put("/sub/halfclosed.bin", body))
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		r, err := readResp(bufio.NewReader(c), "")
		if err != nil || r.Status != 201 {
			t.Fatalf("%v %v; want 201", r, err)
		}
		if file("sub/halfclosed.bin") != body {
			t.Fatal("the file on disk differs from the body sent")
		}
	})

	t.Run("CutMidway", func(t *testing.T) {
		before := snapshot(t, parent)
		for _, framing := range []string{"length", "chunked"} {
			c := dial(t, addr)
			body := uploadBody(200 << 10)
			if framing == "length" {
				io.WriteString(c, req("PUT", "/sub/cut.bin", "Content-Length: 900000")+body)
			} else {
				io.WriteString(c, req("PUT", "/sub/cut.bin", "Transfer-Encoding: chunked")+strings.TrimSuffix(chunk(body, 4096), "0\r\n\r\n"))
			}
			time.Sleep(100 * time.Millisecond) // let the server start writing
			c.Close()
		}
		sameTree(t, parent, before) // no file, no temporary file
	})

	t.Run("TooLarge", func(t *testing.T) {
		before := snapshot(t, parent)
		r := one(t, addr, req("PUT", "/sub/large.bin", fmt.Sprintf("Content-Length: %d", uploadMax+1)))
		wantStatus(t, r, 413)
		// A chunked body says nothing of its size until it has grown past
		// the limit.
		c := dial(t, addr)
		defer c.Close()
		io.WriteString(c, req("PUT", "/sub/large.bin", "Transfer-Encoding: chunked"))
		go io.WriteString(c, chunk(uploadBody(uploadMax+100), 32<<10))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		r, err := readResp(bufio.NewReader(c), "")
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, r, 413)
		sameTree(t, parent, before)
	})

	t.Run("Existing", func(t *testing.T) {
		before := snapshot(t, parent)
		wantStatus(t, one(t, addr, put("/old.txt", "new\n")), 409)
		wantStatus(t, one(t, addr, put("/sub", "a folder\n")), 409)
		sameTree(t, parent, before)
	})

	t.Run("MissingParent", func(t *testing.T) {
		before := snapshot(t, parent)
		wantStatus(t, one(t, addr, put("/nope/x.txt", "x\n")), 409)
		wantStatus(t, one(t, addr, put("/old.txt/x.txt", "x\n")), 409)
		sameTree(t, parent, before)
	})

	t.Run("HostileNames", func(t *testing.T) {
		before := snapshot(t, parent)
		for _, p := range []string{
			"/../escape.txt", "/sub/../../escape.txt", "/%2e%2e/escape.txt", "/%2E%2E%2Fescape.txt",
			"/sub/%2e%2e%2f%2e%2e%2fescape.txt", "/..%5cescape.txt", "/back%5cslash.txt",
			"/nul%00.txt", "/ctl%0a.txt", "/.hidden", "/sub/.htaccess", "/.weft-upload-x",
			"/./escape.txt", "escape.txt",
		} {
			r := one(t, addr, put(p, "hostile\n"))
			if r.Status != 400 {
				t.Errorf("PUT %s: status %d, want 400", p, r.Status)
			}
		}
		if runtime.GOOS != "windows" {
			// Through a link out of the root: refused by os.Root.
			if r := one(t, addr, put("/out/escape.txt", "hostile\n")); r.Status/100 != 4 || r.Status == 404 {
				t.Errorf("PUT through a link out of the root: status %d, want a refusal", r.Status)
			}
		}
		sameTree(t, parent, before)
	})

	t.Run("FormTwoFiles", func(t *testing.T) {
		one1, two := uploadBody(70<<10), "second file\n"
		body, ctype := form(t, map[string]string{"one.bin": one1, "two.txt": two})
		r := one(t, addr, req("POST", "/inbox/", "Content-Type: "+ctype, fmt.Sprintf("Content-Length: %d", len(body)))+body)
		wantStatus(t, r, 303)
		wantHeader(t, r, "Location", "/inbox/")
		if file("inbox/one.bin") != one1 || file("inbox/two.txt") != two {
			t.Fatal("the files on disk differ from the parts sent")
		}
		// Asked for JSON, the answer lists what was written.
		body, ctype = form(t, map[string]string{"a b#.txt": "three\n"})
		r = one(t, addr, req("POST", "/inbox/", "Accept: application/json", "Content-Type: "+ctype, fmt.Sprintf("Content-Length: %d", len(body)))+body)
		wantStatus(t, r, 200)
		var list []struct {
			Name, URL string
			Size      int64
		}
		if err := json.Unmarshal([]byte(r.Body), &list); err != nil || len(list) != 1 || list[0].Name != "a b#.txt" || list[0].URL != "/inbox/a%20b%23.txt" || list[0].Size != 6 {
			t.Fatalf("JSON %q (%v)", r.Body, err)
		}
		// An existing name, a hostile one: nothing of the form is written.
		before := snapshot(t, parent)
		for _, names := range [][2]string{{"fresh.txt", "two.txt"}, {"fresh.txt", "../escape.txt"}, {"fresh.txt", ".hidden"},
			{"fresh.txt", "a/b.txt"}, {"fresh.txt", `back\slash.txt`}, {"fresh.txt", ".."}, {"fresh.txt", "tab\t.txt"}} {
			body, ctype = form(t, map[string]string{names[0]: "x\n", names[1]: "y\n"})
			r = one(t, addr, req("POST", "/inbox/", "Content-Type: "+ctype, fmt.Sprintf("Content-Length: %d", len(body)))+body)
			if r.Status != 409 && r.Status != 400 {
				t.Errorf("form with %q: status %d, want 409 or 400", names[1], r.Status)
			}
		}
		sameTree(t, parent, before)
	})

	t.Run("ListingForm", func(t *testing.T) {
		r := one(t, addr, get("/inbox/"))
		wantStatus(t, r, 200)
		if !strings.Contains(r.Body, `enctype="multipart/form-data"`) || !strings.Contains(r.Body, `method="post"`) {
			t.Fatal("the listing has no upload form")
		}
	})

	t.Run("Overwrite", func(t *testing.T) {
		_, root := uploadTree(t)
		srv := s.start(t, Options{Site: site.Config{Root: root,
			Upload: site.UploadConfig{On: true, Overwrite: true, MaxBytes: uploadMax}}})
		for range 2 { // cached now
			if r := one(t, srv.Addr, get("/old.txt")); r.Body != "old\n" {
				t.Fatalf("before: %q", r.Body)
			}
		}
		wantStatus(t, one(t, srv.Addr, put("/old.txt", "new\n")), 204)
		if b, _ := os.ReadFile(filepath.Join(root, "old.txt")); string(b) != "new\n" {
			t.Fatalf("old.txt holds %q", b)
		}
		// The cache forgets the old content at once.
		if r := one(t, srv.Addr, get("/old.txt")); r.Status != 200 || r.Body != "new\n" {
			t.Fatalf("after: %d %q", r.Status, r.Body)
		}
		wantStatus(t, one(t, srv.Addr, put("/sub", "a folder\n")), 409)
	})

	t.Run("Stalled", func(t *testing.T) {
		// A body that stops arriving is cut after the idle timeout,
		// and what it wrote is removed.
		parent, root := uploadTree(t)
		srv := s.start(t, Options{Site: site.Config{Root: root, Upload: site.UploadConfig{On: true, MaxBytes: uploadMax}},
			Engine: engine.Config{IdleTimeout: 500 * time.Millisecond}})
		before := snapshot(t, parent)
		c := dial(t, srv.Addr)
		defer c.Close()
		io.WriteString(c, req("PUT", "/sub/stalled.bin", "Content-Length: 100000")+uploadBody(30000))
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Fatalf("the stalled upload's connection was not closed: %v", err)
		}
		sameTree(t, parent, before)
	})

	if s.caps.Concurrent {
		// serial serves one client at a time by design.
		t.Run("SlowUploader", func(t *testing.T) { SlowUpload(t, s.start) })
	}

	t.Run("DrainFinishesUpload", func(t *testing.T) {
		// A graceful shutdown lets an upload under way finish.
		_, root := uploadTree(t)
		srv := s.start(t, Options{Site: site.Config{Root: root,
			Upload: site.UploadConfig{On: true, MaxBytes: uploadMax}}})
		body := uploadBody(100 << 10)
		c := dial(t, srv.Addr)
		defer c.Close()
		io.WriteString(c, req("PUT", "/sub/drained.bin", fmt.Sprintf("Content-Length: %d", len(body)))+body[:len(body)/2])
		if s.caps.Concurrent {
			// The server has the head, so the upload is under way,
			// once it answers a request sent after it on another
			// connection (serial would answer that one only after).
			wantStatus(t, one(t, srv.Addr, get("/old.txt")), 200)
		} else {
			// serial: once the upload's temporary file appears (a
			// connection still in the backlog would be refused by
			// the shutdown, not drained).
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				ents, err := os.ReadDir(filepath.Join(root, "sub"))
				must(t, err)
				if len(ents) > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the upload's temporary file never appeared")
				}
			}
		}
		stopped := make(chan error, 1)
		go func() { stopped <- srv.Stop() }()
		waitStop := sync.OnceValue(func() error { return <-stopped })
		// Wait for it before the cleanup's Stop, also on failure.
		defer waitStop()
		time.Sleep(200 * time.Millisecond) // let the drain begin
		if _, err := io.WriteString(c, body[len(body)/2:]); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		r, err := readResp(bufio.NewReader(c), "")
		if err != nil {
			t.Fatalf("the draining server did not answer the upload: %v", err)
		}
		wantStatus(t, r, 201)
		if b, err := os.ReadFile(filepath.Join(root, "sub", "drained.bin")); err != nil || string(b) != body {
			t.Fatalf("the file on disk differs from the body sent (%d bytes, %v)", len(b), err)
		}
		if err := waitStop(); err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	})

	t.Run("MaxConnsCountsUpload", func(t *testing.T) {
		// An upload under way holds its connection: at MaxConns=1 a
		// newcomer is answered 503, the upload is neither reclaimed nor
		// uncounted, and it then completes.
		if !s.caps.Refuses || s.caps.Workers > 1 {
			t.Skip("only one process of the event loops answers a newcomer at MaxConns 503 for sure; the others leave it in the backlog (see MaxConns)")
		}
		_, root := uploadTree(t)
		srv := s.start(t, Options{Site: site.Config{Root: root,
			Upload: site.UploadConfig{On: true, MaxBytes: uploadMax}}, Engine: engine.Config{MaxConns: 1}})
		body := uploadBody(100 << 10)
		c := dial(t, srv.Addr)
		defer c.Close()
		io.WriteString(c, req("PUT", "/sub/counted.bin", fmt.Sprintf("Content-Length: %d", len(body)))+body[:len(body)/2])
		// Let the server take the head (an ordering, not a timed
		// assertion: a late one would see the newcomer refused at
		// accept all the same).
		time.Sleep(300 * time.Millisecond)
		wantStatus(t, one(t, srv.Addr, get("/old.txt")), 503) // the newcomer
		if _, err := io.WriteString(c, body[len(body)/2:]); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		r, err := readResp(bufio.NewReader(c), "PUT")
		if err != nil {
			t.Fatalf("the upload after the newcomer: %v", err)
		}
		wantStatus(t, r, 201)
		if b, err := os.ReadFile(filepath.Join(root, "sub", "counted.bin")); err != nil || string(b) != body {
			t.Fatalf("the file on disk differs from the body sent (%d bytes, %v)", len(b), err)
		}
	})

	t.Run("UploadDir", func(t *testing.T) {
		parent, root := uploadTree(t)
		srv := s.start(t, Options{Site: site.Config{Root: root,
			Upload: site.UploadConfig{On: true, Dir: "inbox", MaxBytes: uploadMax}}})
		before := snapshot(t, parent)
		wantStatus(t, one(t, srv.Addr, put("/sub/x.txt", "x\n")), 403)
		wantStatus(t, one(t, srv.Addr, put("/inboxed.txt", "x\n")), 403)
		sameTree(t, parent, before)
		wantStatus(t, one(t, srv.Addr, put("/inbox/x.txt", "x\n")), 201)

		// Allow, on OPTIONS and on a 405, names the upload method of
		// the URL (POST for a folder's form, PUT for a file) where
		// uploads are taken, and only the reading methods elsewhere.
		const reading = "GET, HEAD, OPTIONS"
		for _, c := range []struct {
			raw    string
			status int
			allow  string
		}{
			{req("OPTIONS", "/inbox/"), 200, reading + ", POST"},
			{req("OPTIONS", "/inbox"), 200, reading + ", POST"},
			{req("OPTIONS", "/inbox/x.txt"), 200, reading + ", PUT"},
			{req("OPTIONS", "/inbox/new/y.txt"), 200, reading + ", PUT"},
			{req("OPTIONS", "/sub/"), 200, reading},
			{req("OPTIONS", "/old.txt"), 200, reading},
			{req("OPTIONS", "/"), 200, reading},
			{req("DELETE", "/inbox/x.txt"), 405, reading + ", PUT"},
			{req("DELETE", "/inbox/"), 405, reading + ", POST"},
			{req("DELETE", "/old.txt"), 405, reading},
			{put("/inbox/", "x\n"), 405, reading + ", POST"},
			{req("POST", "/inbox/x.txt", "Content-Length: 0"), 405, reading + ", PUT"},
		} {
			r := one(t, srv.Addr, c.raw)
			line, _, _ := strings.Cut(c.raw, "\r\n")
			if r.Status != c.status || r.Header.Get("Allow") != c.allow {
				t.Errorf("%s: %d, Allow %q; want %d, Allow %q", line, r.Status, r.Header.Get("Allow"), c.status, c.allow)
			}
		}
		// Uploads off: PUT and POST are 405, and no URL lists them.
		for _, raw := range []string{req("OPTIONS", "/inbox/"), req("OPTIONS", "/x.txt"), put("/inbox/x.txt", "x\n"), req("POST", "/inbox/", "Content-Length: 0")} {
			r := one(t, s.addr, raw)
			if line, _, _ := strings.Cut(raw, "\r\n"); r.Header.Get("Allow") != reading {
				t.Errorf("uploads off, %s: %d, Allow %q; want Allow %q", line, r.Status, r.Header.Get("Allow"), reading)
			}
		}
	})
}

// SlowUpload checks, on an engine that serves clients concurrently, that
// an upload whose body trickles in a byte at a time holds only its own
// connection: between its bytes, other clients' requests (one on a kept-
// alive connection, one on a new connection each time) are answered. On
// an event loop with one loop, that loop serves both. Nothing appears at
// the upload's name before the body is whole; then it is all there.
func SlowUpload(t *testing.T, start Starter) {
	_, root := uploadTree(t)
	srv := start(t, Options{Site: site.Config{Root: root,
		Upload: site.UploadConfig{On: true, MaxBytes: uploadMax}}})
	body := "trickled in, one byte at a time\n"
	up := dial(t, srv.Addr)
	defer up.Close()
	if _, err := io.WriteString(up, req("PUT", "/sub/slow.txt", fmt.Sprintf("Content-Length: %d", len(body)))); err != nil {
		t.Fatal(err)
	}
	kept := dial(t, srv.Addr)
	defer kept.Close()
	kr := bufio.NewReader(kept)
	for i := range len(body) {
		if _, err := io.WriteString(up, body[i:i+1]); err != nil {
			t.Fatalf("byte %d of the upload: %v", i, err)
		}
		kept.SetReadDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(kept, get("/old.txt"))
		if r, err := readResp(kr, "GET"); err != nil || r.Status != 200 || r.Body != "old\n" {
			t.Fatalf("after byte %d of the upload, the kept-alive client got %v (%v)", i, r, err)
		}
		if r := one(t, srv.Addr, get("/old.txt", "Connection: close")); r.Status != 200 || r.Body != "old\n" {
			t.Fatalf("after byte %d of the upload, a new client got %d", i, r.Status)
		}
		if i < len(body)-1 {
			if _, err := os.Lstat(filepath.Join(root, "sub", "slow.txt")); err == nil {
				t.Fatalf("after byte %d of %d, the upload is at its name already", i+1, len(body))
			}
		}
	}
	up.SetReadDeadline(time.Now().Add(5 * time.Second))
	r, err := readResp(bufio.NewReader(up), "")
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, r, 201)
	if b, err := os.ReadFile(filepath.Join(root, "sub", "slow.txt")); err != nil || string(b) != body {
		t.Fatalf("the file on disk holds %q (%v), want %q", b, err, body)
	}
}

func statuses(rs []*Resp) []int {
	var s []int
	for _, r := range rs {
		s = append(s, r.Status)
	}
	return s
}

// form is a multipart/form-data body with a file part per entry of files
// (name → content) and a text field, and its Content-Type.
func form(t *testing.T, files map[string]string) (body, ctype string) {
	t.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	w.WriteField("note", "a field, not a file")
	for name, content := range files {
		h := make(map[string][]string)
		h["Content-Disposition"] = []string{fmt.Sprintf(`form-data; name="file"; filename="%s"`, strings.ReplaceAll(name, `"`, `\"`))}
		h["Content-Type"] = []string{"application/octet-stream"}
		p, err := w.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(p, content)
	}
	w.Close()
	return b.String(), w.FormDataContentType()
}
