package config

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/weft-server/weft/internal/codec"
	"github.com/weft-server/weft/internal/engine/h1conn"
	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/site"
)

// Apply says when a changed key takes effect.
type Apply int

const (
	// Live keys take effect on reload (SIGHUP) with every engine: the
	// site is opened afresh and swapped in.
	Live Apply = iota
	// Workers keys take effect on reload with the process engine, whose
	// workers are replaced and read the configuration anew; with any
	// other engine they need a restart.
	Workers
	// Restart keys take effect only when weft restarts.
	Restart
)

func (a Apply) String() string {
	switch a {
	case Live:
		return "reload"
	case Workers:
		return "reload with the process engine, else restart"
	}
	return "restart"
}

// Key is one setting of `weft serve`: its name in the file, the
// environment (WEFT_ and the name in capitals) and on the command line
// (the name with dashes), its type, default and help. Keys holds them
// all; everything else (flags, the environment, the file, `weft config
// check` and `example`, the README's table) is driven from it.
type Key struct {
	Name  string // in the file, e.g. "max_conns"
	Short string // one-letter flag alias, or ""
	Help  string // one sentence for --help, the example file and the README
	Apply Apply

	// NoFlag keys are not flags; FlagDoc says what stands for one
	// (root: serve's DIR argument).
	NoFlag  bool
	FlagDoc string
	// FlagName, when set, is the flag's name instead of the key's with
	// dashes: "header" for headers, one rule per flag.
	FlagName string
	// PerSite keys may also be set in a [[site]] table, for that virtual
	// host (see Host).
	PerSite bool
	// Path keys set in the file are relative to the file's directory.
	Path bool
	// Unset documents a default that means "not set" (port): the example
	// shows the key commented out, with this explanation.
	Unset string

	example string                // a value to show in the example file, as TOML
	def     any                   // the default, of the field's type
	field   func(c *Config) any   // a pointer to the key's field in c
	check   func(c *Config) error // validates the merged value (nil: any)
}

// Flag is the key's command-line flag name, without dashes.
func (k *Key) Flag() string {
	if k.FlagName != "" {
		return k.FlagName
	}
	return strings.ReplaceAll(k.Name, "_", "-")
}

// Env is the key's environment variable.
func (k *Key) Env() string { return envPrefix + strings.ToUpper(k.Name) }

// Type names the key's TOML type, for documentation.
func (k *Key) Type() string { return kindOf(k.field(&Config{})).doc }

// Default is the key's default as TOML.
func (k *Key) Default() string { return format(k.def) }

const envPrefix = "WEFT_"

