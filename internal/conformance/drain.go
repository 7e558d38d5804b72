package conformance

import (
	"bufio"
	"io"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/site"
)

// drainAnswersArrived: a graceful shutdown (or a prefork reload, which is
// one for the old workers) must not drop a request the kernel has already
// accepted on a kept-alive connection that looked idle: the client cannot
// tell that loss from a failure, and a client that does not retry loses
// the request. Every round sends a second request, then at once begins
// the shutdown; the second request must be answered in full (with
// Connection: close, unless the server answered it before the shutdown
// reached the connection).
func (s *suite) drainAnswersArrived(t *testing.T) {
	rounds := 30
	if testing.Short() {
		rounds = 5
	}
	for i := 0; i < rounds; i++ {
		srv := s.start(t, Options{Site: site.Config{Root: s.root}})
		if srv.PID != 0 {
			rounds = min(rounds, 5) // a server process of its own takes a second or two to start
		}
		c := dial(t, srv.Addr)
		c.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		io.WriteString(c, get("/hello.txt"))
		if _, err := readResp(br, "GET"); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(c, get("/index.html")); err != nil {
			t.Fatal(err)
		}
		stopped := make(chan error, 1)
		t0 := time.Now()
		go func() { stopped <- srv.Stop() }()
		r, err := readResp(br, "GET")
		if err != nil {
			t.Fatalf("round %d: a request sent before the shutdown began was dropped: %v (%v after the stop began)", i, err, time.Since(t0))
		}
		wantStatus(t, r, 200)
		if r.Body != indexHTML {
			t.Fatalf("round %d: body %q", i, r.Body)
		}
		c.Close()
		if err := <-stopped; err != nil {
			t.Fatal(err)
		}
	}
}
