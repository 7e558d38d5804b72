//go:build linux

package reclaim_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/engine/goroutine"
	"github.com/weft-server/weft/internal/engine/thread"
	"github.com/weft-server/weft/internal/site"
)

const hello = "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n"

func get(t *testing.T, c net.Conn) (*http.Response, error) {
	t.Helper()
	if _, err := io.WriteString(c, hello); err != nil {
		return nil, err
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return resp, err
}

func closedSoon(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	return !errors.As(err, &ne) || !ne.Timeout()
}

// TestMaxConnsReclaimsIdle: at --max-conns, connections answered and now
// idle make room for newcomers, oldest first, on the blocking engines;
// before, the 21st client waited in the backlog until an idle timeout.
func TestMaxConnsReclaimsIdle(t *testing.T) {
	root := conformance.Tree(t)
	for _, tc := range []struct {
		name string
		e    engine.Engine
	}{{"thread", thread.Engine{}}, {"goroutine", goroutine.Engine{}}} {
		t.Run(tc.name, func(t *testing.T) {
			srv := conformance.StartEngine(tc.e)(t, conformance.Options{Site: site.Config{Root: root}, Engine: engine.Config{MaxConns: 20}})
			var conns []net.Conn
			for i := 0; i < 26; i++ {
				c, err := net.DialTimeout("tcp", srv.Addr, 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				conns = append(conns, c)
				resp, err := get(t, c)
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("kept-alive connection %d of 26 at --max-conns 20: %v %v, want 200", i, err, resp)
				}
			}
			for i := 0; i < 6; i++ {
				if !closedSoon(conns[i], 2*time.Second) {
					t.Fatalf("idle connection %d (of the 6 oldest) still open", i)
				}
			}
			if closedSoon(conns[6], 100*time.Millisecond) {
				t.Fatal("the 7th oldest was closed too: one per newcomer is enough")
			}
		})
	}
}