// Keys is the table of every key, in the order `weft config check` and
// `weft config example` print them.
var Keys = []Key{
	{Name: "root", NoFlag: true, FlagDoc: "serve's DIR argument", Path: true, Apply: Live, PerSite: true,
		Help:  "folder to serve; the built-in sample site when empty",
		def:   "",
		field: func(c *Config) any { return &c.Root }},
	{Name: "addr", Apply: Restart,
		Help:  "listen on `HOST:PORT` (0.0.0.0:PORT or [::]:PORT to serve the network)",
		def:   "127.0.0.1:8080",
		field: func(c *Config) any { return &c.Addr },
		check: func(c *Config) error { return checkHostPort(c.Addr) }},
	{Name: "port", Short: "p", Apply: Restart, Unset: "unset: the port of addr; 0 asks for any free port",
		Help:  "listen on `PORT` of the addr host",
		def:   0,
		field: func(c *Config) any { return &c.Port },
		check: func(c *Config) error {
			if c.Port < 0 || c.Port > 65535 {
				return fmt.Errorf("%d out of range 0-65535", c.Port)
			}
			return nil
		}},
	{Name: "engine", Apply: Restart,
		Help:  "concurrency `model`: serial, process, thread, goroutine, poll, epoll or auto (the fastest here)",
		def:   "auto",
		field: func(c *Config) any { return &c.Engine }},
	{Name: "workers", Apply: Restart,
		Help:  "process engine: worker processes (0: one per core)",
		def:   0,
		field: func(c *Config) any { return &c.Workers },
		check: func(c *Config) error { return atLeast(c.Workers, 0) }},
	{Name: "worker_engine", Apply: Workers,
		Help:  "process engine: the `engine` each worker runs (goroutine, epoll, …; not process)",
		def:   "auto",
		field: func(c *Config) any { return &c.WorkerEngine },
		check: func(c *Config) error {
			if c.WorkerEngine == "process" {
				return fmt.Errorf("cannot be process")
			}
			return nil
		}},
	{Name: "dotfiles", Apply: Live, PerSite: true,
		Help:  "serve files and folders whose names begin with a dot",
		def:   false,
		field: func(c *Config) any { return &c.Dotfiles }},
	{Name: "listing", Apply: Live, PerSite: true,
		Help:  "list the contents of folders that have no index file",
		def:   false,
		field: func(c *Config) any { return &c.Listing }},
	{Name: "index", Apply: Live, PerSite: true,
		Help:  "`file` served for a folder",
		def:   "index.html",
		field: func(c *Config) any { return &c.Index }},
	{Name: "mime", Apply: Live, PerSite: true,
		Help:    "add or override content types: `EXT=TYPE` serves files ending in EXT as TYPE (a table in the file; a repeatable flag; EXT=TYPE pairs separated by commas in the environment)",
		def:     map[string]string{},
		example: `{ ".md" = "text/markdown", ".glb" = "model/gltf-binary" }`,
		field:   func(c *Config) any { return &c.MIME }},
	{Name: "log_format", Apply: Workers,
		Help:  "access log `format`: common, combined or json",
		def:   "common",
		field: func(c *Config) any { return &c.LogFormat },
		check: func(c *Config) error { return oneOf("log format", c.LogFormat, LogFormats...) }},
	{Name: "access_log", Path: true, Apply: Workers,
		Help:  "access log `file` (- for standard output)",
		def:   "-",
		field: func(c *Config) any { return &c.AccessLog }},
	{Name: "no_access_log", Apply: Workers,
		Help:  "do not write an access log",
		def:   false,
		field: func(c *Config) any { return &c.NoAccessLog }},
	{Name: "read_header_timeout", Apply: Workers,
		Help:  "time a client has to send a request head",
		def:   h1conn.DefaultReadHeaderTimeout,
		field: func(c *Config) any { return &c.ReadHeaderTimeout },
		check: func(c *Config) error { return positive(c.ReadHeaderTimeout) }},
	{Name: "idle_timeout", Apply: Workers,
		Help:  "time an idle keep-alive connection is kept",
		def:   h1conn.DefaultIdleTimeout,
		field: func(c *Config) any { return &c.IdleTimeout },
		check: func(c *Config) error { return positive(c.IdleTimeout) }},
	{Name: "write_timeout", Apply: Workers,
		Help:  "time a client has to accept more response bytes",
		def:   h1conn.DefaultWriteTimeout,
		field: func(c *Config) any { return &c.WriteTimeout },
		check: func(c *Config) error { return positive(c.WriteTimeout) }},
	{Name: "shutdown_timeout", Apply: Restart,
		Help:  "time in-flight requests get to finish on shutdown",
		def:   h1conn.DefaultShutdownTimeout,
		field: func(c *Config) any { return &c.ShutdownTimeout },
		check: func(c *Config) error { return positive(c.ShutdownTimeout) }},
	{Name: "max_conns", Apply: Workers,
		Help:  "most open connections",
		def:   h1conn.DefaultMaxConns,
		field: func(c *Config) any { return &c.MaxConns },
		check: func(c *Config) error { return atLeast(c.MaxConns, 1) }},
	{Name: "max_header_bytes", Apply: Workers,
		Help:  "largest request head in bytes (431 beyond)",
		def:   http1.DefaultLimits.MaxHeadBytes,
		field: func(c *Config) any { return &c.MaxHeaderBytes },
		check: func(c *Config) error { return atLeast(c.MaxHeaderBytes, 256) }},
	{Name: "max_header_fields", Apply: Workers,
		Help:  "most header fields in a request (431 beyond)",
		def:   http1.DefaultLimits.MaxHeaderCount,
		field: func(c *Config) any { return &c.MaxHeaderFields },
		check: func(c *Config) error { return atLeast(c.MaxHeaderFields, 1) }},
	{Name: "max_body_bytes", Apply: Workers,
		Help:  "largest request body read and dropped (413 beyond)",
		def:   int64(h1conn.DefaultMaxBodyBytes),
		field: func(c *Config) any { return &c.MaxBodyBytes },
		check: func(c *Config) error { return atLeast(c.MaxBodyBytes, 0) }},
	{Name: "cache_max_bytes", Apply: Live,
		Help:  "memory for cached file contents in bytes (0 disables the cache)",
		def:   int64(64 << 20),
		field: func(c *Config) any { return &c.CacheMaxBytes },
		check: func(c *Config) error { return atLeast(c.CacheMaxBytes, 0) }},
	{Name: "cache_max_file", Apply: Live,
		Help:  "largest file held in memory, in bytes; larger ones are held open for sendfile",
		def:   int64(32 << 10),
		field: func(c *Config) any { return &c.CacheMaxFile },
		check: func(c *Config) error { return atLeast(c.CacheMaxFile, 0) }},
	{Name: "cache_max_open", Apply: Live,
		Help:  "most large files held open",
		def:   1000,
		field: func(c *Config) any { return &c.CacheMaxOpen },
		check: func(c *Config) error { return atLeast(c.CacheMaxOpen, 0) }},
	{Name: "cache_no_watch", Apply: Live,
		Help:  "do not watch files for changes (for NFS and other network mounts); cached entries are re-checked every second",
		def:   false,
		field: func(c *Config) any { return &c.CacheNoWatch }},
	{Name: "compress", Apply: Live, PerSite: true,
		Help:  "compress compressible files on the fly (once per file version, cached)",
		def:   true,
		field: func(c *Config) any { return &c.Compress }},
	{Name: "compress_types", Apply: Live,
		Help:  "media types compressed on the fly, comma-separated (`LIST` of type/subtype, type/*, type/*+suffix)",
		def:   codec.DefaultTypes,
		field: func(c *Config) any { return &c.CompressTypes },
		check: func(c *Config) error {
			if _, err := codec.ParseTypes(c.CompressTypes); err != nil {
				return fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "codec: "))
			}
			return nil
		}},
	{Name: "compress_min_bytes", Apply: Live,
		Help:  "smallest file compressed on the fly",
		def:   int64(1 << 10),
		field: func(c *Config) any { return &c.CompressMinBytes },
		check: func(c *Config) error {
			if c.CompressMinBytes < 0 || c.CompressMinBytes > c.CompressMaxBytes {
				return fmt.Errorf("%d must be from 0 to compress_max_bytes (%d, %s)", c.CompressMinBytes, c.CompressMaxBytes, c.Source("compress_max_bytes"))
			}
			return nil
		}},
	{Name: "compress_max_bytes", Apply: Live,
		Help:  "largest file compressed on the fly",
		def:   int64(4 << 20),
		field: func(c *Config) any { return &c.CompressMaxBytes },
		check: func(c *Config) error { return atLeast(c.CompressMaxBytes, 1) }},
	{Name: "precompressed", Apply: Live, PerSite: true,
		Help:  "serve precompressed sidecars (app.js.br, .zst, .gz beside app.js) to clients that accept them",
		def:   true,
		field: func(c *Config) any { return &c.Precompressed }},
	{Name: "etag", Apply: Live, PerSite: true,
		Help:  "entity-tags from `KIND`: mtime (modification time and size) or content (a hash of the bytes, the same on every machine)",
		def:   site.ETagMtime,
		field: func(c *Config) any { return &c.ETag },
		check: func(c *Config) error { return oneOf("etag", c.ETag, site.ETagMtime, site.ETagContent) }},
	{Name: "cache_control", Apply: Live, PerSite: true,
		Help:    "Cache-Control for files matching `GLOB=VALUE`, first match wins, e.g. \"/assets/**=public, max-age=86400\" (a list of strings in the file; a repeatable flag; one rule or a TOML array in the environment)",
		def:     []site.CacheRule{},
		example: `["/assets/**=public, max-age=31536000, immutable", "*.txt=max-age=60"]`,
		field:   func(c *Config) any { return &c.CacheControl }},
	{Name: "no_cache_control", Apply: Live, PerSite: true,
		Help:  "send no Cache-Control header",
		def:   false,
		field: func(c *Config) any { return &c.NoCacheControl },
		check: func(c *Config) error {
			if c.NoCacheControl && len(c.CacheControl) > 0 {
				return fmt.Errorf("contradicts cache_control (%s)", c.Source("cache_control"))
			}
			return nil
		}},
	// The site rules.
	{Name: "headers", FlagName: "header", Apply: Live, PerSite: true,
		Help:    "set response headers on the paths a glob matches: `'GLOB: Name: value'` (a repeatable flag; one rule or a TOML array in the environment); in the file, [[headers]] tables with for (the glob) and set, add and remove, every matching rule applying in order",
		def:     []site.HeaderRule{},
		example: "[[headers]]\nfor = \"/assets/**\"\nset = { \"Cache-Control\" = \"public, max-age=31536000, immutable\" }\nadd = { \"X-Robots-Tag\" = \"noindex\" }\nremove = [\"Last-Modified\"]",
		field:   func(c *Config) any { return &c.Headers },
		check:   checkHeaders},
	{Name: "security", Apply: Live, PerSite: true,
		Help:  "send the security preset on every response: X-Content-Type-Options, Referrer-Policy, X-Frame-Options, a conservative Content-Security-Policy, and hsts over TLS",
		def:   false,
		field: func(c *Config) any { return &c.Security }},
	{Name: "hsts", Apply: Live, PerSite: true,
		Help:  "the Strict-Transport-Security `value` the security preset sends over TLS (never over plain HTTP)",
		def:   site.DefaultHSTS,
		field: func(c *Config) any { return &c.HSTS },
		check: func(c *Config) error { return siteCheck(site.Config{HSTS: c.HSTS}, "hsts: ") }},
	{Name: "cors", Apply: Live, PerSite: true, Unset: "unset: no CORS headers",
		Help:    "allow cross-origin requests from `ORIGINS` (scheme://host[:port] separated by commas, or *); in the file, a [cors] table with origins, methods, headers, expose, credentials, max_age and paths (globs)",
		def:     (*site.CORS)(nil),
		example: "[cors]\norigins = [\"https://app.example.com\"]\nmethods = [\"GET\", \"HEAD\", \"POST\"]\nheaders = [\"Content-Type\"]\nexpose = [\"ETag\"]\ncredentials = true\nmax_age = 600\npaths = [\"/api/**\"]",
		field:   func(c *Config) any { return &c.CORS },
		check: func(c *Config) error {
			if c.CORS == nil {
				return nil
			}
			return siteCheck(site.Config{CORS: c.CORS}, "cors: ")
		}},
	{Name: "redirects", FlagName: "redirect", Apply: Live, PerSite: true,
		Help:    "redirect or rewrite paths, the first match winning: `'FROM TO [STATUS]'` (a repeatable flag; one rule or a TOML array in the environment); FROM is a path or glob whose final * or ** TO may use as :splat; STATUS is 301 (the default), 302, 307, 308, or 200 to serve TO in place; in the file, [[redirects]] tables with from, to and status",
		def:     []site.Redirect{},
		example: "[[redirects]]\nfrom = \"/blog/*\"\nto = \"/posts/:splat\"\nstatus = 308",
		field:   func(c *Config) any { return &c.Redirects },
		check:   checkRedirects},
	{Name: "clean_urls", Apply: Live, PerSite: true,
		Help:  "serve about.html at /about and redirect /about.html there",
		def:   false,
		field: func(c *Config) any { return &c.CleanURLs }},
	{Name: "trailing_slash", Apply: Live, PerSite: true,
		Help:  "trailing-slash `policy`: add (pages are served at /about/) or remove (/docs/ redirects to /docs); empty: only folders redirect to their path with a slash",
		def:   "",
		field: func(c *Config) any { return &c.TrailingSlash },
		check: func(c *Config) error {
			if c.TrailingSlash != "" {
				return oneOf("policy", c.TrailingSlash, site.TrailingSlashAdd, site.TrailingSlashRemove)
			}
			return nil
		}},
	{Name: "error_pages", FlagName: "error-page", Apply: Live, PerSite: true,
		Help:    "send a file of the site with an error status: `STATUS=FILE` (a repeatable flag; pairs separated by commas in the environment); in the file, an [error_pages] table, \"404\" = \"404.html\"",
		def:     map[int]string{},
		example: `{ "404" = "404.html", "500" = "errors/500.html" }`,
		field:   func(c *Config) any { return &c.ErrorPages },
		check:   checkErrorPages},
	{Name: "spa", Apply: Live, PerSite: true,
		Help:  "single-page app: answer navigations to missing paths with this `FILE` of the site (index.html); a missing asset (/app.js) stays a 404",
		def:   "",
		field: func(c *Config) any { return &c.SPA },
		check: func(c *Config) error {
			if c.SPA == "" {
				return nil
			}
			return siteCheck(site.Config{SPA: c.SPA}, "spa: ")
		}},
	{Name: "basic_auth", Path: true, Apply: Live, PerSite: true,
		Help:  "protect the whole site with HTTP basic authentication against an `HTPASSWD` file of bcrypt hashes (htpasswd -B); per-path rules are auth's",
		def:   "",
		field: func(c *Config) any { return &c.BasicAuth },
		check: checkBasicAuth},
	{Name: "auth", NoFlag: true, FlagDoc: "none (--basic-auth protects the whole site)", Apply: Live, PerSite: true,
		Help:    "basic authentication per path prefix, the longest matching prefix winning: [[auth]] tables with prefix, htpasswd (a file of bcrypt hashes; none exempts the prefix from a shorter rule) and realm (a TOML array of them in the environment)",
		def:     []site.AuthRule{},
		example: "[[auth]]\nprefix = \"/admin\"\nhtpasswd = \"admin.htpasswd\"\nrealm = \"Staff only\"\n\n[[auth]]\nprefix = \"/admin/public\"",
		field:   func(c *Config) any { return &c.Auth },
		check:   checkAuth},
	{Name: "auth_failures", Apply: Live, PerSite: true,
		Help:  "failed logins a client may make in a minute before it gets 429 (0: no limit)",
		def:   site.DefaultAuthFailures,
		field: func(c *Config) any { return &c.AuthFailures },
		check: func(c *Config) error { return atLeast(c.AuthFailures, 0) }},
	{Name: "allow_insecure_auth", Apply: Live, PerSite: true,
		Help:  "allow basic authentication over plain HTTP on an address beyond loopback, where passwords cross the network in clear",
		def:   false,
		field: func(c *Config) any { return &c.AllowInsecureAuth }},
	{Name: "symlinks", Apply: Live, PerSite: true,
		Help:  "symbolic links `policy`: confine (follow those that stay beneath the root), follow (any, also out of the root) or deny (none)",
		def:   site.SymlinksConfine,
		field: func(c *Config) any { return &c.Symlinks },
		check: func(c *Config) error {
			return oneOf("symlinks policy", c.Symlinks, site.SymlinksConfine, site.SymlinksFollow, site.SymlinksDeny)
		}},
	{Name: "trusted_proxies", Apply: Live,
		Help:    "peers (`CIDRs`, separated by commas) whose X-Forwarded-For or Forwarded header names the client, for the access log and the failed-login limit",
		def:     []netip.Prefix{},
		example: `["10.0.0.0/8", "fd00::/8"]`,
		field:   func(c *Config) any { return &c.TrustedProxies }},
	{Name: "trusted_proxy_header", Apply: Live,
		Help:  "the one `header` a trusted proxy's client is read from: x-forwarded-for or forwarded (RFC 7239); the other is the client's own and ignored",
		def:   site.ProxyHeaderXForwardedFor,
		field: func(c *Config) any { return &c.TrustedProxyHeader },
		check: func(c *Config) error {
			return oneOf("trusted proxy header", strings.ToLower(c.TrustedProxyHeader), site.ProxyHeaderXForwardedFor, site.ProxyHeaderForwarded)
		}},
	{Name: "unknown_host", Apply: Live,
		Help:  "virtual hosts: the `status` for a request whose Host no [[site]] names, when no site is the default: 421 or 404",
		def:   421,
		field: func(c *Config) any { return &c.UnknownHost },
		check: func(c *Config) error {
			if c.UnknownHost != 421 && c.UnknownHost != 404 {
				return fmt.Errorf("%d: want 421 or 404", c.UnknownHost)
			}
			return nil
		}},
	{Name: "pprof", Apply: Restart,
		Help:  "serve net/http/pprof on `HOST:PORT` (off when empty; keep it on loopback)",
		def:   "",
		field: func(c *Config) any { return &c.Pprof },
		check: func(c *Config) error {
			if c.Pprof == "" {
				return nil
			}
			return checkHostPort(c.Pprof)
		}},
	{Name: "pid_file", Path: true, Apply: Restart,
		Help:  "write the server's process id to `FILE`, for weft reload; removed on exit",
		def:   "",
		field: func(c *Config) any { return &c.PidFile }},
}

