package server

import (
	"errors"
	"path/filepath"
	"strings"

	"github.com/weft-server/weft/internal/site"
)

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

// checkUploads returns an error when a site taking uploads has no folder
// of its own: the packed or built-in site is served from a temporary
// copy, removed at exit with every file uploaded to it. (Every engine
// takes uploads.)
func checkUploads(scfg *site.Config, hosts *site.HostsConfig) error {
	for _, s := range sitesOf(scfg, hosts) {
		if s.Upload.On && s.Root == "" {
			return errors.New("weft: --upload needs a folder to serve (DIR, or root): the packed or built-in site is served from a temporary copy, removed at exit with every upload")
		}
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
