package server

import (
	"path/filepath"
	"strings"

	"github.com/weft-server/weft/internal/site"
)

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
