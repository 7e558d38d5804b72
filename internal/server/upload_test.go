package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"
	"golang.org/x/crypto/bcrypt"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/server"
	"github.com/weft-server/weft/internal/site"
)

// TestUploadsOverHTTP2And3 uploads over HTTP/2 and HTTP/3 (and HTTP/1.1
// over TLS, served by net/http too), where net/http and quic-go hold the
// body: it reaches the site whole (past
// the 64 KiB that bodies not taken by the site are read up to), and a
// body too large or cut leaves nothing behind.
func TestUploadsOverHTTP2And3(t *testing.T) {
	const max = 1 << 20
	parent := t.TempDir()
	root := filepath.Join(parent, "root")
	if err := os.MkdirAll(filepath.Join(root, "inbox"), 0o755); err != nil {
		t.Fatal(err)
	}
	certs := conformance.NewCerts(t)
	tcfg := tlsWith(certs)
	tcfg.HTTP3 = true
	w := startWeft(t, server.Config{
		Site: site.Config{Root: root, Upload: site.UploadConfig{On: true, MaxBytes: max}},
		TLS:  tcfg,
	})
	tconf := &tls.Config{RootCAs: certs.Pool, ServerName: "localhost"}
	h2 := &http.Transport{TLSClientConfig: tconf.Clone(), Protocols: new(http.Protocols)}
	h2.Protocols.SetHTTP2(true)
	h1 := &http.Transport{TLSClientConfig: tconf.Clone(), Protocols: new(http.Protocols)}
	h1.Protocols.SetHTTP1(true)
	h3 := &http3.Transport{TLSClientConfig: tconf.Clone()}
	t.Cleanup(func() { h1.CloseIdleConnections(); h2.CloseIdleConnections(); h3.Close() })
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, p := range []struct {
		name  string
		proto int
		rt    http.RoundTripper
	}{{"HTTP1TLS", 1, h1}, {"HTTP2", 2, h2}, {"HTTP3", 3, h3}} {
		client := &http.Client{Transport: p.rt, CheckRedirect: noRedirect, Timeout: 20 * time.Second}
		base := "https://" + w.addr
		do := func(t *testing.T, method, path string, body io.Reader, fields ...string) *http.Response {
			t.Helper()
			rq, err := http.NewRequest(method, base+path, body)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range fields {
				k, v, _ := strings.Cut(f, ": ")
				rq.Header.Set(k, v)
			}
			resp, err := client.Do(rq)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.ProtoMajor != p.proto {
				t.Fatalf("answered over %s", resp.Proto)
			}
			return resp
		}
		t.Run(p.name, func(t *testing.T) {
			body := make([]byte, 300<<10)
			rand.Read(body)
			t.Run("Complete", func(t *testing.T) {
				resp := do(t, "PUT", "/inbox/whole.bin", bytes.NewReader(body))
				if resp.StatusCode != 201 || resp.Header.Get("Location") != "/inbox/whole.bin" {
					t.Fatalf("status %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
				}
				got, _ := os.ReadFile(filepath.Join(root, "inbox", "whole.bin"))
				if !bytes.Equal(got, body) {
					t.Fatalf("on disk: %d bytes, differing from the %d sent", len(got), len(body))
				}
				if resp := do(t, "PUT", "/inbox/whole.bin", bytes.NewReader(body)); resp.StatusCode != 409 {
					t.Fatalf("again: status %d, want 409", resp.StatusCode)
				}
				os.Remove(filepath.Join(root, "inbox", "whole.bin"))
			})
			t.Run("UnknownLength", func(t *testing.T) {
				// No content-length: the body streams in DATA frames.
				resp := do(t, "PUT", "/inbox/stream.bin", io.MultiReader(bytes.NewReader(body[:1000]), bytes.NewReader(body[1000:])))
				if resp.StatusCode != 201 {
					t.Fatalf("status %d", resp.StatusCode)
				}
				got, _ := os.ReadFile(filepath.Join(root, "inbox", "stream.bin"))
				if !bytes.Equal(got, body) {
					t.Fatal("the file on disk differs from the body sent")
				}
				os.Remove(filepath.Join(root, "inbox", "stream.bin"))
			})
			t.Run("TooLarge", func(t *testing.T) {
				big := bytes.Repeat([]byte("x"), max+1)
				if resp := do(t, "PUT", "/inbox/big.bin", bytes.NewReader(big)); resp.StatusCode != 413 {
					t.Fatalf("with a length: status %d, want 413", resp.StatusCode)
				}
				if resp := do(t, "PUT", "/inbox/big.bin", io.MultiReader(bytes.NewReader(big))); resp.StatusCode != 413 {
					t.Fatalf("without a length: status %d, want 413", resp.StatusCode)
				}
				emptyInbox(t, root)
			})
			t.Run("Cut", func(t *testing.T) {
				pr, pw := io.Pipe()
				ctx, cancel := context.WithCancel(context.Background())
				rq, _ := http.NewRequestWithContext(ctx, "PUT", base+"/inbox/cut.bin", pr)
				done := make(chan error, 1)
				go func() {
					resp, err := client.Do(rq)
					if err == nil {
						resp.Body.Close()
						err = fmt.Errorf("answered %d", resp.StatusCode)
					}
					done <- err
				}()
				pw.Write(body[:100<<10])
				time.Sleep(100 * time.Millisecond)
				cancel() // the stream is reset mid-body
				pw.CloseWithError(errors.New("cut"))
				<-done
				emptyInbox(t, root)
			})
			t.Run("Traversal", func(t *testing.T) {
				for _, path := range []string{"/%2e%2e/escape.txt", "/inbox/%2e%2e%2f%2e%2e%2fescape.txt", "/inbox/.hidden"} {
					if resp := do(t, "PUT", path, strings.NewReader("x")); resp.StatusCode != 400 {
						t.Errorf("PUT %s: status %d, want 400", path, resp.StatusCode)
					}
				}
				if _, err := os.Stat(filepath.Join(parent, "escape.txt")); err == nil {
					t.Fatal("a file was written beside the root")
				}
				emptyInbox(t, root)
			})
			t.Run("Form", func(t *testing.T) {
				var b bytes.Buffer
				mw := multipart.NewWriter(&b)
				fw, _ := mw.CreateFormFile("file", "one.bin")
				fw.Write(body)
				fw, _ = mw.CreateFormFile("file", "two.txt")
				io.WriteString(fw, "two\n")
				mw.Close()
				resp := do(t, "POST", "/inbox/", &b, "Content-Type: "+mw.FormDataContentType())
				if resp.StatusCode != 303 || resp.Header.Get("Location") != "/inbox/" {
					t.Fatalf("status %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
				}
				one, _ := os.ReadFile(filepath.Join(root, "inbox", "one.bin"))
				two, _ := os.ReadFile(filepath.Join(root, "inbox", "two.txt"))
				if !bytes.Equal(one, body) || string(two) != "two\n" {
					t.Fatal("the files on disk differ from the parts sent")
				}
				os.Remove(filepath.Join(root, "inbox", "one.bin"))
				os.Remove(filepath.Join(root, "inbox", "two.txt"))
			})
		})
	}
}

// emptyInbox fails unless root/inbox is empty (no file, no temporary
// file), waiting a little for a server still cleaning up.
func emptyInbox(t *testing.T, root string) {
	t.Helper()
	var names []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ents, err := os.ReadDir(filepath.Join(root, "inbox"))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		names = names[:0]
		for _, e := range ents {
			names = append(names, e.Name())
		}
		if len(names) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(names) > 0 {
		t.Fatalf("left in the upload folder: %q", names)
	}
}

// TestUploadsRefusedAtStart: uploads anyone on the network could make are
// refused before weft listens, with a message that says what to do; every
// engine, the event loops, uring and auto's choice included, takes them.
func TestUploadsRefusedAtStart(t *testing.T) {
	root := t.TempDir()
	up := site.Config{Root: root, Upload: site.UploadConfig{On: true}}
	for _, c := range []struct {
		name string
		cfg  server.Config
		want string
	}{
		{"anonymous on the network", server.Config{Addr: "0.0.0.0:0", Site: up}, "--upload-allow-anonymous"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			cfg.Stdout, cfg.ErrorLog = io.Discard, slog.New(slog.DiscardHandler)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := server.Run(ctx, cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error saying %q", err, c.want)
			}
		})
	}
	// Allowed explicitly, or protected by a password, it starts.
	anon := up
	anon.Upload.AllowAnonymous = true
	w := startWeft(t, server.Config{Addr: "0.0.0.0:0", Site: anon})
	w.stop()
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(htpasswd, append([]byte("u:"), append(hash, '\n')...), 0o600); err != nil {
		t.Fatal(err)
	}
	prot := up
	prot.Auth = []site.AuthRule{{Prefix: "/", Htpasswd: htpasswd}}
	prot.AllowInsecureAuth = true
	w = startWeft(t, server.Config{Addr: "0.0.0.0:0", Site: prot})
	w.stop()
	// Every engine takes the body, auto's (an event loop) and uring
	// included.
	for _, eng := range []string{"auto", "epoll", "poll", "uring"} {
		w = startWeft(t, server.Config{Engine: eng, Site: up})
		rq, _ := http.NewRequest("PUT", "http://"+w.addr+"/"+eng+".txt", strings.NewReader(eng+"\n"))
		resp, err := http.DefaultClient.Do(rq)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if b, _ := os.ReadFile(filepath.Join(root, eng+".txt")); resp.StatusCode != 201 || string(b) != eng+"\n" {
			t.Fatalf("%s: status %d, file %q", eng, resp.StatusCode, b)
		}
		w.stop()
	}
}
