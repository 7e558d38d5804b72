package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cpuguy83/go-md2man/v2/md2man"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/weft-server/weft/internal/buildinfo"
)

const manLong = `Writes weft(1), the manual page of every command and of serve's flags by
topic, to standard output; with --dir, writes it as DIR/weft.1 together with a
page per command (weft-serve.1, weft-config-check.1, …), as git does.

  weft man > /usr/local/share/man/man1/weft.1      # then: man weft
  weft man --dir /usr/local/share/man/man1         # man weft, man weft-serve, …
  weft man | man -l -                              # read it without installing`

func newManCmd(root *cobra.Command, stdout io.Writer) *cobra.Command {
	var dir string
	c := &cobra.Command{
		Use:                   "man [--dir DIR]",
		DisableFlagsInUseLine: true,
		Short:                 "Write the manual page (roff)",
		Long:                  manLong,
		Args:                  noArgs,
		RunE: func(*cobra.Command, []string) error {
			if dir == "" {
				_, err := stdout.Write(manPage(root))
				return err
			}
			return writeManDir(root, dir)
		},
	}
	c.Flags().StringVar(&dir, "dir", "", "write weft.1 and a page per command into `DIR` instead")
	c.MarkFlagDirname("dir")
	return c
}

// writeManDir writes weft.1 and a page of every command into dir.
func writeManDir(root *cobra.Command, dir string) error {
	if err := os.WriteFile(filepath.Join(dir, "weft.1"), manPage(root), 0o644); err != nil {
		return err
	}
	for _, c := range manCommands(root) {
		name := strings.ReplaceAll(c.CommandPath(), " ", "-") + ".1"
		if err := os.WriteFile(filepath.Join(dir, name), commandPage(c), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// manCommands are the commands that have a page: the runnable ones, serve
// first, the others in cobra's order.
func manCommands(root *cobra.Command) []*cobra.Command {
	var cmds []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() {
				if sub.Runnable() {
					cmds = append(cmds, sub)
				}
				walk(sub)
			}
		}
	}
	walk(root)
	slices.SortStableFunc(cmds, func(a, b *cobra.Command) int { return cmp.Compare(rank(a), rank(b)) })
	return cmds
}

// manHeader is a page's title line, in md2man's form, dated by the
// build's commit when it recorded one.
func manHeader(title string) string {
	date, _, _ := strings.Cut(buildinfo.Read().Time, "T")
	return fmt.Sprintf("%% \"%s\" \"1\" \"%s\" \"weft %s\" \"weft manual\"\n", strings.ToUpper(title), date, firstLine(versionText()))
}

// commandPage renders the page of one command, weft-serve(1) and the like.
func commandPage(c *cobra.Command) []byte {
	name := strings.ReplaceAll(c.CommandPath(), " ", "-")
	var b strings.Builder
	b.WriteString(manHeader(name))
	fmt.Fprintf(&b, "# NAME\n%s \\- %s\n\n", name, mdText(strings.ToLower(c.Short[:1])+c.Short[1:]))
	fmt.Fprintf(&b, "# SYNOPSIS\n**%s**\n\n", mdText(c.UseLine()))
	long := c.Long
	if long == "" {
		long = c.Short + "."
	}
	fmt.Fprintf(&b, "# DESCRIPTION\n%s\n\n", mdLong(long))
	if groups := flagGroups(c); len(groups) > 0 {
		b.WriteString("# OPTIONS\n")
		for _, g := range groups {
			fmt.Fprintf(&b, "## %s\n", mdText(g.name))
			manFlags(&b, g.flags)
		}
	}
	if c.HasExample() {
		fmt.Fprintf(&b, "# EXAMPLES\n```\n%s\n```\n\n", mdCode(c.Example))
	}
	b.WriteString("# SEE ALSO\n**weft**(1)\n")
	return render(b.String())
}

// render turns a page's markdown into roff.
func render(md string) []byte { return asciiRoff(md2man.Render([]byte(md))) }

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimPrefix(line, "weft ")
}

