package config

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/weft-server/weft/internal/site"
)

// Flags are the command-line flags of every key, plus --config, registered
// on a pflag.FlagSet (GNU style: --port 9000, --port=9000, -p 9000, -p9000).
// After the set is parsed, Load applies the flags that were given over the
// other sources. Flags are read-only once parsed, so one value serves every
// reload.
type Flags struct {
	fs     *pflag.FlagSet
	vals   Config // what the flags hold; the defaults for those not given
	config string
	root   *string // serve's DIR argument, when given
}

// GroupAnnotation is the pflag annotation that holds a flag's topic (one
// of Groups), for --help and the man page to list flags by topic.
const GroupAnnotation = "weft_group"

// PathAnnotation marks the flags whose value is a file (Key.Path, and
// --config), for shell completion.
const PathAnnotation = "weft_path"

// NewFlags registers a flag for each key (but root, serve's argument)
// and --config on fs. Each flag's usage names the key and its variable,
// and its GroupAnnotation the key's Group.
func NewFlags(fs *pflag.FlagSet) *Flags {
	f := &Flags{fs: fs, vals: *Defaults()}
	fs.StringVar(&f.config, "config", "", "read the configuration `file` (default ./"+DefaultFile+" when present; '' for none; env "+envConfig+")")
	annotate(fs, "config", GroupOperations, true)
	for i := range Keys {
		k := &Keys[i]
		if k.NoFlag {
			continue
		}
		usage := k.Help + " (file: " + k.Name + ", env: " + k.Env() + ")"
		name, short := k.Flag(), k.Short
		switch p := k.field(&f.vals).(type) {
		case *string:
			fs.StringVarP(p, name, short, *p, usage)
		case *int:
			fs.IntVarP(p, name, short, *p, usage)
		case *int64:
			fs.Int64VarP(p, name, short, *p, usage)
		case *bool:
			fs.BoolVarP(p, name, short, *p, usage)
		case *time.Duration:
			fs.DurationVarP(p, name, short, *p, usage)
		case *[]string:
			fs.VarP(&listFlag[string]{p: p, parse: func(v string) ([]string, error) { return []string{v}, nil }}, name, short, usage)
		case *[]site.CacheRule:
			fs.VarP(&listFlag[site.CacheRule]{p: p, parse: one(ParseCacheRule)}, name, short, usage)
		case *map[string]string:
			fs.VarP(&mimeFlag{p: p}, name, short, usage)
		case *[]site.HeaderRule:
			fs.VarP(&listFlag[site.HeaderRule]{p: p, parse: one(ParseHeaderRule)}, name, short, usage)
		case *[]site.Redirect:
			fs.VarP(&listFlag[site.Redirect]{p: p, parse: one(ParseRedirect)}, name, short, usage)
		case *[]netip.Prefix:
			fs.VarP(&listFlag[netip.Prefix]{p: p, parse: parsePrefixes}, name, short, usage)
		case **site.CORS:
			fs.VarP(&corsFlag{p: p}, name, short, usage)
		case *map[int]string:
			fs.VarP(&errorPagesFlag{p: p}, name, short, usage)
		default:
			panic("config: no flag for key " + k.Name)
		}
		annotate(fs, name, k.Group, k.Path)
	}
	return f
}

func annotate(fs *pflag.FlagSet, name, group string, path bool) {
	fs.SetAnnotation(name, GroupAnnotation, []string{group})
	if path {
		fs.SetAnnotation(name, PathAnnotation, []string{"true"})
	}
}

// ParseFlags parses args, serve's flags without DIR or --config, into
// Flags of their own, as weft pack packs them (see Options.Packed). Its
// error is one line.
func ParseFlags(args []string) (*Flags, error) {
	fs := pflag.NewFlagSet("weft", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	f := NewFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q: only flags", fs.Arg(0))
	}
	if _, ok := f.configFile(); ok {
		return nil, errors.New("--config cannot be packed: give the file's settings as flags, or the file at run time")
	}
	return f, nil
}

