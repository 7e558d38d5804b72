package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/weft-server/weft/internal/accesslog"
	"github.com/weft-server/weft/internal/codec"
	"github.com/weft-server/weft/internal/engine/h1conn"
	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/s3conn"
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
	Group string // the topic --help and the man page list it under: one of Groups
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

// The topics of serve's flags, for --help and the man page.
const (
	GroupListening  = "Listening"
	GroupFiles      = "Files & site"
	GroupSharing    = "Sharing & uploads"
	GroupCaching    = "Caching & compression"
	GroupHeaders    = "Headers & redirects"
	GroupAccess     = "Access control"
	GroupTLS        = "TLS & HTTP/2/3"
	GroupLimits     = "Limits & timeouts"
	GroupLogging    = "Logging"
	GroupOperations = "Operations"
	GroupOrigin     = "Object store (s3:// roots)"
)

// Groups are the topics in the order --help lists them; every key has
// one, and --config is an Operations flag.
var Groups = []string{GroupListening, GroupFiles, GroupSharing, GroupCaching, GroupHeaders,
	GroupAccess, GroupTLS, GroupLimits, GroupLogging, GroupOperations, GroupOrigin}

// Keys is the table of every key, in the order `weft config check` and
// `weft config example` print them.
var Keys = []Key{
	{Name: "root", Group: GroupFiles, NoFlag: true, FlagDoc: "serve's DIR argument", Path: true, Apply: Live, PerSite: true,
		Help:  "folder to serve, or an object store as s3://BUCKET/PREFIX; when empty, the site packed into the executable (weft pack), else the built-in sample site",
		def:   "",
		field: func(c *Config) any { return &c.Root }},
	{Name: "s3_endpoint", Group: GroupOrigin, Apply: Live,
		Help:  "`URL` of the S3 API an s3:// root is read from (http://127.0.0.1:7070 for a store of your own); empty: AWS",
		def:   "",
		field: func(c *Config) any { return &c.S3Endpoint },
		check: func(c *Config) error {
			if c.S3Endpoint == "" {
				return nil
			}
			return s3conn.CheckEndpoint(c.S3Endpoint)
		}},
	{Name: "s3_region", Group: GroupOrigin, Apply: Live,
		Help:  "`region` of the bucket of an s3:// root (empty: AWS_REGION, AWS_DEFAULT_REGION, else asked of the store)",
		def:   "",
		field: func(c *Config) any { return &c.S3Region }},
	{Name: "s3_path_style", Group: GroupOrigin, Apply: Live,
		Help:  "address the bucket as a path (http://endpoint/bucket/key), as most self-hosted stores want, not as a host name",
		def:   false,
		field: func(c *Config) any { return &c.S3PathStyle }},
	{Name: "s3_credentials_file", Group: GroupOrigin, Path: true, Apply: Live,
		Help:  "shared credentials `FILE` read when AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set (empty: ~/.aws/credentials)",
		def:   "",
		field: func(c *Config) any { return &c.S3CredentialsFile }},
	{Name: "s3_profile", Group: GroupOrigin, Apply: Live,
		Help:  "`profile` of the shared credentials file (empty: AWS_PROFILE, else default)",
		def:   "",
		field: func(c *Config) any { return &c.S3Profile }},
	{Name: "origin_cache_dir", Group: GroupOrigin, Path: true, Apply: Live,
		Help:  "`folder` where large objects of an s3:// root are cached (in a folder of their own, removed at exit); empty: the system's temporary folder",
		def:   "",
		field: func(c *Config) any { return &c.OriginCacheDir }},
	{Name: "origin_cache_max_bytes", Group: GroupOrigin, Apply: Live,
		Help:  "disk the cache of large objects may hold, in bytes (least recently used evicted first)",
		def:   int64(1 << 30),
		field: func(c *Config) any { return &c.OriginCacheMaxBytes },
		check: func(c *Config) error { return atLeast(c.OriginCacheMaxBytes, 1) }},
	{Name: "origin_poll", Group: GroupOrigin, Apply: Live,
		Help:  "how often each instance checks the deployed version's pointer (.weft/current), and how long object metadata is trusted",
		def:   2 * time.Second,
		field: func(c *Config) any { return &c.OriginPoll },
		check: func(c *Config) error { return positive(c.OriginPoll) }},
	{Name: "origin_stale_max", Group: GroupOrigin, Apply: Live,
		Help:  "while the store fails, how long what is cached keeps being served (the rest gets 503)",
		def:   5 * time.Minute,
		field: func(c *Config) any { return &c.OriginStaleMax },
		check: func(c *Config) error { return positive(c.OriginStaleMax) }},
	{Name: "origin_timeout", Group: GroupOrigin, Apply: Live,
		Help:  "bound on each call to the store (a read of metadata, a listing, a segment of an object)",
		def:   10 * time.Second,
		field: func(c *Config) any { return &c.OriginTimeout },
		check: func(c *Config) error { return positive(c.OriginTimeout) }},
	{Name: "addr", Group: GroupListening, Apply: Restart,
		Help:  "listen on `HOST:PORT` (0.0.0.0:PORT or [::]:PORT to serve the network), or on the unix socket unix:/PATH (for a proxy in front)",
		def:   "127.0.0.1:8080",
		field: func(c *Config) any { return &c.Addr },
		check: checkAddr},
	{Name: "port", Group: GroupListening, Short: "p", Apply: Restart, Unset: "unset: the port of addr; 0 asks for any free port",
		Help:  "listen on `PORT` of the addr host",
		def:   0,
		field: func(c *Config) any { return &c.Port },
		check: func(c *Config) error {
			if c.Port < 0 || c.Port > 65535 {
				return fmt.Errorf("%d out of range 0-65535", c.Port)
			}
			return nil
		}},
	{Name: "engine", Group: GroupListening, Apply: Restart,
		Help:  "concurrency `model`: serial, process, thread, goroutine, poll, epoll, uring (Linux io_uring) or auto (the fastest here)",
		def:   "auto",
		field: func(c *Config) any { return &c.Engine }},
	{Name: "workers", Group: GroupListening, Apply: Restart,
		Help:  "process engine: worker processes (0: one per core)",
		def:   0,
		field: func(c *Config) any { return &c.Workers },
		check: func(c *Config) error { return atLeast(c.Workers, 0) }},
	{Name: "worker_engine", Group: GroupListening, Apply: Workers,
		Help:  "process engine: the `engine` each worker runs (goroutine, epoll, …; not process)",
		def:   "auto",
		field: func(c *Config) any { return &c.WorkerEngine },
		check: func(c *Config) error {
			if c.WorkerEngine == "process" {
				return fmt.Errorf("cannot be process")
			}
			return nil
		}},
	{Name: "dotfiles", Group: GroupFiles, Apply: Live, PerSite: true,
		Help:  "serve files and folders whose names begin with a dot",
		def:   false,
		field: func(c *Config) any { return &c.Dotfiles }},
	{Name: "upload", Group: GroupSharing, Apply: Live, PerSite: true,
		Help:  "accept uploads: PUT of a file's URL, and the listing page's form (a multipart POST to a folder)",
		def:   false,
		field: func(c *Config) any { return &c.Upload }},
	{Name: "upload_dir", Group: GroupSharing, Apply: Live, PerSite: true,
		Help:  "`folder` beneath the root where uploads are allowed (empty: the whole root)",
		def:   "",
		field: func(c *Config) any { return &c.UploadDir },
		check: func(c *Config) error {
			if d := strings.Trim(c.UploadDir, "/"); d != "" && d != "." {
				for _, seg := range strings.Split(d, "/") {
					if seg == "" || seg == "." || seg == ".." || strings.ContainsAny(seg, "\\\x00") {
						return fmt.Errorf("%q: want a folder beneath the root, as a path without . or .. segments", c.UploadDir)
					}
				}
			}
			return nil
		}},
	{Name: "upload_overwrite", Group: GroupSharing, Apply: Live, PerSite: true,
		Help:  "let an upload replace an existing file (otherwise 409 Conflict)",
		def:   false,
		field: func(c *Config) any { return &c.UploadOverwrite }},
	{Name: "upload_max_bytes", Group: GroupSharing, Apply: Live, PerSite: true,
		Help:  "largest upload in bytes (413 beyond)",
		def:   int64(site.DefaultUploadMaxBytes),
		field: func(c *Config) any { return &c.UploadMaxBytes },
		check: func(c *Config) error { return atLeast(c.UploadMaxBytes, 1) }},
	{Name: "upload_allow_anonymous", Group: GroupSharing, Apply: Live, PerSite: true,
		Help:  "accept uploads without authentication on an address other than loopback",
		def:   false,
		field: func(c *Config) any { return &c.UploadAllowAnonymous }},
	{Name: "listing", Group: GroupSharing, Apply: Live, PerSite: true,
		Help:  "list the contents of folders that have no index file (HTML, or JSON and plain text by Accept; see \"Share a folder\"), and offer folders as .zip and .tar.gz downloads",
		def:   false,
		field: func(c *Config) any { return &c.Listing }},
	{Name: "no_downloads", Group: GroupSharing, Apply: Live, PerSite: true,
		Help:  "with listing, do not offer folders as .zip and .tar.gz downloads (?download=zip, ?download=tar.gz)",
		def:   false,
		field: func(c *Config) any { return &c.NoDownloads }},
	{Name: "download_max_bytes", Group: GroupSharing, Apply: Live, PerSite: true,
		Help:  "largest total size of the files in one folder download, in bytes (413 beyond; 0: no cap)",
		def:   int64(0),
		field: func(c *Config) any { return &c.DownloadMaxBytes },
		check: func(c *Config) error { return atLeast(c.DownloadMaxBytes, 0) }},
	{Name: "index", Group: GroupFiles, Apply: Live, PerSite: true,
		Help:  "`file` served for a folder",
		def:   "index.html",
		field: func(c *Config) any { return &c.Index }},
	{Name: "mime", Group: GroupFiles, Apply: Live, PerSite: true,
		Help:    "add or override content types: `EXT=TYPE` serves files ending in EXT as TYPE (a table in the file; a repeatable flag; EXT=TYPE pairs separated by commas in the environment)",
		def:     map[string]string{},
		example: `{ ".md" = "text/markdown", ".glb" = "model/gltf-binary" }`,
		field:   func(c *Config) any { return &c.MIME }},
	{Name: "log_format", Group: GroupLogging, Apply: Workers,
		Help:  "access log `format`: common, combined, json, or a template of nginx-like $variables (see Access log in the README)",
		def:   "common",
		field: func(c *Config) any { return &c.LogFormat },
		check: func(c *Config) error { _, err := c.AccessLogFormat(); return err }},
	{Name: "log_time", Group: GroupLogging, Apply: Workers,
		Help:  "access log times in `zone` local (the process's time zone, TZ) or utc",
		def:   "local",
		field: func(c *Config) any { return &c.LogTime },
		check: func(c *Config) error { return oneOf("log time", c.LogTime, "local", "utc") }},
	{Name: "access_log", Group: GroupLogging, Path: true, Apply: Workers,
		Help:  "access log `file` (- for standard output)",
		def:   "-",
		field: func(c *Config) any { return &c.AccessLog }},
	{Name: "no_access_log", Group: GroupLogging, Apply: Workers,
		Help:  "do not write an access log",
		def:   false,
		field: func(c *Config) any { return &c.NoAccessLog }},
	{Name: "read_header_timeout", Group: GroupLimits, Apply: Workers,
		Help:  "time a client has to send a request head",
		def:   h1conn.DefaultReadHeaderTimeout,
		field: func(c *Config) any { return &c.ReadHeaderTimeout },
		check: func(c *Config) error { return positive(c.ReadHeaderTimeout) }},
	{Name: "idle_timeout", Group: GroupLimits, Apply: Workers,
		Help:  "time an idle keep-alive connection is kept",
		def:   h1conn.DefaultIdleTimeout,
		field: func(c *Config) any { return &c.IdleTimeout },
		check: func(c *Config) error { return positive(c.IdleTimeout) }},
	{Name: "write_timeout", Group: GroupLimits, Apply: Workers,
		Help:  "time a client has to accept more response bytes",
		def:   h1conn.DefaultWriteTimeout,
		field: func(c *Config) any { return &c.WriteTimeout },
		check: func(c *Config) error { return positive(c.WriteTimeout) }},
	{Name: "shutdown_timeout", Group: GroupLimits, Apply: Restart,
		Help:  "time in-flight requests get to finish on shutdown",
		def:   h1conn.DefaultShutdownTimeout,
		field: func(c *Config) any { return &c.ShutdownTimeout },
		check: func(c *Config) error { return positive(c.ShutdownTimeout) }},
	{Name: "max_conns", Group: GroupLimits, Apply: Workers,
		Help:  "most open connections",
		def:   h1conn.DefaultMaxConns,
		field: func(c *Config) any { return &c.MaxConns },
		check: func(c *Config) error { return atLeast(c.MaxConns, 1) }},
	{Name: "max_header_bytes", Group: GroupLimits, Apply: Workers,
		Help:  "largest request head in bytes (431 beyond)",
		def:   http1.DefaultLimits.MaxHeadBytes,
		field: func(c *Config) any { return &c.MaxHeaderBytes },
		check: func(c *Config) error { return atLeast(c.MaxHeaderBytes, 256) }},
	{Name: "max_header_fields", Group: GroupLimits, Apply: Workers,
		Help:  "most header fields in a request (431 beyond)",
		def:   http1.DefaultLimits.MaxHeaderCount,
		field: func(c *Config) any { return &c.MaxHeaderFields },
		check: func(c *Config) error { return atLeast(c.MaxHeaderFields, 1) }},
	{Name: "max_body_bytes", Group: GroupLimits, Apply: Workers,
		Help:  "largest request body read and dropped (413 beyond)",
		def:   int64(h1conn.DefaultMaxBodyBytes),
		field: func(c *Config) any { return &c.MaxBodyBytes },
		check: func(c *Config) error { return atLeast(c.MaxBodyBytes, 0) }},
	{Name: "cache_max_bytes", Group: GroupCaching, Apply: Live,
		Help:  "memory for cached file contents in bytes (0 disables the cache)",
		def:   int64(64 << 20),
		field: func(c *Config) any { return &c.CacheMaxBytes },
		check: func(c *Config) error { return atLeast(c.CacheMaxBytes, 0) }},
	{Name: "cache_max_file", Group: GroupCaching, Apply: Live,
		Help:  "largest file held in memory, in bytes; larger ones are held open for sendfile",
		def:   int64(32 << 10),
		field: func(c *Config) any { return &c.CacheMaxFile },
		check: func(c *Config) error { return atLeast(c.CacheMaxFile, 0) }},
	{Name: "cache_max_open", Group: GroupCaching, Apply: Live,
		Help:  "most large files held open",
		def:   1000,
		field: func(c *Config) any { return &c.CacheMaxOpen },
		check: func(c *Config) error { return atLeast(c.CacheMaxOpen, 0) }},
	{Name: "cache_no_watch", Group: GroupCaching, Apply: Live,
		Help:  "do not watch files for changes (for NFS and other network mounts); cached entries are re-checked every second",
		def:   false,
		field: func(c *Config) any { return &c.CacheNoWatch }},
	{Name: "compress", Group: GroupCaching, Apply: Live, PerSite: true,
		Help:  "compress compressible files on the fly (once per file version, cached)",
		def:   true,
		field: func(c *Config) any { return &c.Compress }},
	{Name: "compress_types", Group: GroupCaching, Apply: Live,
		Help:  "media types compressed on the fly, comma-separated (`LIST` of type/subtype, type/*, type/*+suffix)",
		def:   codec.DefaultTypes,
		field: func(c *Config) any { return &c.CompressTypes },
		check: func(c *Config) error {
			if _, err := codec.ParseTypes(c.CompressTypes); err != nil {
				return fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "codec: "))
			}
			return nil
		}},
	{Name: "compress_min_bytes", Group: GroupCaching, Apply: Live,
		Help:  "smallest file compressed on the fly",
		def:   int64(1 << 10),
		field: func(c *Config) any { return &c.CompressMinBytes },
		check: func(c *Config) error {
			if c.CompressMinBytes < 0 || c.CompressMinBytes > c.CompressMaxBytes {
				return fmt.Errorf("%d must be from 0 to compress_max_bytes (%d, %s)", c.CompressMinBytes, c.CompressMaxBytes, c.Source("compress_max_bytes"))
			}
			return nil
		}},
	{Name: "compress_max_bytes", Group: GroupCaching, Apply: Live,
		Help:  "largest file compressed on the fly",
		def:   int64(4 << 20),
		field: func(c *Config) any { return &c.CompressMaxBytes },
		check: func(c *Config) error { return atLeast(c.CompressMaxBytes, 1) }},
	{Name: "precompressed", Group: GroupCaching, Apply: Live, PerSite: true,
		Help:  "serve precompressed sidecars (app.js.br, .zst, .gz beside app.js) to clients that accept them",
		def:   true,
		field: func(c *Config) any { return &c.Precompressed }},
	{Name: "etag", Group: GroupFiles, Apply: Live, PerSite: true,
		Help:  "entity-tags from `KIND`: mtime (modification time and size) or content (a hash of the bytes, the same on every machine)",
		def:   site.ETagMtime,
		field: func(c *Config) any { return &c.ETag },
		check: func(c *Config) error { return oneOf("etag", c.ETag, site.ETagMtime, site.ETagContent) }},
	{Name: "cache_control", Group: GroupCaching, Apply: Live, PerSite: true,
		Help:    "Cache-Control for files matching `GLOB=VALUE`, first match wins, e.g. \"/assets/**=public, max-age=86400\" (a list of strings in the file; a repeatable flag; one rule or a TOML array in the environment)",
		def:     []site.CacheRule{},
		example: `["/assets/**=public, max-age=31536000, immutable", "*.txt=max-age=60"]`,
		field:   func(c *Config) any { return &c.CacheControl }},
	{Name: "no_cache_control", Group: GroupCaching, Apply: Live, PerSite: true,
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
	{Name: "headers", Group: GroupHeaders, FlagName: "header", Apply: Live, PerSite: true,
		Help:    "set response headers on the paths a glob matches: `'GLOB: Name: value'` (a repeatable flag; one rule or a TOML array in the environment); in the file, [[headers]] tables with for (the glob) and set, add and remove, every matching rule applying in order",
		def:     []site.HeaderRule{},
		example: "[[headers]]\nfor = \"/assets/**\"\nset = { \"Cache-Control\" = \"public, max-age=31536000, immutable\" }\nadd = { \"X-Robots-Tag\" = \"noindex\" }\nremove = [\"Last-Modified\"]",
		field:   func(c *Config) any { return &c.Headers },
		check:   checkHeaders},
	{Name: "security", Group: GroupHeaders, Apply: Live, PerSite: true,
		Help:  "send the security preset on every response: X-Content-Type-Options, Referrer-Policy, X-Frame-Options, a conservative Content-Security-Policy, and hsts over TLS",
		def:   false,
		field: func(c *Config) any { return &c.Security }},
	{Name: "hsts", Group: GroupHeaders, Apply: Live, PerSite: true,
		Help:  "the Strict-Transport-Security `value` the security preset sends over TLS (never over plain HTTP)",
		def:   site.DefaultHSTS,
		field: func(c *Config) any { return &c.HSTS },
		check: func(c *Config) error { return siteCheck(site.Config{HSTS: c.HSTS}, "hsts: ") }},
	{Name: "cors", Group: GroupHeaders, Apply: Live, PerSite: true, Unset: "unset: no CORS headers",
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
	{Name: "redirects", Group: GroupHeaders, FlagName: "redirect", Apply: Live, PerSite: true,
		Help:    "redirect or rewrite paths, the first match winning: `'FROM TO [STATUS]'` (a repeatable flag; one rule or a TOML array in the environment); FROM is a path or glob whose final * or ** TO may use as :splat; STATUS is 301 (the default), 302, 307, 308, or 200 to serve TO in place; in the file, [[redirects]] tables with from, to and status",
		def:     []site.Redirect{},
		example: "[[redirects]]\nfrom = \"/blog/*\"\nto = \"/posts/:splat\"\nstatus = 308",
		field:   func(c *Config) any { return &c.Redirects },
		check:   checkRedirects},
	{Name: "clean_urls", Group: GroupFiles, Apply: Live, PerSite: true,
		Help:  "serve about.html at /about and redirect /about.html there",
		def:   false,
		field: func(c *Config) any { return &c.CleanURLs }},
	{Name: "trailing_slash", Group: GroupFiles, Apply: Live, PerSite: true,
		Help:  "trailing-slash `policy`: add (pages are served at /about/) or remove (/docs/ redirects to /docs); empty: only folders redirect to their path with a slash",
		def:   "",
		field: func(c *Config) any { return &c.TrailingSlash },
		check: func(c *Config) error {
			if c.TrailingSlash != "" {
				return oneOf("policy", c.TrailingSlash, site.TrailingSlashAdd, site.TrailingSlashRemove)
			}
			return nil
		}},
	{Name: "error_pages", Group: GroupFiles, FlagName: "error-page", Apply: Live, PerSite: true,
		Help:    "send a file of the site with an error status: `STATUS=FILE` (a repeatable flag; pairs separated by commas in the environment); in the file, an [error_pages] table, \"404\" = \"404.html\"",
		def:     map[int]string{},
		example: `{ "404" = "404.html", "500" = "errors/500.html" }`,
		field:   func(c *Config) any { return &c.ErrorPages },
		check:   checkErrorPages},
	{Name: "spa", Group: GroupFiles, Apply: Live, PerSite: true,
		Help:  "single-page app: answer navigations to missing paths with this `FILE` of the site (index.html); a missing asset (/app.js) stays a 404",
		def:   "",
		field: func(c *Config) any { return &c.SPA },
		check: func(c *Config) error {
			if c.SPA == "" {
				return nil
			}
			return siteCheck(site.Config{SPA: c.SPA}, "spa: ")
		}},
	{Name: "basic_auth", Group: GroupAccess, Path: true, Apply: Live, PerSite: true,
		Help:  "protect the whole site with HTTP basic authentication against an `HTPASSWD` file of bcrypt hashes (htpasswd -B); per-path rules are auth's",
		def:   "",
		field: func(c *Config) any { return &c.BasicAuth },
		check: checkBasicAuth},
	{Name: "auth", Group: GroupAccess, NoFlag: true, FlagDoc: "none (--basic-auth protects the whole site)", Apply: Live, PerSite: true,
		Help:    "basic authentication per path prefix, the longest matching prefix winning: [[auth]] tables with prefix, htpasswd (a file of bcrypt hashes; none exempts the prefix from a shorter rule) and realm (a TOML array of them in the environment)",
		def:     []site.AuthRule{},
		example: "[[auth]]\nprefix = \"/admin\"\nhtpasswd = \"admin.htpasswd\"\nrealm = \"Staff only\"\n\n[[auth]]\nprefix = \"/admin/public\"",
		field:   func(c *Config) any { return &c.Auth },
		check:   checkAuth},
	{Name: "auth_failures", Group: GroupAccess, Apply: Live, PerSite: true,
		Help:  "failed logins a client may make in a minute before it gets 429 (0: no limit)",
		def:   site.DefaultAuthFailures,
		field: func(c *Config) any { return &c.AuthFailures },
		check: func(c *Config) error { return atLeast(c.AuthFailures, 0) }},
	{Name: "allow_insecure_auth", Group: GroupAccess, Apply: Live, PerSite: true,
		Help:  "allow basic authentication over plain HTTP on an address beyond loopback, where passwords cross the network in clear",
		def:   false,
		field: func(c *Config) any { return &c.AllowInsecureAuth }},
	{Name: "symlinks", Group: GroupFiles, Apply: Live, PerSite: true,
		Help:  "symbolic links `policy`: confine (follow those that stay beneath the root), follow (any, also out of the root) or deny (none)",
		def:   site.SymlinksConfine,
		field: func(c *Config) any { return &c.Symlinks },
		check: func(c *Config) error {
			return oneOf("symlinks policy", c.Symlinks, site.SymlinksConfine, site.SymlinksFollow, site.SymlinksDeny)
		}},
	{Name: "trusted_proxies", Group: GroupAccess, Apply: Live,
		Help:    "peers (`CIDRs`, separated by commas) whose X-Forwarded-For or Forwarded header names the client, for the access log and the failed-login limit",
		def:     []netip.Prefix{},
		example: `["10.0.0.0/8", "fd00::/8"]`,
		field:   func(c *Config) any { return &c.TrustedProxies }},
	{Name: "trusted_proxy_header", Group: GroupAccess, Apply: Live,
		Help:  "the one `header` a trusted proxy's client is read from: x-forwarded-for or forwarded (RFC 7239); the other is the client's own and ignored",
		def:   site.ProxyHeaderXForwardedFor,
		field: func(c *Config) any { return &c.TrustedProxyHeader },
		check: func(c *Config) error {
			return oneOf("trusted proxy header", strings.ToLower(c.TrustedProxyHeader), site.ProxyHeaderXForwardedFor, site.ProxyHeaderForwarded)
		}},
	{Name: "unknown_host", Group: GroupFiles, Apply: Live,
		Help:  "virtual hosts: the `status` for a request whose Host no [[site]] names, when no site is the default: 421 or 404",
		def:   421,
		field: func(c *Config) any { return &c.UnknownHost },
		check: func(c *Config) error {
			if c.UnknownHost != 421 && c.UnknownHost != 404 {
				return fmt.Errorf("%d: want 421 or 404", c.UnknownHost)
			}
			return nil
		}},
	{Name: "pprof", Group: GroupOperations, Apply: Restart,
		Help:  "serve net/http/pprof on `HOST:PORT` (off when empty; keep it on loopback)",
		def:   "",
		field: func(c *Config) any { return &c.Pprof },
		check: func(c *Config) error {
			if c.Pprof == "" {
				return nil
			}
			return checkHostPort(c.Pprof)
		}},
	{Name: "admin", Group: GroupOperations, Apply: Restart,
		Help:  "serve the admin endpoints on `HOST:PORT`: Prometheus /metrics, /healthz, /readyz, and /debug/pprof/ when pprof is on (off when empty; keep it on loopback)",
		def:   "",
		field: func(c *Config) any { return &c.Admin },
		check: func(c *Config) error {
			if c.Admin == "" {
				return nil
			}
			return checkHostPort(c.Admin)
		}},
	{Name: "tls_cert", Group: GroupTLS, Path: true, Apply: Restart,
		Help:    "serve HTTPS with the certificate chain in PEM `FILE`, paired with the tls_key at the same position; several pairs are chosen by the name the client asks for (SNI), the first by default; the files are read again on SIGHUP and when they change",
		def:     []string{},
		example: `["/etc/weft/example.com.pem"]`,
		field:   func(c *Config) any { return &c.TLSCert },
		check: func(c *Config) error {
			if len(c.TLSCert) != len(c.TLSKey) {
				return fmt.Errorf("%d certificates but %d keys (tls_key, %s): give them in pairs", len(c.TLSCert), len(c.TLSKey), c.Source("tls_key"))
			}
			return nil
		}},
	{Name: "tls_key", Group: GroupTLS, Path: true, Apply: Restart,
		Help:    "the private key in PEM `FILE` of the tls_cert at the same position (refused when others may read it)",
		def:     []string{},
		example: `["/etc/weft/example.com.key"]`,
		field:   func(c *Config) any { return &c.TLSKey }},
	{Name: "tls_allow_insecure_key_perms", Group: GroupTLS, Apply: Restart,
		Help:  "accept a key file that users other than its owner may read or write",
		def:   false,
		field: func(c *Config) any { return &c.TLSAllowInsecureKeyPerms }},
	{Name: "tls_self_signed", Group: GroupTLS, Apply: Restart,
		Help:  "serve HTTPS for development with a certificate for localhost, 127.0.0.1, ::1 and this machine's name, signed by a local CA created once under the user's config folder (its path is printed, to trust it)",
		def:   false,
		field: func(c *Config) any { return &c.TLSSelfSigned }},
	{Name: "acme_domain", Group: GroupTLS, Apply: Restart,
		Help:    "obtain and renew a certificate for `DOMAIN` automatically (ACME, Let's Encrypt by default); repeatable; the CA must reach this server on ports 80 (redirect_http) or 443",
		def:     []string{},
		example: `["example.com", "www.example.com"]`,
		field:   func(c *Config) any { return &c.ACMEDomain },
		check: func(c *Config) error {
			for _, d := range c.ACMEDomain {
				if err := checkDomain(d); err != nil {
					return err
				}
			}
			return nil
		}},
	{Name: "acme_email", Group: GroupTLS, Apply: Restart,
		Help:  "contact `ADDRESS` given to the ACME CA (expiry notices)",
		def:   "",
		field: func(c *Config) any { return &c.ACMEEmail }},
	{Name: "acme_ca", Group: GroupTLS, Apply: Restart,
		Help:  "ACME directory `URL` (Let's Encrypt production when empty)",
		def:   "",
		field: func(c *Config) any { return &c.ACMECA },
		check: func(c *Config) error {
			if c.ACMECA == "" {
				return nil
			}
			u, err := url.Parse(c.ACMECA)
			if err != nil || u.Scheme != "https" || u.Host == "" {
				return fmt.Errorf("%q is not an https:// URL", c.ACMECA)
			}
			return nil
		}},
	{Name: "acme_staging", Group: GroupTLS, Apply: Restart,
		Help:  "use Let's Encrypt's staging CA (untrusted certificates, generous limits) when acme_ca is empty",
		def:   false,
		field: func(c *Config) any { return &c.ACMEStaging }},
	{Name: "h2c", Group: GroupTLS, Apply: Restart,
		Help:  "accept cleartext HTTP/2 (by prior knowledge and by Upgrade: h2c) on the plain listener, for use behind a proxy",
		def:   false,
		field: func(c *Config) any { return &c.H2C }},
	{Name: "http3", Group: GroupTLS, Apply: Restart,
		Help:  "serve HTTP/3 over QUIC on the same port (UDP), advertised by Alt-Svc; needs TLS",
		def:   false,
		field: func(c *Config) any { return &c.HTTP3 }},
	{Name: "redirect_http", Group: GroupTLS, Apply: Restart,
		Help:  "also listen on plain `HOST:PORT` and redirect every request to HTTPS (308, path and query kept), answering ACME HTTP-01 challenges there; needs TLS",
		def:   "",
		field: func(c *Config) any { return &c.RedirectHTTP },
		check: func(c *Config) error {
			if c.RedirectHTTP == "" {
				return nil
			}
			return checkHostPort(c.RedirectHTTP)
		}},
	{Name: "pid_file", Group: GroupOperations, Path: true, Apply: Restart,
		Help:  "write the server's process id to `FILE`, for weft reload; removed on exit (left when the user weft switched to may not remove it from its folder; it stays root's)",
		def:   "",
		field: func(c *Config) any { return &c.PidFile }},
	{Name: "unix_mode", Group: GroupListening, Apply: Restart,
		Help:  "the permissions, in octal, of the socket file of a unix:/PATH addr (who may connect: write permission); 0666, as systemd's SocketMode, lets any local user connect, as a loopback port does",
		def:   "0666",
		field: func(c *Config) any { return &c.UnixMode },
		check: func(c *Config) error {
			if m, err := strconv.ParseUint(c.UnixMode, 8, 32); err != nil || m > 0o777 {
				return fmt.Errorf("invalid mode %q: want octal permissions such as 0660", c.UnixMode)
			}
			return nil
		}},
	{Name: "unix_owner", Group: GroupListening, Apply: Restart,
		Help:    "give the socket file of a unix:/PATH addr to `USER[:GROUP]` (names or numeric ids; needs root), for example the proxy's group with unix_mode 0660",
		def:     "",
		example: `"root:www-data"`,
		field:   func(c *Config) any { return &c.UnixOwner },
		check:   func(c *Config) error { return checkOwner(c.UnixOwner) }},
	{Name: "user", Group: GroupOperations, Apply: Restart,
		Help:    "started as root, switch to `USER[:GROUP]` after opening the listening sockets (ports below 1024) and before serving; the process engine's workers run as that user too (without it, root switches to nobody unless allow_root is set)",
		def:     "",
		example: `"www-data"`,
		field:   func(c *Config) any { return &c.User },
		check:   func(c *Config) error { return checkOwner(c.User) }},
	{Name: "allow_root", Group: GroupOperations, Apply: Restart,
		Help:  "keep running as root when started as root without user (else weft switches to nobody after opening its sockets)",
		def:   false,
		field: func(c *Config) any { return &c.AllowRoot }},
	{Name: "qr", Group: GroupSharing, Apply: Restart,
		Help:  "print a QR code of the LAN URL in the terminal at start, for a phone to open",
		def:   false,
		field: func(c *Config) any { return &c.QR }},
	{Name: "open", Group: GroupSharing, Apply: Restart,
		Help:  "open the first URL in the default browser at start (a failure is only a warning)",
		def:   false,
		field: func(c *Config) any { return &c.Open }},
}

// LogFormats are the named access log formats log_format accepts (it
// takes a template too).
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

// checkAddr accepts HOST:PORT or unix:/PATH (an absolute path: a relative
// one would depend on the folder weft starts in), not with port.
func checkAddr(c *Config) error {
	p, ok := UnixPath(c.Addr)
	if !ok {
		return checkHostPort(c.Addr)
	}
	if !filepath.IsAbs(p) {
		return fmt.Errorf("invalid address %q: want unix:/ABSOLUTE/PATH", c.Addr)
	}
	if c.Set("port") {
		return fmt.Errorf("%q is a unix socket: it takes no port (%s)", c.Addr, c.Source("port"))
	}
	return nil
}

// checkOwner accepts "", USER or USER:GROUP, without checking that they
// exist (which happens at start, on the machine that serves).
func checkOwner(s string) error {
	if s == "" {
		return nil
	}
	u, g, _ := strings.Cut(s, ":")
	if u == "" || strings.Contains(g, ":") || strings.ContainsAny(s, " \t/") {
		return fmt.Errorf("invalid owner %q: want USER or USER:GROUP", s)
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

// TLS reports whether c serves HTTPS.
func (c *Config) TLS() bool {
	return len(c.TLSCert) > 0 || c.TLSSelfSigned || len(c.ACMEDomain) > 0
}

// checkDomain checks a name to obtain a certificate for: DNS labels, no
// wildcard (HTTP-01 and TLS-ALPN-01 cannot prove one), no IP address.
func checkDomain(d string) error {
	if net.ParseIP(d) != nil {
		return fmt.Errorf("%q is an IP address: ACME certificates are for domain names", d)
	}
	if strings.HasPrefix(d, "*.") {
		return fmt.Errorf("%q: a wildcard needs the DNS-01 challenge, which weft does not do; name each host", d)
	}
	labels := strings.Split(d, ".")
	if len(d) > 253 || len(labels) < 2 {
		return fmt.Errorf("%q is not a fully qualified domain name", d)
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("%q is not a valid domain name", d)
		}
		for _, ch := range l {
			if !('a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || ch == '-') {
				return fmt.Errorf("%q is not a valid domain name (IDNs go in their xn-- form)", d)
			}
		}
	}
	return nil
}

// AccessLogFormat is the access log's format: log_format, parsed (a
// template compiled), in the zone of log_time.
func (c *Config) AccessLogFormat() (accesslog.Format, error) {
	f, err := accesslog.ParseFormat(c.LogFormat)
	if err != nil {
		// The key names what it checks: no "weft: log format:" again.
		msg := strings.TrimPrefix(strings.TrimPrefix(err.Error(), "weft: "), "log format: ")
		return f, errors.New(msg)
	}
	if c.LogTime == "utc" {
		f = f.UTC()
	}
	return f, nil
}
