package config

import (
	"flag"
	"strings"
	"time"

	"github.com/weft-server/weft/internal/site"
)

// Flags are the command-line flags of every key, plus --config, registered
// on a flag.FlagSet. After the set is parsed, Load applies the flags that
// were given over the other sources. Flags are read-only once parsed, so
// one value serves every reload.
type Flags struct {
	fs     *flag.FlagSet
	vals   Config // what the flags hold; the defaults for those not given
	config string
	root   *string // serve's DIR argument, when given
}

// NewFlags registers a flag for each key (but root, serve's argument)
// and --config on fs. Each flag's usage names the key and its variable.
func NewFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{fs: fs, vals: *Defaults()}
	fs.StringVar(&f.config, "config", "", "read the configuration `file` (default ./"+DefaultFile+" when present; '' for none; env "+envConfig+")")
	for i := range Keys {
		k := &Keys[i]
		if k.NoFlag {
			continue
		}
		usage := k.Help + " (file: " + k.Name + ", env: " + k.Env() + ")"
		name := k.Flag()
		switch p := k.field(&f.vals).(type) {
		case *string:
			fs.StringVar(p, name, *p, usage)
		case *int:
			fs.IntVar(p, name, *p, usage)
			if k.Short != "" {
				fs.IntVar(p, k.Short, *p, "shorthand for --"+name)
			}
		case *int64:
			fs.Int64Var(p, name, *p, usage)
		case *bool:
			fs.BoolVar(p, name, *p, usage)
		case *time.Duration:
			fs.DurationVar(p, name, *p, usage)
		case *[]site.CacheRule:
			fs.Var(&rulesFlag{p: p}, name, usage)
		case *map[string]string:
			fs.Var(&mimeFlag{p: p}, name, usage)
		default:
			panic("config: no flag for key " + k.Name)
		}
	}
	return f
}

// SetRoot sets root from serve's DIR argument.
func (f *Flags) SetRoot(dir string) { f.root = &dir }

// configFile returns --config, if given.
func (f *Flags) configFile() (string, bool) {
	if f == nil {
		return "", false
	}
	given := false
	f.fs.Visit(func(fl *flag.Flag) { given = given || fl.Name == "config" })
	return f.config, given
}

// apply sets c's keys from the flags that were given.
func (f *Flags) apply(c *Config) {
	if f == nil {
		return
	}
	f.fs.Visit(func(fl *flag.Flag) {
		for i := range Keys {
			k := &Keys[i]
			if k.NoFlag || (fl.Name != k.Flag() && (k.Short == "" || fl.Name != k.Short)) {
				continue
			}
			set(k.field(c), clone(k.field(&f.vals)))
			c.sources[k.Name] = Source{Kind: FromFlag, Name: k.Flag()}
		}
	})
	if f.root != nil {
		c.Root = *f.root
		c.sources["root"] = Source{Kind: FromArg}
	}
}

// rulesFlag is a repeatable GLOB=VALUE flag: the first one given replaces
// the default list, the next ones add to it.
type rulesFlag struct {
	p   *[]site.CacheRule
	set bool
}

func (r *rulesFlag) String() string {
	if r == nil || r.p == nil {
		return ""
	}
	items := make([]string, len(*r.p))
	for i, rule := range *r.p {
		items[i] = rule.Glob + "=" + rule.Value
	}
	return strings.Join(items, " ")
}

func (r *rulesFlag) Set(v string) error {
	rule, err := ParseCacheRule(v)
	if err != nil {
		return err
	}
	if !r.set {
		*r.p, r.set = nil, true
	}
	*r.p = append(*r.p, rule)
	return nil
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

func (m *mimeFlag) Set(v string) error {
	if !m.set {
		*m.p, m.set = map[string]string{}, true
	}
	return AddMIME(*m.p, v)
}
