package server

import (
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/weft-server/weft/internal/s3conn"
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

// originCacheDirs lists the folders where the sites with an s3:// root
// cache large objects (each makes a folder of its own there at its first
// one), for a check that weft may write them (see
// privileges.checkAccess): of each, the nearest folder that exists.
func originCacheDirs(scfg *site.Config, hosts *site.HostsConfig) []string {
	var dirs []string
	for _, s := range sitesOf(scfg, hosts) {
		if !s3conn.IsURL(s.Root) {
			continue
		}
		dir := s.Origin.CacheDir
		if dir == "" {
			dir = os.TempDir()
		}
		for {
			if _, err := os.Stat(dir); err == nil || filepath.Dir(dir) == dir {
				break
			}
			dir = filepath.Dir(dir)
		}
		dirs = append(dirs, dir)
	}
	return dirs
}
