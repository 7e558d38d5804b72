package tlsx_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/weft-server/weft/internal/tlsx"
)

// net/http serves HTTP/2 with a clone of the config (ServeTLS clones it and
// its HTTP/2 setup checks the cipher suites and adds "h2" to NextProtos).
func TestNetHTTPServeTLS(t *testing.T) {
	ca := newTestCA(t)
	cert, key, _ := ca.issue(t, leafSpec{names: []string{"a.example"}})
	m := newManager(t, tlsx.Options{
		Pairs:      []tlsx.Pair{writePair(t, t.TempDir(), "a", cert, key)},
		NextProtos: []string{"h2", "http/1.1"},
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		TLSConfig: m.TLSConfig().Clone(),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, r.Proto)
		}),
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	defer func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Error(err)
		}
	}()

	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{ServerName: "a.example", RootCAs: ca.pool},
		ForceAttemptHTTP2: true,
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("https://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "HTTP/2.0" {
		t.Errorf("served %q, want HTTP/2.0", body)
	}
}
