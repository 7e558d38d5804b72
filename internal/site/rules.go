package site

import "fmt"

// compileRules checks the rules of cfg and compiles them into a Site
// that Open completes; it normalizes cfg.Symlinks. It reads the htpasswd
// files, nothing else.
func compileRules(cfg *Config) (*Site, error) {
	st := &Site{}
	var err error
	if st.cacheRules, err = compileCacheRules(cfg.CacheControl); err != nil {
		return nil, err
	}
	if st.headers, err = compileHeaderRules(cfg.Headers); err != nil {
		return nil, err
	}
	if cfg.HSTS != "" {
		if err := checkHeaderValue("Strict-Transport-Security", cfg.HSTS); err != nil {
			return nil, fmt.Errorf("weft: hsts: %w", err)
		}
	}
	st.hsts = cfg.HSTS
	if st.hsts == "" {
		st.hsts = DefaultHSTS
	}
	if st.cors, err = compileCORS(cfg.CORS); err != nil {
		return nil, err
	}
	if st.redirects, err = compileRedirects(cfg.Redirects); err != nil {
		return nil, err
	}
	switch cfg.TrailingSlash {
	case "", TrailingSlashAdd, TrailingSlashRemove:
	default:
		return nil, fmt.Errorf("weft: trailing slash %q: want %q, %q or none", cfg.TrailingSlash, TrailingSlashAdd, TrailingSlashRemove)
	}
	if st.errorPages, err = compileErrorPages(cfg.ErrorPages, cfg.Dotfiles); err != nil {
		return nil, err
	}
	if cfg.SPA != "" {
		if st.spa, err = resolveFile(cfg.SPA, cfg.Dotfiles); err != nil {
			return nil, fmt.Errorf("weft: spa: %w", err)
		}
	}
	if st.auth, err = compileAuth(cfg.Auth, cfg.AuthFailures); err != nil {
		return nil, err
	}
	if err := st.checkErrorPagesOpen(); err != nil {
		return nil, err
	}
	if cfg.Symlinks, err = checkSymlinks(cfg.Symlinks); err != nil {
		return nil, err
	}
	st.resolve = resolveFor(cfg.Symlinks)
	if st.trusted, err = checkTrusted(cfg.TrustedProxies); err != nil {
		return nil, err
	}
	if st.proxyHdr, err = checkProxyHeader(cfg.TrustedProxyHeader); err != nil {
		return nil, err
	}
	st.hasHeaders = cfg.Security || len(st.headers) > 0 || st.cors != nil
	st.pathRules = st.auth != nil || len(st.redirects) > 0 || cfg.CleanURLs || cfg.TrailingSlash == TrailingSlashRemove
	return st, nil
}

// Validate checks cfg as Open does, short of opening the root: every
// rule, and the htpasswd files it names (which it reads). For a
// configuration check before serving; Open validates again.
func (c Config) Validate() error {
	if c.ETag != "" && c.ETag != ETagMtime && c.ETag != ETagContent {
		return fmt.Errorf("weft: etag %q: want %s or %s", c.ETag, ETagMtime, ETagContent)
	}
	if _, err := compileRules(&c); err != nil {
		return err
	}
	_, err := mimeTable(c.MIME)
	return err
}
