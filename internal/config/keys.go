package config

import (
	"fmt"
	"net"
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

	// NoFlag keys are not flags: root is serve's DIR argument.
	NoFlag bool
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
func (k *Key) Flag() string { return strings.ReplaceAll(k.Name, "_", "-") }

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
	{Name: "root", NoFlag: true, Path: true, Apply: Live,
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
	{Name: "dotfiles", Apply: Live,
		Help:  "serve files and folders whose names begin with a dot",
		def:   false,
		field: func(c *Config) any { return &c.Dotfiles }},
	{Name: "listing", Apply: Live,
		Help:  "list the contents of folders that have no index file",
		def:   false,
		field: func(c *Config) any { return &c.Listing }},
	{Name: "index", Apply: Live,
		Help:  "`file` served for a folder",
		def:   "index.html",
		field: func(c *Config) any { return &c.Index }},
	{Name: "mime", Apply: Live,
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
	{Name: "compress", Apply: Live,
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
	{Name: "precompressed", Apply: Live,
		Help:  "serve precompressed sidecars (app.js.br, .zst, .gz beside app.js) to clients that accept them",
		def:   true,
		field: func(c *Config) any { return &c.Precompressed }},
	{Name: "etag", Apply: Live,
		Help:  "entity-tags from `KIND`: mtime (modification time and size) or content (a hash of the bytes, the same on every machine)",
		def:   site.ETagMtime,
		field: func(c *Config) any { return &c.ETag },
		check: func(c *Config) error { return oneOf("etag", c.ETag, site.ETagMtime, site.ETagContent) }},
	{Name: "cache_control", Apply: Live,
		Help:    "Cache-Control for files matching `GLOB=VALUE`, first match wins, e.g. \"/assets/**=public, max-age=86400\" (a list of strings in the file; a repeatable flag; one rule or a TOML array in the environment)",
		def:     []site.CacheRule{},
		example: `["/assets/**=public, max-age=31536000, immutable", "*.txt=max-age=60"]`,
		field:   func(c *Config) any { return &c.CacheControl }},
	{Name: "no_cache_control", Apply: Live,
		Help:  "send no Cache-Control header",
		def:   false,
		field: func(c *Config) any { return &c.NoCacheControl },
		check: func(c *Config) error {
			if c.NoCacheControl && len(c.CacheControl) > 0 {
				return fmt.Errorf("contradicts cache_control (%s)", c.Source("cache_control"))
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
