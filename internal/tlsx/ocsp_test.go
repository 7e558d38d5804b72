package tlsx_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/weft-server/weft/internal/tlsx"
)

// responder is an OCSP responder for ca: it fails the first failFirst
// requests with 500, then answers status.
type responder struct {
	ca        *testCA
	status    int
	failFirst atomic.Int64
	requests  atomic.Int64
}

func (r *responder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	n := r.requests.Add(1)
	if n <= r.failFirst.Load() {
		http.Error(w, "busy", http.StatusInternalServerError)
		return
	}
	body, err := io.ReadAll(req.Body)
	if err != nil || req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/ocsp-request" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	oreq, err := ocsp.ParseRequest(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	tmpl := ocsp.Response{
		Status:       r.status,
		SerialNumber: oreq.SerialNumber,
		ThisUpdate:   time.Now().Add(-time.Minute),
		NextUpdate:   time.Now().Add(4 * time.Hour),
	}
	if r.status == ocsp.Revoked {
		tmpl.RevokedAt = time.Now().Add(-time.Hour)
	}
	der, err := ocsp.CreateResponse(r.ca.cert, r.ca.cert, tmpl, r.ca.key)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/ocsp-response")
	w.Write(der)
}

func TestOCSPStapling(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		failFirst int64
		stapled   bool
		log       string
	}{
		{name: "good", status: ocsp.Good, stapled: true},
		{name: "failures then good", status: ocsp.Good, failFirst: 2, stapled: true, log: "500 Internal Server Error"},
		{name: "revoked", status: ocsp.Revoked, log: "revoked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ca := newTestCA(t)
			r := &responder{ca: ca, status: tc.status}
			r.failFirst.Store(tc.failFirst)
			srv := httptest.NewServer(r)
			defer srv.Close()
			dir := t.TempDir()
			cert, key, leaf := ca.issue(t, leafSpec{names: []string{"a.example"}, ocsp: srv.URL, chain: true})
			plainCert, plainKey, _ := ca.issue(t, leafSpec{names: []string{"plain.example"}, chain: true})
			log, buf := newLog()
			m, err := tlsx.NewWithOCSPRetry(tlsx.Options{
				Pairs:  []tlsx.Pair{writePair(t, dir, "a", cert, key), writePair(t, dir, "plain", plainCert, plainKey)},
				Logger: log,
			}, 20*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			addr := serve(t, m.TLSConfig())
			client := &tls.Config{ServerName: "a.example", RootCAs: ca.pool}

			staple := func() []byte {
				c, err := dial(addr, client)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				return c.ConnectionState().OCSPResponse
			}
			if tc.stapled {
				eventually(t, 5*time.Second, "no staple", func() bool { return staple() != nil })
				resp, err := ocsp.ParseResponseForCert(staple(), leaf, ca.cert)
				if err != nil || resp.Status != ocsp.Good {
					t.Fatalf("staple: %v, %v", resp, err)
				}
			} else {
				eventually(t, 5*time.Second, "responder not asked", func() bool { return r.requests.Load() > 0 })
			}
			if tc.log != "" {
				eventually(t, 5*time.Second, "no warning with "+tc.log, func() bool {
					return strings.Contains(buf.String(), tc.log)
				})
			}
			if !tc.stapled && staple() != nil {
				t.Error("stapled a response that is not good")
			}
			plain := &tls.Config{ServerName: "plain.example", RootCAs: ca.pool}
			if c, err := dial(addr, plain); err != nil {
				t.Error(err)
			} else {
				if c.ConnectionState().OCSPResponse != nil {
					t.Error("staple for a certificate without responder")
				}
				c.Close()
			}
		})
	}
}

// A reload of the same leaf keeps its staple; a new leaf gets its own.
func TestOCSPStapleAcrossReload(t *testing.T) {
	ca := newTestCA(t)
	r := &responder{ca: ca, status: ocsp.Good}
	srv := httptest.NewServer(r)
	defer srv.Close()
	dir := t.TempDir()
	cert, key, leaf := ca.issue(t, leafSpec{names: []string{"a.example"}, ocsp: srv.URL, chain: true})
	p := writePair(t, dir, "a", cert, key)
	m := newManager(t, tlsx.Options{Pairs: []tlsx.Pair{p}})
	addr := serve(t, m.TLSConfig())
	client := &tls.Config{ServerName: "a.example", RootCAs: ca.pool}
	stapleFor := func(l *x509.Certificate) bool {
		c, err := dial(addr, client)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		st := c.ConnectionState()
		if !st.PeerCertificates[0].Equal(l) || st.OCSPResponse == nil {
			return false
		}
		_, err = ocsp.ParseResponseForCert(st.OCSPResponse, l, ca.cert)
		return err == nil
	}
	eventually(t, 5*time.Second, "no staple", func() bool { return stapleFor(leaf) })

	// The same leaf with its chain re-encoded (a trailing newline): a
	// change of file, not of leaf; the staple is served at once.
	r.failFirst.Store(1 << 30) // the responder is down from now on
	writePair(t, dir, "a", append(cert, '\n'), key)
	if err := m.Reload(); err != nil {
		t.Fatal(err)
	}
	if !stapleFor(leaf) {
		t.Error("reload of the same leaf dropped its staple")
	}
}
