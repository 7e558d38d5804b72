package server

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/weft-server/weft/internal/site"
)

// Uploads need an engine that lets the site read a request body as it
// arrives: a blocking one (serial, thread, goroutine), where the handler
// reads from the connection. The event loops (poll, epoll) read and drop
// bodies on the loop; "auto" picks goroutine when uploads are on, and an
// explicit event loop is refused at start and on reload.

// uploadsOn reports whether some site of the configuration takes uploads.
func uploadsOn(scfg *site.Config, hosts *site.HostsConfig) bool {
	if hosts == nil {
		return scfg.Upload.On
	}
	for i := range hosts.Sites {
		if hosts.Sites[i].Site.Upload.On {
			return true
		}
	}
	return false
}

// takesBodies reports whether the engine named name hands request bodies
// to the site (the process engine: its workers' engine decides).
func takesBodies(name string) bool {
	switch name {
	case "serial", "thread", "goroutine":
		return true
	}
	return false
}

// uploadEngine is the engine to run for name ("" or "auto" for the
// fastest), set by the flag named flag, when uploads are on, or an error
// for one that cannot take them.
func uploadEngine(flag, name string) (string, error) {
	switch {
	case name == "" || name == "auto":
		return "goroutine", nil
	case (name == "process" && flag == "engine") || takesBodies(name):
		return name, nil
	}
	return "", fmt.Errorf("weft: --%s %s cannot take uploads: an event loop reads and drops request bodies; use --%s goroutine, thread, serial or auto", flag, name, flag)
}

// uploadDirs lists the folders that take uploads, for a check that weft
// may write them (see privileges.checkAccess).
func uploadDirs(scfg *site.Config, hosts *site.HostsConfig, roots *roots) []string {
	sites := []*site.Config{scfg}
	if hosts != nil {
		sites = sites[:0]
		for i := range hosts.Sites {
			sites = append(sites, &hosts.Sites[i].Site)
		}
	}
	var dirs []string
	for _, s := range sites {
		if !s.Upload.On {
			continue
		}
		root, err := roots.resolve(s.Root)
		if err != nil {
			continue
		}
		dirs = append(dirs, filepath.Join(root, filepath.FromSlash(strings.Trim(s.Upload.Dir, "/"))))
	}
	return dirs
}
