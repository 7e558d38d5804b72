package server

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/weft-server/weft/internal/config"
	"github.com/weft-server/weft/internal/engine"
	"github.com/weft-server/weft/internal/engine/process"
	"github.com/weft-server/weft/internal/site"
	"github.com/weft-server/weft/internal/tlsx"
)

// Privileges. Started as root, weft opens its listening sockets (ports
// below 1024 among them), then runs as another user: the one --user names,
// or nobody when no user is named and --allow-root is not set. The
// process engine's supervisor switches before it starts its workers, which
// inherit the user. Files weft made for itself before switching (the
// extracted sample site, the workers' configuration and metrics folders)
// are handed to the user, so that it can read them and remove them at
// exit. The pid file is not: root acts on what it says (weft reload
// signals that process), so only root may write it.

// defaultUser is the user root switches to without --user.
const defaultUser = "nobody"

// runAs is the user a server configured by c switches to ("" to stay who
// it is), and whether weft chose it (no user set; root without
// allow_root).
func runAs(c *config.Config) (name string, auto bool) {
	switch {
	case c.User != "":
		return c.User, false
	case !c.AllowRoot && os.Geteuid() == 0:
		return defaultUser, true
	}
	return "", false
}

// identity is a user and group to run as or to give a file to.
type identity struct {
	spec     string // as given: USER[:GROUP]
	uid, gid int    // gid -1: unchanged (a chown with no group)
	groups   []int  // supplementary groups, for setgroups
}

// lookupOwner resolves "USER[:GROUP]" (names or numeric ids). For a user
// to run as (forUser), the group defaults to the user's primary group and
// the supplementary groups are the user's; for a file's owner, a missing
// group leaves the file's group as it is.
func lookupOwner(spec string, forUser bool) (identity, error) {
	uname, gname, hasGroup := strings.Cut(spec, ":")
	id := identity{spec: spec, gid: -1}
	u, err := lookupUser(uname)
	if err != nil {
		return identity{}, err
	}
	id.uid, _ = strconv.Atoi(u.Uid)
	switch {
	case hasGroup:
		g, err := user.LookupGroup(gname)
		if err != nil {
			if _, nerr := strconv.Atoi(gname); nerr != nil {
				return identity{}, fmt.Errorf("no group %s on this system", gname)
			}
			g = &user.Group{Gid: gname}
		}
		id.gid, _ = strconv.Atoi(g.Gid)
	case forUser:
		id.gid, _ = strconv.Atoi(u.Gid)
	}
	if forUser {
		id.groups = []int{id.gid}
		if !hasGroup {
			if gids, err := u.GroupIds(); err == nil {
				for _, s := range gids {
					if n, err := strconv.Atoi(s); err == nil && n != id.gid {
						id.groups = append(id.groups, n)
					}
				}
			}
		}
	}
	return id, nil
}

func lookupUser(name string) (*user.User, error) {
	u, err := user.Lookup(name)
	if err == nil {
		return u, nil
	}
	if _, nerr := strconv.Atoi(name); nerr == nil {
		if u, err := user.LookupId(name); err == nil {
			return u, nil
		}
		return &user.User{Uid: name, Gid: name}, nil
	}
	return nil, fmt.Errorf("no user %s on this system", name)
}

// privileges is the switch a server makes after listening, nil for none.
type privileges struct {
	to   identity
	auto bool // weft chose the user (see runAs)
}

// planPrivileges resolves cfg's user before anything is opened: an
// unknown user, or one that only root could switch to while weft is not
// root, fails at once. It returns nil when there is nothing to switch.
func planPrivileges(cfg *Config) (*privileges, error) {
	if cfg.User == "" {
		return nil, nil
	}
	id, err := lookupOwner(cfg.User, true)
	if err != nil {
		if cfg.UserAuto {
			return nil, fmt.Errorf("weft: running as root: %w to switch to; use --user NAME, or --allow-root to stay root", err)
		}
		return nil, fmt.Errorf("weft: --user %s: %w", cfg.User, err)
	}
	if euid := os.Geteuid(); euid != 0 {
		if euid == id.uid {
			return nil, nil // already that user
		}
		return nil, fmt.Errorf("weft: --user %s: switching users needs root (weft runs as uid %d)", cfg.User, euid)
	}
	return &privileges{to: id, auto: cfg.UserAuto}, nil
}

