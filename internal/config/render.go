package config

import (
	"fmt"
	"strings"
)

// Example is a configuration file that sets every key to its default,
// each with its help, variable, flag and when a change takes effect (the
// output of `weft config example`). Keys whose default means "not set"
// are shown commented out.
func Example() string {
	var b strings.Builder
	b.WriteString(`# weft.toml: the configuration of ` + "`weft serve`" + `, every key at its default.
#
# Precedence: built-in defaults < this file < WEFT_* environment variables <
# flags. weft reads ./weft.toml when present, or the file named by --config
# or WEFT_CONFIG. Paths are relative to this file's directory. Durations are
# strings ("300ms", "30s", "1m30s"). An unknown key, a wrong type or a bad
# value stops weft with the file and line. SIGHUP (or ` + "`weft reload`" + `)
# re-reads this file; "reload" below says when a change takes effect.
`)
	for i := range Keys {
		k := &Keys[i]
		fmt.Fprintf(&b, "\n# %s\n# Env %s, %s; a change takes effect on %s.\n", sentence(strings.ReplaceAll(k.Help, "`", "")), k.Env(), flagDoc(k), k.Apply)
		switch {
		case k.Unset != "":
			fmt.Fprintf(&b, "# %s = (%s)\n", k.Name, k.Unset)
		case k.example != "":
			fmt.Fprintf(&b, "# e.g. %s = %s\n%s = %s\n", k.Name, k.example, k.Name, k.Default())
		default:
			fmt.Fprintf(&b, "%s = %s\n", k.Name, k.Default())
		}
	}
	return b.String()
}

func flagDoc(k *Key) string {
	if k.NoFlag {
		return "serve's DIR argument"
	}
	s := "flag --" + k.Flag()
	if k.Short != "" {
		s += " (-" + k.Short + ")"
	}
	return s
}

func sentence(s string) string {
	return strings.ToUpper(s[:1]) + s[1:] + "."
}

// Effective renders c as a configuration file that sets every key, each
// value followed by where it came from (the output of `weft config
// check`).
func (c *Config) Effective() string {
	var b strings.Builder
	if c.File != "" {
		fmt.Fprintf(&b, "# configuration file: %s\n", c.File)
	} else {
		b.WriteString("# configuration file: none\n")
	}
	width := 0
	lines := make([]string, len(Keys))
	for i := range Keys {
		k := &Keys[i]
		if k.Unset != "" && !c.Set(k.Name) {
			lines[i] = "# " + k.Name + " (" + k.Unset + ")"
		} else {
			lines[i] = k.Name + " = " + format(clone(k.field(c)))
		}
		if len(lines[i]) <= 48 {
			width = max(width, len(lines[i])) // longer lines stand out
		}
	}
	for i := range Keys {
		fmt.Fprintf(&b, "%-*s  # %s\n", width, lines[i], c.sources[Keys[i].Name])
	}
	for _, name := range c.Ignored {
		fmt.Fprintf(&b, "# ignored: %s names no key\n", name)
	}
	return b.String()
}

// Table is the Markdown table of every key (the README's).
func Table() string {
	var b strings.Builder
	b.WriteString("| key | type | default | environment | flag | a change takes effect on | what it does |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for i := range Keys {
		k := &Keys[i]
		def := "`" + k.Default() + "`"
		if k.Unset != "" {
			def = k.Unset
		} else if len(def) > 40 {
			def = "(long; see `weft config example`)"
		}
		fl := "`--" + k.Flag() + "`"
		switch {
		case k.NoFlag:
			fl = "`DIR` argument"
		case k.Short != "":
			fl += ", `-" + k.Short + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | `%s` | %s | %s | %s |\n", k.Name, k.Type(), def, k.Env(), fl, k.Apply, strings.ReplaceAll(k.Help, "|", "\\|"))
	}
	return b.String()
}
