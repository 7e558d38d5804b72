// Package config builds weft's configuration: one Config value from the
// built-in defaults, then the flags packed into the executable (weft
// pack), then a TOML file, then WEFT_* environment variables,
// then command-line flags, each overriding the one before. Every setting
// is a Key of the table Keys, which names it in all three sources and
// documents it. Checking is strict: an unknown key, a wrong type or an
// invalid value is an error that names where it came from (the file and
// line, the variable, or the flag), and the Config records the source of
// every value. The package reads the configuration file and nothing else.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/weft-server/weft/internal/codec"
	"github.com/weft-server/weft/internal/origin"
	"github.com/weft-server/weft/internal/site"
)

// Config is the configuration of `weft serve`, one field per key of Keys.
// A Config from Load is valid; treat it as immutable.
type Config struct {
	Root         string
	Addr         string
	Port         int
	Engine       string
	Workers      int
	WorkerEngine string

	Dotfiles bool

	Upload               bool
	UploadDir            string
	UploadOverwrite      bool
	UploadMaxBytes       int64
	UploadAllowAnonymous bool

	Listing bool
	Index   string

	NoDownloads      bool
	DownloadMaxBytes int64

	MIME map[string]string

	LogFormat   string
	LogTime     string
	AccessLog   string
	NoAccessLog bool

	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	WriteTimeout      time.Duration
	ShutdownTimeout   time.Duration
	MaxConns          int
	MaxHeaderBytes    int
	MaxHeaderFields   int
	MaxBodyBytes      int64

	CacheMaxBytes int64
	CacheMaxFile  int64
	CacheMaxOpen  int
	CacheNoWatch  bool

	S3Endpoint          string
	S3Region            string
	S3PathStyle         bool
	S3CredentialsFile   string
	S3Profile           string
	OriginCacheDir      string
	OriginCacheMaxBytes int64
	OriginPoll          time.Duration
	OriginStaleMax      time.Duration
	OriginTimeout       time.Duration

	Compress         bool
	CompressTypes    string
	CompressMinBytes int64
	CompressMaxBytes int64
	Precompressed    bool
	ETag             string
	CacheControl     []site.CacheRule
	NoCacheControl   bool

	Headers            []site.HeaderRule
	Security           bool
	HSTS               string
	CORS               *site.CORS
	Redirects          []site.Redirect
	CleanURLs          bool
	TrailingSlash      string
	ErrorPages         map[int]string
	SPA                string
	BasicAuth          string
	Auth               []site.AuthRule
	AuthFailures       int
	AllowInsecureAuth  bool
	Symlinks           string
	TrustedProxies     []netip.Prefix
	TrustedProxyHeader string
	UnknownHost        int

	Pprof   string
	Admin   string
	PidFile string

	UnixMode  string
	UnixOwner string
	User      string
	AllowRoot bool

	TLSCert                  []string
	TLSKey                   []string
	TLSAllowInsecureKeyPerms bool
	TLSSelfSigned            bool
	ACMEDomain               []string
	ACMEEmail                string
	ACMECA                   string
	ACMEStaging              bool
	H2C                      bool
	HTTP3                    bool
	RedirectHTTP             string

	QR   bool
	Open bool

	// Sites are the file's [[site]] tables, the virtual hosts: when there
	// are any, they are served instead of the top-level site (see Hosts).
	Sites []Host

	// File is the configuration file that was read, "" for none.
	File string
	// Ignored lists the WEFT_* environment variables that name no key and
	// were ignored (see Options.Env).
	Ignored []string

	sources map[string]Source
	lines   map[string]int // of every key and table in the file (see keyLines)
	data    []byte         // the file's contents, as read
}

// Snapshot is a configuration file as it was read: its name ("" for no
// file) and its contents. Loading from a Snapshot (Options.Snapshot)
// gives the configuration again, whatever the file holds now.
type Snapshot struct {
	File string
	Data []byte
}

// Snapshot returns the file c was built from, as it was read.
func (c *Config) Snapshot() Snapshot { return Snapshot{File: c.File, Data: c.data} }

// Defaults returns the configuration with every key at its default.
func Defaults() *Config {
	c := &Config{sources: map[string]Source{}}
	for i := range Keys {
		k := &Keys[i]
		f := k.field(c)
		set(f, k.def)
		set(f, clone(f))
	}
	return c
}

// Source says where a value came from.
type Source struct {
	Kind SourceKind
	Name string // the file, the environment variable or the flag
	Line int    // in the file
}

// SourceKind is the kind of a Source, lowest precedence first.
type SourceKind int

const (
	FromDefault SourceKind = iota
	FromPack               // a flag packed into the executable by weft pack
	FromFile
	FromEnv
	FromFlag
	FromArg // serve's DIR argument, for root
)

func (s Source) String() string {
	switch s.Kind {
	case FromFile:
		return s.Name + ":" + strconv.Itoa(s.Line)
	case FromEnv:
		return "env " + s.Name
	case FromFlag:
		return "flag --" + s.Name
	case FromArg:
		return "argument DIR"
	case FromPack:
		return "packed flag --" + s.Name
	}
	return "default"
}