// handOver gives the files under each path to the user (see the top of
// this file). A path that is "" or gone is skipped.
func (p *privileges) handOver(paths ...string) error {
	for _, root := range paths {
		if root == "" {
			continue
		}
		err := filepath.WalkDir(root, func(path string, _ fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(path, p.to.uid, p.to.gid)
		})
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("weft: handing %s to user %s: %w", root, p.to.spec, err)
		}
	}
	return nil
}

// hint is what to do when the user cannot do what serving needs.
func (p *privileges) hint() string {
	if p.auto {
		return "make it readable by " + defaultUser + ", or choose a user that can with --user NAME (or stay root with --allow-root)"
	}
	return "give user " + p.to.spec + " access, or choose another --user"
}

// checkAccess checks, as the new user, that every root can be read and
// every upload folder written (switchUser checks ACME's storage too).
func (p *privileges) checkAccess(roots, uploadDirs, cacheDirs []string) error {
	for _, root := range roots {
		f, err := os.Open(root)
		if err == nil {
			_, err = f.Readdirnames(1)
			f.Close()
			if errors.Is(err, io.EOF) {
				err = nil
			}
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the path is in the message already
		}
		if err != nil {
			return fmt.Errorf("weft: running as %s, cannot read the root %s: %w; %s", p.to.spec, root, err, p.hint())
		}
	}
	for _, dir := range uploadDirs {
		if err := writable(dir); err != nil {
			return fmt.Errorf("weft: running as %s, cannot write the upload folder %s: %w; %s", p.to.spec, dir, err, p.hint())
		}
	}
	for _, dir := range cacheDirs {
		if err := writable(dir); err != nil {
			return fmt.Errorf("weft: running as %s, cannot write the folder %s to cache objects of the s3:// root in (origin_cache_dir): %w; %s", p.to.spec, dir, err, p.hint())
		}
	}
	return nil
}

// checkReload checks, on a reload after the switch (p nil: none was
// made), that the user can write every upload folder of the new
// configuration, as the start checked the first one's. Roots are read by
// opening the new site, as the user.
func (p *privileges) checkReload(scfg *site.Config, hosts *site.HostsConfig, roots *roots) error {
	if p == nil {
		return nil
	}
	return p.checkAccess(nil, uploadDirs(scfg, hosts, roots), originCacheDirs(scfg, hosts))
}

// switchUser runs once every socket is open, before serving: it hands
// weft's own files to the user, switches to it, says so (on the error
// log, standard error), and checks that the user can serve the site.
func switchUser(p *privileges, cfg *Config, eng engine.Engine, roots *roots, rs *running, sw *siteSwitch) error {
	own := []string{roots.sample}
	if rs.snap != nil {
		own = append(own, rs.snap.dir)
	}
	if pe, ok := eng.(process.Engine); ok {
		for _, kv := range pe.Env {
			if dir, ok := strings.CutPrefix(kv, process.EnvMetricsDir+"="); ok {
				own = append(own, dir)
			}
		}
	}
	if err := p.handOver(own...); err != nil {
		return err
	}
	if err := p.apply(); err != nil {
		return err
	}
	if p.auto {
		cfg.ErrorLog.Warn("started as root: now running as user "+defaultUser+"; choose the user with --user NAME, or stay root with --allow-root", "uid", p.to.uid, "gid", p.to.gid)
	} else {
		cfg.ErrorLog.Info("now running as user "+p.to.spec, "uid", p.to.uid, "gid", p.to.gid)
	}
	scfg := cfg.Site
	if err := p.checkAccess(sw.cur.Load().site.Roots(), uploadDirs(&scfg, cfg.Hosts, roots), originCacheDirs(&scfg, cfg.Hosts)); err != nil {
		return err
	}
	if len(cfg.TLS.ACMEDomains) > 0 {
		// ACME obtains and renews certificates after the switch, as the
		// user: it writes them there.
		dir, err := tlsx.DefaultACMEStorage()
		if err == nil {
			err = writable(dir)
		}
		if err != nil {
			return fmt.Errorf("weft: running as %s, cannot write the ACME storage folder %s: %w; %s", p.to.spec, dir, err, p.hint())
		}
	}
	if _, ok := eng.(process.Engine); ok {
		// The supervisor starts its workers from its own executable, as
		// the user now.
		exe, err := os.Executable()
		if err == nil {
			err = executable(exe)
		}
		if err != nil {
			return fmt.Errorf("weft: running as %s, cannot start the process engine's workers from %s: %w; install weft where the user can run it (go run builds it in a private folder)", p.to.spec, exe, err)
		}
	}
	return nil
}