// LogFormats are the access log formats log_format accepts.
var LogFormats = []string{"common", "combined", "json"}

// Lookup returns the key named name, or nil.
func Lookup(name string) *Key {
	for i := range Keys {
		if Keys[i].Name == name {
			return &Keys[i]
		}
	}
	return nil
}

func checkHostPort(s string) error {
	if _, _, err := net.SplitHostPort(s); err != nil {
		return fmt.Errorf("invalid address %q: want HOST:PORT", s)
	}
	return nil
}

func positive(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("must be positive, got %v", d)
	}
	return nil
}

func atLeast[T int | int64](v, low T) error {
	if v < low {
		if low == 0 {
			return fmt.Errorf("must not be negative, got %d", v)
		}
		if low == 1 {
			return fmt.Errorf("must be positive, got %d", v)
		}
		return fmt.Errorf("must be at least %d, got %d", low, v)
	}
	return nil
}

func oneOf(what, v string, choices ...string) error {
	for _, c := range choices {
		if v == c {
			return nil
		}
	}
	return fmt.Errorf("unknown %s %q (want %s)", what, v, orList(choices))
}

// orList joins choices as "a, b or c".
func orList(choices []string) string {
	if len(choices) < 2 {
		return strings.Join(choices, "")
	}
	return strings.Join(choices[:len(choices)-1], ", ") + " or " + choices[len(choices)-1]
}
