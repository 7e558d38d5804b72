package server

import (
	"errors"
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

// sitesOf lists the sites of a configuration: scfg, or each virtual
// host's.
func sitesOf(scfg *site.Config, hosts *site.HostsConfig) []*site.Config {
	if hosts == nil {
		return []*site.Config{scfg}
	}
	sites := make([]*site.Config, len(hosts.Sites))
	for i := range hosts.Sites {
		sites[i] = &hosts.Sites[i].Site
	}
	return sites
}

// uploadsOn reports whether some site of the configuration takes uploads.
func uploadsOn(scfg *site.Config, hosts *site.HostsConfig) bool {
	for _, s := range sitesOf(scfg, hosts) {
		if s.Upload.On {
			return true
		}
	}
	return false
}

// checkUploads returns an error when uploads are on and cannot be kept:
// the engine named name (set by the flag named flag) cannot take them, or
// a site taking them has no folder of its own (the packed or built-in
// site is served from a temporary copy, removed at exit with every file
// uploaded to it).
func checkUploads(scfg *site.Config, hosts *site.HostsConfig, flag, name string) error {
	if !uploadsOn(scfg, hosts) {
		return nil
	}
	for _, s := range sitesOf(scfg, hosts) {
		if s.Upload.On && s.Root == "" {
			return errors.New("weft: --upload needs a folder to serve (DIR, or root): the packed or built-in site is served from a temporary copy, removed at exit with every upload")
		}
	}
	if name == "uring" {
		return fmt.Errorf("weft: --%s uring cannot take uploads yet (its receives stay armed on every socket); use --%s epoll or auto", flag, flag)
	}
	return nil
}

// uploadDirs lists the folders that take uploads, for a check that weft
// may write them (see privileges.checkAccess).
func uploadDirs(scfg *site.Config, hosts *site.HostsConfig, roots *roots) []string {
	var dirs []string
	for _, s := range sitesOf(scfg, hosts) {
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
