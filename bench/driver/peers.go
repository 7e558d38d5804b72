//go:build linux

package main

import (
	"fmt"
	"os/exec"
	"strings"
)

// The plain-HTTP peers beside nginx: h2o and lighttpd, the best of the
// event-driven servers on small files, each with one worker pinned as
// the others are, serving the same document root with keep-alive, no
// access log and the file caches they ship with.

// h2oPlainConfig is h2o's configuration for the plain-HTTP cases: one
// thread, no access log, the file handler over root (h2o 2.2.5's syntax).
func h2oPlainConfig(work, root string, port int) string {
	return fmt.Sprintf(`num-threads: 1
error-log: %[1]s/h2o-plain-error.log
max-connections: 25000
listen:
  host: 127.0.0.1
  port: %[3]d
hosts:
  default:
    paths:
      /:
        file.dir: %[2]s
`, work, root, port)
}

// lighttpdConfig is lighttpd's: one process (server.max-worker is 0 by
// default), no access log (mod_accesslog not loaded), sendfile as it
// chooses on Linux, keep-alive without a request limit, and the same
// types as the others for the files served.
func lighttpdConfig(work, root string, port int) string {
	return fmt.Sprintf(`server.document-root = %[2]q
server.bind = "127.0.0.1"
server.port = %[3]d
server.errorlog = %[1]q
server.max-fds = 16384
server.max-connections = 8000
server.max-keep-alive-requests = 1000000
server.max-keep-alive-idle = 300
index-file.names = ("index.html")
mimetype.assign = (".html" => "text/html; charset=utf-8", ".js" => "text/javascript; charset=utf-8", ".css" => "text/css; charset=utf-8", ".bin" => "application/octet-stream")
`, work+"/lighttpd-error.log", root, port)
}

func lighttpdVersion() string {
	out, _ := exec.Command("lighttpd", "-v").CombinedOutput()
	v, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimSpace(string(out)), "lighttpd/"), " ")
	return v
}