// Source returns where the value of the key name came from.
func (c *Config) Source(name string) Source { return c.sources[name] }

// Set reports whether the key name was given by a source, not defaulted.
func (c *Config) Set(name string) bool { return c.sources[name].Kind != FromDefault }

// Listen is the address to listen on: addr, with its port replaced by
// port when port is set.
func (c *Config) Listen() string {
	if _, ok := UnixPath(c.Addr); ok || !c.Set("port") {
		return c.Addr
	}
	host, _, _ := net.SplitHostPort(c.Addr)
	return net.JoinHostPort(host, strconv.Itoa(c.Port))
}

// UnixPath returns the socket file of a unix socket address
// ("unix:/run/weft.sock"), or false for another address.
func UnixPath(addr string) (string, bool) {
	p, ok := strings.CutPrefix(addr, "unix:")
	return p, ok
}

// UnixModeBits is unix_mode as a file mode (valid, as Load returns it).
func (c *Config) UnixModeBits() os.FileMode {
	m, _ := strconv.ParseUint(c.UnixMode, 8, 32)
	return os.FileMode(m)
}

// Site is the site configuration.
func (c *Config) Site() site.Config {
	types, _ := codec.ParseTypes(c.CompressTypes) // checked by Load
	sc := site.Config{
		Root:     c.Root,
		Index:    c.Index,
		Dotfiles: c.Dotfiles,
		Listing:  c.Listing,

		NoDownloads:      c.NoDownloads,
		DownloadMaxBytes: c.DownloadMaxBytes,
		MIME:             clone(&c.MIME).(map[string]string),
		Cache:            site.CacheConfig{MaxBytes: c.CacheMaxBytes, MaxFile: c.CacheMaxFile, MaxOpen: c.CacheMaxOpen, NoWatch: c.CacheNoWatch},
		Compress: site.CompressConfig{
			Off:             !c.Compress,
			Types:           &types,
			MinBytes:        max(c.CompressMinBytes, 1),
			MaxBytes:        c.CompressMaxBytes,
			NoPrecompressed: !c.Precompressed,
		},
		ETag:           c.ETag,
		CacheControl:   clone(&c.CacheControl).([]site.CacheRule),
		NoCacheControl: c.NoCacheControl,

		Headers:            clone(&c.Headers).([]site.HeaderRule),
		Security:           c.Security,
		HSTS:               c.HSTS,
		CORS:               clone(&c.CORS).(*site.CORS),
		Redirects:          clone(&c.Redirects).([]site.Redirect),
		CleanURLs:          c.CleanURLs,
		TrailingSlash:      c.TrailingSlash,
		ErrorPages:         clone(&c.ErrorPages).(map[int]string),
		SPA:                c.SPA,
		Auth:               c.authRules(),
		AuthFailures:       c.AuthFailures,
		AllowInsecureAuth:  c.AllowInsecureAuth,
		Symlinks:           c.Symlinks,
		TrustedProxies:     clone(&c.TrustedProxies).([]netip.Prefix),
		TrustedProxyHeader: c.TrustedProxyHeader,
		Upload: site.UploadConfig{
			On: c.Upload, Dir: c.UploadDir, Overwrite: c.UploadOverwrite,
			MaxBytes: c.UploadMaxBytes, AllowAnonymous: c.UploadAllowAnonymous,
		},
		Origin: origin.Config{
			Endpoint: c.S3Endpoint, Region: c.S3Region, PathStyle: c.S3PathStyle,
			CredentialsFile: c.S3CredentialsFile, Profile: c.S3Profile,
			CacheDir: c.OriginCacheDir, CacheMaxBytes: c.OriginCacheMaxBytes,
			Poll: c.OriginPoll, StaleMax: c.OriginStaleMax, Timeout: c.OriginTimeout,
		},
	}
	if c.AuthFailures == 0 {
		sc.AuthFailures = -1 // no limit
	}
	if c.CacheMaxBytes == 0 {
		sc.Cache.MaxBytes = -1 // off
	}
	return sc
}

// Changed lists the keys whose values differ between a and b, and
// "site" when their virtual hosts differ.
func Changed(a, b *Config) []string {
	var names []string
	for i := range Keys {
		k := &Keys[i]
		if format(clone(k.field(a))) != format(clone(k.field(b))) {
			names = append(names, k.Name)
		}
	}
	if a.formatSites() != b.formatSites() {
		names = append(names, "site")
	}
	return names
}

