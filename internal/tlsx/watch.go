package tlsx

import (
	"context"
	"crypto/x509"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

const (
	watchQuiet   = 100 * time.Millisecond // reload after this long without events
	pollInterval = 30 * time.Second       // where the directories cannot be watched
)

// Watch reloads the certificates when their files change, until ctx is done
// or the Manager is closed. It watches the directories of the files, and of
// their symlink targets, since editors, certbot and Kubernetes replace files
// by rename or symlink swap; it reloads after watchQuiet without events and
// logs a failed reload (the previous certificates stay). Where the
// directories cannot be watched it reloads every pollInterval instead.
func (m *Manager) Watch(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(m.ctx, cancel)()
	if len(m.opts.Pairs) == 0 {
		<-ctx.Done()
		return
	}

	dirs, names := m.watched()
	var events <-chan fsnotify.Event
	var errs <-chan error
	var tick <-chan time.Time
	w, err := fsnotify.NewWatcher()
	if err == nil {
		defer w.Close()
		events, errs = w.Events, w.Errors
		for _, d := range dirs {
			if err = w.Add(d); err != nil {
				break
			}
		}
	}
	if err != nil {
		m.log.Warn("weft: tls: cannot watch the certificate files; checking them every "+pollInterval.String(), "err", err)
		t := time.NewTicker(pollInterval)
		defer t.Stop()
		tick = t.C
	}

	m.reloadLogged() // what changed before the watches were set
	quiet := time.NewTimer(watchQuiet)
	quiet.Stop()
	defer quiet.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				events = nil
			} else if names[filepath.Base(ev.Name)] || strings.HasPrefix(filepath.Base(ev.Name), "..") {
				quiet.Reset(watchQuiet)
			}
		case err, ok := <-errs:
			if !ok {
				errs = nil
			} else {
				m.log.Warn("weft: tls: watching the certificate files", "err", err)
			}
		case <-quiet.C:
			m.reloadLogged()
		case <-tick:
			m.reloadLogged()
		}
	}
}

// watched lists the directories to watch and the file names that matter in
// them: the files of every pair, and their symlinks' targets.
func (m *Manager) watched() (dirs []string, names map[string]bool) {
	names = make(map[string]bool)
	seen := make(map[string]bool)
	add := func(path string) {
		names[filepath.Base(path)] = true
		if d := filepath.Dir(path); !seen[d] {
			seen[d] = true
			dirs = append(dirs, d)
		}
	}
	for _, p := range m.opts.Pairs {
		for _, path := range []string{p.Cert, p.Key} {
			add(path)
			if real, err := filepath.EvalSymlinks(path); err == nil && real != path {
				add(real)
			}
		}
	}
	return dirs, names
}

// reloadLogged reloads and logs the outcome of a change.
func (m *Manager) reloadLogged() {
	changed, err := m.reload()
	switch {
	case err != nil:
		m.log.Warn("weft: tls: certificates not reloaded; serving the previous ones", "err", err)
	case changed:
		var names []string
		for _, l := range m.Leaves() {
			names = append(names, leafName(l))
		}
		m.log.Info("weft: tls: certificates reloaded", "certificates", names)
	}
}

// leafName is a name to show for l: its first DNS name or IP address.
func leafName(l *x509.Certificate) string {
	switch {
	case len(l.DNSNames) > 0:
		return l.DNSNames[0]
	case len(l.IPAddresses) > 0:
		return l.IPAddresses[0].String()
	}
	return l.Subject.CommonName
}