// SetRoot sets root from serve's DIR argument.
func (f *Flags) SetRoot(dir string) { f.root = &dir }

// configFile returns --config, if given.
func (f *Flags) configFile() (string, bool) {
	if f == nil {
		return "", false
	}
	return f.config, f.fs.Changed("config")
}

// apply sets c's keys from the flags that were given, as from the source
// kind (FromFlag, FromPack).
func (f *Flags) apply(c *Config, kind SourceKind) {
	if f == nil {
		return
	}
	f.fs.Visit(func(fl *pflag.Flag) {
		for i := range Keys {
			k := &Keys[i]
			if k.NoFlag || fl.Name != k.Flag() {
				continue
			}
			set(k.field(c), clone(k.field(&f.vals)))
			c.sources[k.Name] = Source{Kind: kind, Name: k.Flag()}
		}
	})
	if f.root != nil {
		c.Root = *f.root
		c.sources["root"] = Source{Kind: FromArg}
	}
}

// listFlag is a repeatable flag of list items (cache_control's
// GLOB=VALUE, a header rule, a redirect, CIDRs separated by commas): the
// first one given replaces the default list, the next ones add to it.
type listFlag[T any] struct {
	p     *[]T
	parse func(string) ([]T, error)
	set   bool
}

func (l *listFlag[T]) String() string {
	if l == nil || l.p == nil || len(*l.p) == 0 {
		return ""
	}
	return format(*l.p)
}

// Type names the flag's value for pflag (and completion scripts).
func (l *listFlag[T]) Type() string { return "list" }

func (l *listFlag[T]) Set(v string) error {
	items, err := l.parse(v)
	if err != nil {
		return err
	}
	if !l.set {
		*l.p, l.set = nil, true
	}
	*l.p = append(*l.p, items...)
	return nil
}

// one makes a parser of one item a parser of a list.
func one[T any](parse func(string) (T, error)) func(string) ([]T, error) {
	return func(s string) ([]T, error) {
		v, err := parse(s)
		return []T{v}, err
	}
}

// corsFlag is a repeatable --cors ORIGIN[,ORIGIN…]: a CORS policy for the
// origins given (the file's [cors] table says more).
type corsFlag struct {
	p   **site.CORS
	set bool
}

func (f *corsFlag) String() string {
	if f == nil || f.p == nil || *f.p == nil {
		return ""
	}
	return strings.Join((*f.p).Origins, ",")
}

func (f *corsFlag) Type() string { return "origins" }

func (f *corsFlag) Set(v string) error {
	origins := splitList(v)
	if len(origins) == 0 {
		return errors.New("want ORIGIN[,ORIGIN…], e.g. https://app.example.com, or *")
	}
	if !f.set {
		*f.p, f.set = &site.CORS{}, true
	}
	(*f.p).Origins = append((*f.p).Origins, origins...)
	return nil
}

// errorPagesFlag is a repeatable STATUS=FILE flag; a later one for the
// same status wins.
type errorPagesFlag struct {
	p   *map[int]string
	set bool
}

func (f *errorPagesFlag) String() string {
	if f == nil || f.p == nil || len(*f.p) == 0 {
		return ""
	}
	return strings.Trim(format(*f.p), "{} ")
}

func (f *errorPagesFlag) Type() string { return "status=file" }

func (f *errorPagesFlag) Set(v string) error {
	if !f.set {
		*f.p, f.set = map[int]string{}, true
	}
	return addErrorPage(*f.p, v)
}

// mimeFlag is a repeatable EXT=TYPE flag, checked as it is parsed; a later
// one for the same extension wins.
type mimeFlag struct {
	p   *map[string]string
	set bool
}

func (m *mimeFlag) String() string {
	if m == nil || m.p == nil {
		return ""
	}
	return strings.Trim(format(*m.p), "{} ")
}

func (m *mimeFlag) Type() string { return "ext=type" }

func (m *mimeFlag) Set(v string) error {
	if !m.set {
		*m.p, m.set = map[string]string{}, true
	}
	return AddMIME(*m.p, v)
}
