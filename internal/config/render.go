package config

import (
	"fmt"
	"reflect"
	"strings"
)

// Example is a configuration file that sets every key to its default,
// each with its help, variable, flag and when a change takes effect (the
// output of `weft config example`). Keys whose default means "not set"
// are shown commented out; tables of rules have a commented example. It
// ends with a commented [[site]] table, a virtual host.
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
#
# Tables ([cors], [[headers]], …) must follow every plain key in a TOML
# file: the examples below show them commented out; write yours at the end,
# or set the key inline (headers = [{ for = "/x", set = { X-A = "1" } }]).
`)
	for i := range Keys {
		k := &Keys[i]
		fmt.Fprintf(&b, "\n# %s\n# Env %s, %s; a change takes effect on %s.\n", sentence(strings.ReplaceAll(k.Help, "`", "")), k.Env(), flagDoc(k), k.Apply)
		if k.example != "" {
			if strings.Contains(k.example, "\n") {
				b.WriteString("# e.g.\n")
				for _, line := range strings.Split(k.example, "\n") {
					b.WriteString(strings.TrimRight("# "+line, " ") + "\n")
				}
			} else {
				fmt.Fprintf(&b, "# e.g. %s = %s\n", k.Name, k.example)
			}
		}
		switch {
		case k.Unset != "":
			fmt.Fprintf(&b, "# %s = (%s)\n", k.Name, k.Unset)
		default:
			fmt.Fprintf(&b, "%s = %s\n", k.Name, k.Default())
		}
	}
	b.WriteString(siteExample())
	return b.String()
}

// siteExample documents [[site]] in the example file.
func siteExample() string {
	var names []string
	for _, k := range SiteKeys() {
		names = append(names, k.Name)
	}
	return "\n" + comment(`Virtual hosts. Each [[site]] table serves the requests whose Host it names
(exact names, or "*.example.org" for any name below example.org; case, the
port and a final dot do not matter), with its own root and rules. A site
inherits every key above but those it sets, which may be `+strings.Join(names, ", ")+`.
The one site with default = true answers other hosts (and HTTP/1.0 requests
without one); without it they get unknown_host. With [[site]] tables, the
top-level root is not served itself.`) + `# e.g.
# [[site]]
# hosts = ["example.com", "www.example.com"]
# root = "/srv/example.com"
# spa = "index.html"
#
# [[site.headers]]
# for = "/assets/**"
# set = { "Cache-Control" = "public, max-age=31536000, immutable" }
#
# [[site]]
# hosts = ["*.example.org"]
# default = true
# root = "/srv/example.org"
# basic_auth = "example.org.htpasswd"
`
}

// comment wraps text into comment lines of at most 78 bytes.
func comment(text string) string {
	var b strings.Builder
	line := "#"
	for _, w := range strings.Fields(text) {
		if len(line)+1+len(w) > 78 && line != "#" {
			b.WriteString(line + "\n")
			line = "#"
		}
		line += " " + w
	}
	return b.String() + line + "\n"
}

func flagDoc(k *Key) string {
	if k.NoFlag {
		return k.FlagDoc
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
// check`), then its virtual hosts as [[site]] tables with the keys each
// sets.
func (c *Config) Effective() string {
	var b strings.Builder
	if c.File != "" {
		fmt.Fprintf(&b, "# configuration file: %s\n", c.File)
	} else {
		b.WriteString("# configuration file: none\n")
	}
	var keys []*Key
	for i := range Keys {
		keys = append(keys, &Keys[i])
	}
	writeKeys(&b, c, keys)
	for _, name := range c.Ignored {
		fmt.Fprintf(&b, "# ignored: %s names no key\n", name)
	}
	for i := range c.Sites {
		h := &c.Sites[i]
		fmt.Fprintf(&b, "\n[[site]]  # %s\n", Source{Kind: FromFile, Name: c.File, Line: h.Line})
		fmt.Fprintf(&b, "hosts = %s\n", format(h.Hosts))
		if h.Default {
			b.WriteString("default = true\n")
		}
		b.WriteString("# every key not set below: the top level's\n")
		var set []*Key
		for _, k := range SiteKeys() {
			if h.Sets(k.Name) {
				set = append(set, k)
			}
		}
		writeKeys(&b, h.keys, set)
	}
	return b.String()
}

// writeKeys writes "key = value  # source" for each of keys in c.
func writeKeys(b *strings.Builder, c *Config, keys []*Key) {
	width := 0
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = keyValue(c, k)
		first, _, _ := strings.Cut(lines[i], "\n")
		if len(first) <= 48 {
			width = max(width, len(first)) // longer lines stand out
		}
	}
	for i, k := range keys {
		first, rest, multi := strings.Cut(lines[i], "\n")
		fmt.Fprintf(b, "%-*s  # %s\n", width, first, c.sources[k.Name])
		if multi {
			b.WriteString(rest + "\n")
		}
	}
}

// keyValue is "key = value" for c's value of k: a list of tables with one
// table a line, a key whose value is "not set" commented out.
func keyValue(c *Config, k *Key) string {
	v := reflect.ValueOf(k.field(c)).Elem()
	switch {
	case k.Unset != "" && (!c.Set(k.Name) || v.Kind() == reflect.Pointer && v.IsNil()):
		return "# " + k.Name + " (" + k.Unset + ")"
	case v.Kind() == reflect.Slice && v.Len() > 0 && v.Type().Elem().Kind() == reflect.Struct && k.Type() == "array of tables":
		var b strings.Builder
		b.WriteString(k.Name + " = [")
		for i := range v.Len() {
			b.WriteString("\n  " + inline(v.Index(i)) + ",")
		}
		b.WriteString("\n]")
		return b.String()
	}
	return k.Name + " = " + format(clone(k.field(c)))
}

// formatSites renders the virtual hosts, for Changed.
func (c *Config) formatSites() string {
	var b strings.Builder
	for i := range c.Sites {
		h := &c.Sites[i]
		fmt.Fprintf(&b, "%s %v|", format(h.Hosts), h.Default)
		for _, k := range SiteKeys() {
			if h.Sets(k.Name) {
				b.WriteString(k.Name + "=" + format(clone(k.field(h.keys))) + "|")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Table is the Markdown table of every key (the README's).
func Table() string {
	var b strings.Builder
	b.WriteString("| key | type | default | environment | flag | a change takes effect on | [[site]] | what it does |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
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
			fl = strings.ReplaceAll(k.FlagDoc, "serve's DIR argument", "`DIR` argument")
		case k.Short != "":
			fl += ", `-" + k.Short + "`"
		}
		perSite := ""
		if k.PerSite {
			perSite = "yes"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | `%s` | %s | %s | %s | %s |\n", k.Name, k.Type(), def, k.Env(), fl, k.Apply, perSite, strings.ReplaceAll(k.Help, "|", "\\|"))
	}
	return b.String()
}
