package serial_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/conformance"
	"github.com/weft-server/weft/internal/engine/serial"
	"github.com/weft-server/weft/internal/site"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.StartEngine(serial.Engine{}), conformance.Capabilities{Concurrent: false})
}

// TestOneAtATime shows the model: while one client holds its connection,
// a second is not answered; once the first leaves, it is.
func TestOneAtATime(t *testing.T) {
	root := conformance.Tree(t)
	srv := conformance.StartEngine(serial.Engine{})(t, conformance.Options{Site: site.Config{Root: root}})
	req := "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n"
	a, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	io.WriteString(a, req)
	a.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := bufio.NewReader(a).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	b, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	io.WriteString(b, req)
	b.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	br := bufio.NewReader(b)
	if _, err := br.ReadString('\n'); err == nil {
		t.Fatal("second client answered while the first held the server")
	}
	a.Close()
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 200 OK\r\n" {
		t.Fatalf("second client after the first left: %q, %v", line, err)
	}
}

// TestIdleBounded: a client that keeps its connection idle after a request
// loses it after serial.MaxIdle (1s) even when the configured idle timeout
// is longer: not sooner, and not much later.
func TestIdleBounded(t *testing.T) {
	root := conformance.Tree(t)
	srv := conformance.StartEngine(serial.Engine{})(t, conformance.Options{Site: site.Config{Root: root}})
	a, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	io.WriteString(a, "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n")
	a.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(a)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	answered := time.Now()
	if _, err := io.Copy(io.Discard, br); err != nil {
		t.Fatal(err)
	}
	// The lower bound is exact (the server's own deadline); the upper
	// one leaves room for a busy machine.
	if d := time.Since(answered); d < 900*time.Millisecond || d > 3*time.Second {
		t.Fatalf("idle connection closed %v after its answer; want about serial.MaxIdle (%v)", d, serial.MaxIdle)
	}
}
