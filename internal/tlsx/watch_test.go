package tlsx_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/tlsx"
)

// watch runs m.Watch until the end of the test.
func watch(t *testing.T, m *tlsx.Manager) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Watch(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

func TestWatchPicksUpRewrite(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	cert1, key1, leaf1 := ca.issue(t, leafSpec{names: []string{"a.example"}})
	log, buf := newLog()
	p := writePair(t, dir, "a", cert1, key1)
	m := newManager(t, tlsx.Options{Pairs: []tlsx.Pair{p}, Logger: log})
	addr := serve(t, m.TLSConfig())
	watch(t, m)
	client := &tls.Config{ServerName: "a.example", RootCAs: ca.pool}

	before, err := dial(addr, client)
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()
	if !before.ConnectionState().PeerCertificates[0].Equal(leaf1) {
		t.Fatal("not the first leaf")
	}

	// certbot style: the key first, then the certificate, each by rename.
	// Twice: the first may land before Watch has set its watches (Watch
	// then reloads at its start), the second comes after.
	for range 2 {
		cert2, key2, leaf2 := ca.issue(t, leafSpec{names: []string{"a.example"}})
		replaceFile(t, p.Key, key2, 0o600)
		replaceFile(t, p.Cert, cert2, 0o644)
		eventually(t, 5*time.Second, "new leaf not served", func() bool {
			return leafOf(t, addr, client).Equal(leaf2)
		})
		if l := m.Leaves(); !l[0].Equal(leaf2) {
			t.Error("Leaves() still has the old leaf")
		}
	}
	if !strings.Contains(buf.String(), "certificates reloaded") {
		t.Errorf("no reload logged: %q", buf)
	}

	// The connection opened before still works.
	before.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(before, "ping"); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(before, got); err != nil || string(got) != "ping" {
		t.Fatalf("old connection: %q, %v", got, err)
	}
}

func TestBrokenRewriteKeepsOld(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	cert1, key1, leaf1 := ca.issue(t, leafSpec{names: []string{"a.example"}})
	_, otherKey, _ := newTestCA(t).issue(t, leafSpec{names: []string{"a.example"}})
	log, buf := newLog()
	p := writePair(t, dir, "a", cert1, key1)
	m := newManager(t, tlsx.Options{Pairs: []tlsx.Pair{p}, Logger: log})
	addr := serve(t, m.TLSConfig())
	watch(t, m)
	client := &tls.Config{ServerName: "a.example", RootCAs: ca.pool}

	for _, tc := range []struct {
		name        string
		path        string
		data        []byte
		perm        os.FileMode
		errContains string
	}{
		{"garbage certificate", p.Cert, []byte("-----BEGIN CERT"), 0o644, "no PEM certificate"},
		{"key of another certificate", p.Key, otherKey, 0o600, "does not match"},
		{"key readable by others", p.Key, key1, 0o644, "--tls-allow-insecure-key-perms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			replaceFile(t, tc.path, tc.data, tc.perm)
			eventually(t, 5*time.Second, "no reload failure logged", func() bool {
				return strings.Contains(buf.String(), tc.errContains)
			})
			if !strings.Contains(buf.String(), "not reloaded") {
				t.Errorf("log %q", buf)
			}
			if err := m.Reload(); err == nil || !strings.Contains(err.Error(), tc.errContains) {
				t.Errorf("Reload: %v", err)
			}
			if got := leafOf(t, addr, client); !got.Equal(leaf1) {
				t.Error("the old certificate is no longer served")
			}
			// Repair for the next case.
			replaceFile(t, p.Cert, cert1, 0o644)
			replaceFile(t, p.Key, key1, 0o600)
			if err := m.Reload(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestReloadAllOrNothing(t *testing.T) {
	ca := newTestCA(t)
	dir := t.TempDir()
	aCert, aKey, a := ca.issue(t, leafSpec{names: []string{"a.example"}})
	bCert, bKey, b := ca.issue(t, leafSpec{names: []string{"b.example"}})
	pa, pb := writePair(t, dir, "a", aCert, aKey), writePair(t, dir, "b", bCert, bKey)
	m := newManager(t, tlsx.Options{Pairs: []tlsx.Pair{pa, pb}})

	// a changes well, b breaks: neither change is taken.
	a2Cert, a2Key, _ := ca.issue(t, leafSpec{names: []string{"a.example"}})
	writePair(t, dir, "a", a2Cert, a2Key)
	os.Remove(pb.Cert)
	if err := m.Reload(); err == nil {
		t.Fatal("Reload with a missing file succeeded")
	}
	if l := m.Leaves(); !l[0].Equal(a) || !l[1].Equal(b) {
		t.Error("a failed reload changed the set")
	}
}

func TestCloseStopsWatch(t *testing.T) {
	ca := newTestCA(t)
	cert, key, _ := ca.issue(t, leafSpec{names: []string{"a.example"}})
	m, err := tlsx.New(tlsx.Options{Pairs: []tlsx.Pair{writePair(t, t.TempDir(), "a", cert, key)}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		m.Watch(context.Background())
	}()
	m.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Watch still running after Close")
	}
	if err := m.Reload(); !errors.Is(err, tlsx.ErrClosed) {
		t.Errorf("Reload after Close: %v", err)
	}
}

// certbot's layout: live/ holds symlinks into archive/, swapped by rename.
func TestWatchSymlinkSwap(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges")
	}
	ca := newTestCA(t)
	root := t.TempDir()
	live, archive := filepath.Join(root, "live"), filepath.Join(root, "archive")
	for _, d := range []string{live, archive} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	link := func(name, target string) {
		tmp := filepath.Join(live, name+".new")
		if err := os.Symlink(filepath.Join("..", "archive", target), tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(live, name)); err != nil {
			t.Fatal(err)
		}
	}
	cert1, key1, _ := ca.issue(t, leafSpec{names: []string{"a.example"}})
	writePair(t, archive, "v1", cert1, key1)
	link("cert.pem", "v1.pem")
	link("key.pem", "v1-key.pem")
	p := tlsx.Pair{Cert: filepath.Join(live, "cert.pem"), Key: filepath.Join(live, "key.pem")}
	m := newManager(t, tlsx.Options{Pairs: []tlsx.Pair{p}})
	addr := serve(t, m.TLSConfig())
	watch(t, m)

	client := &tls.Config{ServerName: "a.example", RootCAs: ca.pool}
	for _, v := range []string{"v2", "v3"} { // v3 after Watch surely set its watches
		cert, key, leaf := ca.issue(t, leafSpec{names: []string{"a.example"}})
		writePair(t, archive, v, cert, key)
		link("key.pem", v+"-key.pem")
		link("cert.pem", v+".pem")
		eventually(t, 5*time.Second, v+" not served", func() bool {
			return leafOf(t, addr, client).Equal(leaf)
		})
	}
}