// manPage renders weft(1): every command, and serve's flags by topic, from
// the same definitions as --help.
func manPage(root *cobra.Command) []byte {
	var b strings.Builder
	b.WriteString(manHeader("weft"))
	fmt.Fprintf(&b, "# NAME\nweft \\- %s\n\n", strings.ToLower(root.Short))
	b.WriteString("# SYNOPSIS\n**weft** [*flags*] [*DIR*]\n\n**weft** *COMMAND* [*flags*] [*arguments*]\n\n")
	fmt.Fprintf(&b, "# DESCRIPTION\n%s\n\n", mdLong(root.Long))

	b.WriteString("# COMMANDS\n")
	var serve *cobra.Command
	for _, sub := range manCommands(root) {
		if sub.Name() == "serve" {
			serve = sub
		}
		long := sub.Long
		if long == "" {
			long = sub.Short + "."
		}
		fmt.Fprintf(&b, "## %s\n%s\n\n", mdText(sub.UseLine()), mdLong(long))
		if sub.HasExample() {
			fmt.Fprintf(&b, "```\n%s\n```\n\n", mdCode(sub.Example))
		}
		// The flags of serve (shared by config check and reload) are
		// under OPTIONS; a command's own are here.
		if own := ownFlags(sub); own.HasFlags() {
			manFlags(&b, own)
		}
	}

	if serve != nil {
		b.WriteString("# OPTIONS\nThe flags of **weft serve**, also taken by **weft config check** and **weft reload**. " +
			"Each is also a key of the configuration file and an environment variable, " +
			"as its description says; **weft config example** prints a file with every key.\n\n")
		for _, g := range flagGroups(serve) {
			fmt.Fprintf(&b, "## %s\n", mdText(g.name))
			manFlags(&b, g.flags)
		}
	}
	b.WriteString(`# ENVIRONMENT
**WEFT_CONFIG**
: the configuration file, when no **--config** is given.

**WEFT_**_KEY_
: every key of the configuration file, its name in capitals (**WEFT_PORT=8081**); flags override it, and it overrides the file.

# FILES
*./weft.toml*
: the configuration file read when present in the working directory, unless **--config** or **WEFT_CONFIG** names another (**--config ''** reads none).

# EXIT STATUS
**0** done; **1** a failure (a missing folder, a busy port, an engine this system lacks); **2** a usage error or an invalid configuration, explained on standard error.

`)
	fmt.Fprintf(&b, "# EXAMPLES\n```\n%s\n```\n\n", mdCode(root.Example))
	b.WriteString("# SEE ALSO\n**weft help** *COMMAND*; with **weft man --dir**, a page per command: **weft-serve**(1), **weft-config-check**(1), **weft-reload**(1) and the others.\n")
	return render(b.String())
}

// asciiRoff spells the characters beyond ASCII in roff's \[uXXXX] form,
// which every groff reads whatever its input encoding (man runs preconv
// for that; groff alone does not).
func asciiRoff(roff []byte) []byte {
	var b strings.Builder
	for _, r := range string(roff) {
		if r < 0x80 {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, "\\[u%04X]", r)
		}
	}
	return []byte(b.String())
}

// rank puts serve before the other commands.
func rank(c *cobra.Command) int {
	if c.Name() == "serve" {
		return 0
	}
	return 1
}

// ownFlags are c's flags that are not serve's (those have a topic), nor
// --help.
func ownFlags(c *cobra.Command) *pflag.FlagSet {
	own := pflag.NewFlagSet(c.Name(), pflag.ContinueOnError)
	c.NonInheritedFlags().VisitAll(func(f *pflag.Flag) {
		for _, g := range flagGroups(c) {
			if g.name == "Flags" && g.flags.Lookup(f.Name) != nil && f.Name != "help" {
				own.AddFlag(f)
			}
		}
	})
	return own
}

// manFlags writes flags as a definition list: the flag and its value's
// name, then its description and default.
func manFlags(b *strings.Builder, fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		name, usage := pflag.UnquoteUsage(f)
		term := "**--" + f.Name + "**"
		if f.Shorthand != "" {
			term = "**-" + f.Shorthand + "**, " + term
		}
		if name != "" {
			term += " *" + mdText(name) + "*"
		}
		def := flagDefault(f)
		if def != "" {
			def = " (default " + mdText(def) + ")"
		}
		fmt.Fprintf(b, "%s\n: %s%s\n\n", term, mdText(usage), def)
	})
}

// mdText escapes s for markdown, so that globs, angle brackets and
// underscores are shown as written.
func mdText(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\`*_{}[]<>#|~", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// mdLong is a command's long description in markdown: its paragraphs
// indented by two spaces (commands to type) as code blocks.
func mdLong(s string) string {
	paras := strings.Split(s, "\n\n")
	for i, p := range paras {
		if strings.HasPrefix(p, "  ") {
			paras[i] = "```\n" + mdCode(p) + "\n```"
		} else {
			paras[i] = mdText(p)
		}
	}
	return strings.Join(paras, "\n\n")
}

// mdCode is s for a fenced code block: lines as they are, without the
// two spaces --help indents examples with.
func mdCode(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, "  ")
	}
	return strings.Join(lines, "\n")
}
