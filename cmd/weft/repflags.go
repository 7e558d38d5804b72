package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/bmatcuk/doublestar/v4"

	"github.com/weft-server/weft/internal/codec"
	"github.com/weft-server/weft/internal/site"
)

// repFlags are serve's flags for representations: compression, sidecars,
// validators and Cache-Control.
type repFlags struct {
	compress      *bool
	types         *string
	minBytes      *int64
	maxBytes      *int64
	precompressed *bool
	etag          *string
	cacheControl  cacheRules
	noCache       *bool
}

func addRepFlags(fs *flag.FlagSet) *repFlags {
	r := &repFlags{
		compress:      fs.Bool("compress", true, "compress compressible files on the fly (once per file version, cached)"),
		types:         fs.String("compress-types", codec.DefaultTypes, "media types compressed on the fly, comma-separated (`LIST` of type/subtype, type/*, type/*+suffix)"),
		minBytes:      fs.Int64("compress-min-bytes", 1<<10, "smallest file compressed on the fly"),
		maxBytes:      fs.Int64("compress-max-bytes", 4<<20, "largest file compressed on the fly"),
		precompressed: fs.Bool("precompressed", true, "serve precompressed sidecars (app.js.br, .zst, .gz beside app.js) to clients that accept them"),
		etag:          fs.String("etag", site.ETagMtime, "entity-tags from `KIND`: mtime (modification time and size) or content (a hash of the bytes, the same on every machine)"),
		noCache:       fs.Bool("no-cache-control", false, "send no Cache-Control header"),
	}
	fs.Var(&r.cacheControl, "cache-control", "Cache-Control for files matching `GLOB=VALUE` (repeatable, first match wins; e.g. '/assets/**=public, max-age=86400')")
	return r
}

// apply sets cfg from the flags, or explains what is wrong with them.
func (r *repFlags) apply(cfg *site.Config) error {
	types, err := codec.ParseTypes(*r.types)
	if err != nil {
		return fmt.Errorf("--compress-types: %v", strings.TrimPrefix(err.Error(), "codec: "))
	}
	if *r.minBytes < 0 || *r.maxBytes <= 0 || *r.minBytes > *r.maxBytes {
		return fmt.Errorf("--compress-min-bytes (%d) must be from 0 to --compress-max-bytes (%d), which must be positive", *r.minBytes, *r.maxBytes)
	}
	if *r.etag != site.ETagMtime && *r.etag != site.ETagContent {
		return fmt.Errorf("--etag %q: want %s or %s", *r.etag, site.ETagMtime, site.ETagContent)
	}
	if *r.noCache && len(r.cacheControl) > 0 {
		return fmt.Errorf("--no-cache-control and --cache-control contradict each other")
	}
	cfg.Compress = site.CompressConfig{
		Off:             !*r.compress,
		Types:           &types,
		MinBytes:        max(*r.minBytes, 1),
		MaxBytes:        *r.maxBytes,
		NoPrecompressed: !*r.precompressed,
	}
	cfg.ETag = *r.etag
	cfg.CacheControl = r.cacheControl
	cfg.NoCacheControl = *r.noCache
	return nil
}

// cacheRules is the repeatable --cache-control flag.
type cacheRules []site.CacheRule

func (c *cacheRules) String() string { return "" }

func (c *cacheRules) Set(v string) error {
	glob, value, ok := strings.Cut(v, "=")
	glob, value = strings.TrimSpace(glob), strings.TrimSpace(value)
	switch {
	case !ok || glob == "" || value == "":
		return fmt.Errorf("want GLOB=VALUE, e.g. '*.woff2=public, max-age=31536000'")
	case !doublestar.ValidatePattern(glob):
		return fmt.Errorf("bad pattern %q", glob)
	case strings.ContainsAny(value, "\r\n\x00"):
		return fmt.Errorf("value %q has a line break or NUL", value)
	}
	*c = append(*c, site.CacheRule{Glob: glob, Value: value})
	return nil
}
