package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/weft-server/weft/internal/config"
	"github.com/weft-server/weft/internal/pack"
	"github.com/weft-server/weft/internal/server"
)

const packHelp = `Usage: weft pack DIR -o FILE [serve's flags]

Writes FILE, one executable that serves DIR: a copy of this weft with the
site and the flags given packed into it (no Go toolchain needed). Run it with
no DIR and it serves the packed site, from a temporary folder it extracts at
start, with the packed flags as its defaults: a configuration file, WEFT_*
variables and flags given at run time override them (defaults < packed flags
< file < environment < flags). Given a DIR, it serves that folder instead.
"FILE config check" shows each value with where it came from.

The site holds what weft serve, with the same flags, lets a request reach in
DIR: dotfiles only with --dotfiles (".well-known" always), symbolic links as
--symlinks allows (by default those that stay inside DIR), precompressed
sidecars (.br, .zst, .gz) included. Every file keeps its modification time
(to the second), so Last-Modified and ETag are the same at every start.
--config cannot be packed.

Examples:
  weft pack ./public -o site
  weft pack ./dist -o app --spa index.html --port 3000 --header '/assets/*: Cache-Control: max-age=31536000'
  ./app                 # serves the packed site on port 3000
  ./app --port 9000     # a run-time flag overrides the packed one

Flags:
  -o, --output FILE   the executable to write (replaced when it exists)
  and any of serve's flags ("weft serve --help"), packed.
`

// newPackCmd is weft pack. It parses its own command line (packCmd): the
// serve flags given are packed as they were written.
func newPackCmd(stdout, stderr io.Writer) *cobra.Command {
	c := &cobra.Command{
		Use:                "pack DIR -o FILE [flags]",
		Short:              "Write one executable serving DIR, with the flags given as its defaults",
		DisableFlagParsing: true,
		ValidArgsFunction:  completeDir,
		RunE: func(_ *cobra.Command, args []string) error {
			return packCmd(args, stdout, stderr)
		},
	}
	c.SetHelpFunc(func(*cobra.Command, []string) { fmt.Fprint(stdout, packHelp) })
	return c
}

// packCmd runs weft pack with its command line args.
func packCmd(args []string, stdout, stderr io.Writer) error {
	fset := pflag.NewFlagSet("weft pack", pflag.ContinueOnError)
	config.NewFlags(fset)
	var dirs, packed []string
	out, outGiven := "", false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			dirs = append(dirs, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			dirs = append(dirs, a)
			continue
		}
		// --name, --name=value, -n, -nvalue, -n=value
		var f *pflag.Flag
		name, value, hasValue := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !strings.HasPrefix(a, "--") {
			name, value = a[1:2], strings.TrimPrefix(a[2:], "=")
			hasValue = len(a) > 2
		}
		switch name {
		case "h", "help":
			fmt.Fprint(stdout, packHelp)
			return nil
		case "o", "output":
			if !hasValue {
				if i+1 == len(args) {
					fmt.Fprintf(stderr, "weft pack: %s needs a file name\n", a)
					return errUsage
				}
				i++
				value = args[i]
			}
			out, outGiven = value, true
			continue
		}
		if len(name) == 1 {
			f = fset.ShorthandLookup(name)
		} else {
			f = fset.Lookup(name)
		}
		if f == nil {
			fmt.Fprintf(stderr, "weft pack: unknown flag %s\nRun \"weft pack --help\" for its usage.\n", a)
			return errUsage
		}
		packed = append(packed, a)
		if hasValue || f.NoOptDefVal != "" { // a bool takes no separate value
			continue
		}
		if i+1 == len(args) {
			fmt.Fprintf(stderr, "weft pack: flag %s needs a value\n", a)
			return errUsage
		}
		i++
		packed = append(packed, args[i])
	}
	switch {
	case len(dirs) == 0:
		fmt.Fprintln(stderr, "weft pack: no DIR: give the folder to pack (weft pack DIR -o FILE)")
		return errUsage
	case len(dirs) > 1:
		fmt.Fprintf(stderr, "weft pack: one DIR only, got %q\n", dirs)
		return errUsage
	case !outGiven || out == "":
		fmt.Fprintln(stderr, "weft pack: no output: give -o FILE, the executable to write")
		return errUsage
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("weft pack: finding weft's executable: %w", err)
	}
	res, err := pack.Pack(pack.Options{Exe: exe, Dir: dirs[0], Out: out, Args: packed, Engines: server.EngineNames()})
	if err != nil {
		return err
	}
	with := ""
	for _, a := range packed {
		if strings.ContainsAny(a, " \t'\"*?$&|;<>()[]{}\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		with += " " + a
	}
	if with != "" {
		with = " with" + with
	}
	fmt.Fprintf(stdout, "weft pack: packed %d files (%d bytes) in %d folders from %s%s into %s (%d bytes)\n",
		res.Files, res.Bytes, res.Dirs+1, dirs[0], with, out, res.Size)
	return nil
}

// packedSite is the site packed into this executable, nil for none.
func packedSite() fs.FS {
	if p, err := pack.Self(); err == nil && p != nil {
		return p.Site
	}
	return nil
}

// packedFlags are the flags packed into this executable, nil for none;
// its error is about a damaged payload.
func packedFlags() (*config.Flags, error) {
	p, err := pack.Self()
	if err != nil || p == nil {
		return nil, err
	}
	return p.Flags()
}
