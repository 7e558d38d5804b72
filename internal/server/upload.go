package server

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/weft-server/weft/internal/site"
)

// Every engine but uring hands a request body to the site as it arrives
// (the event loops poll and epoll hand an upload's connection to a
// goroutine of its own; see evloop's body_linux.go). uring's loop keeps a
// multishot receive armed on every socket, so it cannot yet let a
// goroutine read one: with uploads on, uring is refused at start and on
// reload rather than reading and dropping the bodies.

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

// checkUploadEngine returns an error when uploads are on and the engine
// named name (set by the flag named flag) cannot take them.
func checkUploadEngine(scfg *site.Config, hosts *site.HostsConfig, flag, name string) error {
	if name != "uring" || !uploadsOn(scfg, hosts) {
		return nil
	}
	return fmt.Errorf("weft: --%s uring cannot take uploads yet (its receives stay armed on every socket); use --%s epoll or auto", flag, flag)
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