// Options are the inputs of Load besides the defaults.
type Options struct {
	// Env is the environment, as os.Environ returns it: WEFT_CONFIG names
	// the file, WEFT_<KEY> sets a key. An unknown WEFT_* name close to a
	// known one (a typo) is an error; any other is ignored and listed in
	// Config.Ignored, since the prefix is shared with weft's own
	// internal and test variables.
	Env []string
	// Flags are the parsed command-line flags (nil for none): they set
	// keys, and --config names the file.
	Flags *Flags
	// Packed are the flags weft pack packed into the executable (nil for
	// none; see ParseFlags): they set keys over the defaults, under the
	// file, the environment and the flags given at run time.
	Packed *Flags
	// Engines, when not nil, are the names engine and worker_engine may
	// take; another is an error that wraps ErrUnavailable.
	Engines []string
	// Dir is where weft.toml is looked for when no file is named ("" for
	// the working directory).
	Dir string
	// File, when not "", is the file to read, named: it overrides
	// --config, WEFT_CONFIG and weft.toml, and a missing file is an
	// error. See Pin.
	File string
	// Snapshot, when not nil, is read instead of any file: a file read
	// before (Config.Snapshot), which the prefork supervisor hands its
	// workers so that they serve what it checked.
	Snapshot *Snapshot
}

// Pin returns o with the file c was loaded from named, so that loading
// again (a reload) reads that file or fails: a weft.toml found in the
// working directory and gone since is an error, not "no file", which
// would silently serve the defaults. Options for a configuration read
// without a file are returned as they are.
func (o Options) Pin(c *Config) Options {
	if c.File != "" {
		o.File = c.File
	}
	return o
}

// DefaultFile is read, when present in the working directory, if no file
// is named with --config or WEFT_CONFIG.
const DefaultFile = "weft.toml"

// ErrUnavailable marks errors about a well-formed value that this build
// or system cannot honour (an engine it does not have).
var ErrUnavailable = errors.New("weft: not available here")

// Error is one problem with the configuration.
type Error struct {
	Source Source
	Key    string // "" when the problem is not one key's (a syntax error)
	Msg    string

	unavailable bool
}

func (e *Error) Error() string {
	var where string
	switch e.Source.Kind {
	case FromFile:
		where = e.Source.String()
		if e.Key != "" {
			where += ": " + e.Key
		}
	case FromDefault:
		where = e.Key
	default:
		where = e.Source.String()
	}
	return where + ": " + e.Msg
}

// Is makes errors.Is(err, ErrUnavailable) true for an unknown engine.
func (e *Error) Is(target error) bool { return target == ErrUnavailable && e.unavailable }

// Load builds the configuration from the defaults, the file, the
// environment and the flags, and checks it. Its error joins every
// *Error found (errors.Join: one per line).
func Load(o Options) (*Config, error) {
	env := envMap(o.Env)
	if o.Snapshot != nil {
		return build(o.Snapshot.File, o.Snapshot.Data, env, o)
	}
	name, named := o.File, o.File != ""
	if !named {
		name, named = o.Flags.configFile()
	}
	if !named {
		name, named = env[envConfig]
	}
	if !named {
		name = filepath.Join(o.Dir, DefaultFile)
	}
	data, err := os.ReadFile(name)
	switch {
	case err == nil:
	case !named && errors.Is(err, fs.ErrNotExist), name == "" && named: // --config '' reads no file
		name = ""
	default:
		return nil, fmt.Errorf("weft: configuration file: %w", err)
	}
	return build(name, data, env, o)
}

// build is Load once the file (name, "" for none) has been read.
func build(name string, data []byte, env map[string]string, o Options) (*Config, error) {
	c := Defaults()
	o.Packed.apply(c, FromPack)
	if name != "" {
		if errs := c.loadFile(name, data); len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
		c.data = data
	}
	errs := c.loadEnv(env)
	o.Flags.apply(c, FromFlag)
	errs = append(errs, c.validate(o.Engines)...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// validate runs every key's check, checks the engine names and the
// virtual hosts, and refuses authentication over plain HTTP beyond
// loopback.
func (c *Config) validate(engines []string) []error {
	var errs []error
	for i := range Keys {
		k := &Keys[i]
		if k.check == nil {
			continue
		}
		if err := k.check(c); err != nil {
			errs = append(errs, c.keyError(c.sources[k.Name], "", k.Name, err))
		}
	}
	if engines != nil {
		for _, name := range []string{"engine", "worker_engine"} {
			v := *Lookup(name).field(c).(*string)
			if !slices.Contains(engines, v) {
				errs = append(errs, &Error{Source: c.sources[name], Key: name, unavailable: true,
					Msg: fmt.Sprintf("unknown engine %q (have %s)", v, strings.Join(engines, ", "))})
			}
		}
	}
	errs = append(errs, c.checkSites()...)
	if len(c.Sites) == 0 {
		if err := c.checkListen(); err != nil {
			errs = append(errs, c.keyError(c.sources[c.authKey()], "", c.authKey(), err))
		}
	}
	return errs
}

// keyError is the *Error for err, the check of the key name (under
// prefix: "site[1].") whose value came from src. An error about a part
// of the value names that part, and in the file its line.
func (c *Config) keyError(src Source, prefix, name string, err error) error {
	key, msg := prefix+name, err.Error()
	if pe, ok := err.(*partError); ok {
		key = prefix + pe.path
		if src.Kind == FromFile && c.lines[key] > 0 {
			src.Line = c.lines[key]
		} else if src.Kind != FromFile {
			msg = pe.path + ": " + msg
		}
	}
	return &Error{Source: src, Key: key, Msg: msg}
}
