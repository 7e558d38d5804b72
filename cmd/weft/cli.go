package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/weft-server/weft/internal/config"
	"github.com/weft-server/weft/internal/server"
)

// The command tree: cobra commands over pflag flag sets. run builds a new
// tree for every call, so nothing outlives a command line.

const rootLong = `weft is a static web server: as easy to start as python -m http.server, as
careful with HTTP and paths as nginx, with every concurrency model of the
classic web-server tutorial as a selectable engine.

"weft [flags] [DIR]" is "weft serve [flags] [DIR]": it serves DIR, or the
built-in sample site when DIR is omitted. A folder named like a command is
reached as ./NAME.`

const rootExample = `  weft                          # the built-in sample site at http://127.0.0.1:8080/
  weft ./public                 # serve ./public
  weft -p 9000 ./public         # on port 9000
  weft help serve               # every flag of weft serve, by topic
  weft config example           # a configuration file with every key`

const serveLong = `Serves DIR (the built-in sample site when omitted) over HTTP/1.1, and over
HTTP/2 and HTTP/3 when TLS is on.

Every flag is also a key of the configuration file (./weft.toml when present,
or --config FILE) and an environment variable (WEFT_ and the key in capitals);
flags override the variables, which override the file. "weft config example"
prints a file with every key, "weft config check" the effective configuration.
SIGHUP re-reads the file.`

const serveExample = `  weft serve                                    # the built-in sample site
  weft serve ./public --port 9000               # ./public at http://127.0.0.1:9000/
  weft ./public -p9000                          # the same
  weft ~/Shared --listing --addr 0.0.0.0:8080 --qr
                                                # share a folder on the LAN
  weft ./site --tls-self-signed --http3         # HTTPS, HTTP/2 and HTTP/3 for development
  weft serve --config /etc/weft/weft.toml --pid-file /run/weft.pid`

// newRoot builds the command tree writing to stdout and stderr.
func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:     "weft",
		Short:   "A static web server",
		Long:    rootLong,
		Example: rootExample,
		// Errors are printed by run, in one line and a hint.
		SilenceErrors:     true,
		SilenceUsage:      true,
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	// --version is weft version (shorthand rewrites it). Not cobra's: its
	// own takes -v too, and a version template would link text/template's
	// reflection, which keeps every method of the binary (+5 MB).
	root.Flags().Bool("version", false, "print the version, revision and Go version")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return &usageError{cmd: c, err: err} })
	root.SetUsageFunc(usage)
	root.SetHelpCommand(newHelpCmd(root))
	root.AddCommand(
		newServeCmd(stdout, stderr),
		newBenchCmd(stdout, stderr),
		newPrecompressCmd(stdout, stderr),
		newConfigCmd(stdout, stderr),
		newReloadCmd(stdout, stderr),
		newPackCmd(stdout, stderr),
		newDeployCmd(stdout, stderr),
		newCompletionCmd(root, stdout),
		newManCmd(root, stdout),
		newVersionCmd(stdout),
	)
	return root
}

func newServeCmd(stdout, stderr io.Writer) *cobra.Command {
	return withServeFlags(&cobra.Command{
		Use:     "serve [flags] [DIR]",
		Short:   "Serve DIR (the default command)",
		Long:    serveLong,
		Example: serveExample,
	}, func(flags *config.Flags, args []string) error {
		return serve(flags, args, stdout, stderr)
	})
}

// withServeFlags makes c a command of serve's flags and one DIR at most
// (serve, config check, reload), run with them once they are parsed.
func withServeFlags(c *cobra.Command, run func(flags *config.Flags, args []string) error) *cobra.Command {
	flags := serveFlags(c)
	c.Args = dirArgs(0, 1)
	c.ValidArgsFunction = completeDir
	c.RunE = func(_ *cobra.Command, args []string) error { return run(flags, args) }
	return c
}

// serveFlags registers serve's flags (every configuration key) on c, with
// file completion for the keys that name a file.
func serveFlags(c *cobra.Command) *config.Flags {
	c.Flags().SortFlags = false // --help lists them in the order of config.Keys
	flags := config.NewFlags(c.Flags())
	c.Flags().VisitAll(func(f *pflag.Flag) {
		if len(f.Annotations[config.PathAnnotation]) > 0 {
			c.MarkFlagFilename(f.Name)
		}
	})
	c.RegisterFlagCompletionFunc("engine", fixedChoices(server.EngineNames()...))
	c.RegisterFlagCompletionFunc("worker-engine", fixedChoices(server.EngineNames()...))
	c.RegisterFlagCompletionFunc("log-format", fixedChoices(config.LogFormats...))
	return flags
}

func fixedChoices(choices ...string) cobra.CompletionFunc {
	return cobra.FixedCompletions(choices, cobra.ShellCompDirectiveNoFileComp)
}

// completeDir completes a DIR argument with folders.
func completeDir(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return nil, cobra.ShellCompDirectiveFilterDirs
	}
	return nil, cobra.ShellCompDirectiveNoFileComp
}

// dirArgs accepts from least to most DIR arguments.
func dirArgs(least, most int) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		switch {
		case len(args) < least || len(args) > most:
			want := "one DIR"
			if least == 0 {
				want = "one DIR at most"
			}
			return &usageError{cmd: c, err: fmt.Errorf("%s, got %q", want, args)}
		}
		return nil
	}
}

func newBenchCmd(stdout, stderr io.Writer) *cobra.Command {
	// bench parses its own flags (bench.go); its usage goes where its
	// errors go, so a help request hands it stdout.
	c := &cobra.Command{
		Use:                "bench [flags] [DIR]",
		Short:              "Measure every engine side by side on this machine",
		DisableFlagParsing: true,
		ValidArgsFunction:  completeDir,
		RunE: func(c *cobra.Command, args []string) error {
			errOut := stderr
			if slices.Contains(args, "-h") || slices.Contains(args, "--help") {
				errOut = stdout
			}
			err := bench(args, stdout, errOut)
			if errors.Is(err, pflag.ErrHelp) {
				return nil // printed; cobra would print it again (HelpFunc)
			}
			return err
		},
	}
	c.SetHelpFunc(func(*cobra.Command, []string) { bench([]string{"--help"}, stdout, stdout) })
	return c
}

// newHelpCmd is weft help [COMMAND…]: cobra's, but an unknown command
// is a usage error rather than the root's help.
func newHelpCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "help [COMMAND]",
		Short: "Help about any command",
		Long:  "Prints the help of a command: weft help serve is weft serve --help.",
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			cmd, _, err := root.Find(args)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var names []cobra.Completion
			for _, sub := range cmd.Commands() {
				if sub.IsAvailableCommand() && strings.HasPrefix(sub.Name(), toComplete) {
					names = append(names, sub.Name())
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := root.Find(args)
			if err != nil || len(rest) > 0 {
				return &usageError{cmd: c, err: fmt.Errorf("unknown command %q", strings.Join(args, " "))}
			}
			return cmd.Help()
		},
	}
}

func newVersionCmd(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, VCS revision and Go version",
		Args:  noArgs,
		Run:   func(*cobra.Command, []string) { fmt.Fprint(stdout, versionText()) },
	}
}

func newCompletionCmd(root *cobra.Command, stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print a shell completion script",
		Long: `Prints the script that completes weft's commands, flags, flag values and
folders in bash, zsh or fish. Install it once:

  bash:  weft completion bash > ~/.local/share/bash-completion/completions/weft
         (or /etc/bash_completion.d/weft; needs the bash-completion package)
  zsh:   weft completion zsh > "${fpath[1]}/_weft"
         (compinit must be on: autoload -U compinit; compinit)
  fish:  weft completion fish > ~/.config/fish/completions/weft.fish

or load it in the running shell: source <(weft completion bash).`,
		ValidArgs: []string{"bash", "zsh", "fish"},
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 || !slices.Contains(c.ValidArgs, args[0]) {
				return &usageError{cmd: c, err: fmt.Errorf("want one shell: bash, zsh or fish, got %q", args)}
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(stdout, true)
			case "zsh":
				return root.GenZshCompletion(stdout)
			}
			return root.GenFishCompletion(stdout, true)
		},
	}
}

// noArgs refuses arguments with a usage error.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return &usageError{cmd: c, err: fmt.Errorf("takes no arguments, got %q", args)}
	}
	return nil
}

// usageError is a command line weft cannot run: a bad flag or flag value,
// a wrong number of arguments. run prints it in one line, then a hint.
type usageError struct {
	cmd *cobra.Command
	err error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// print writes the error's line and its hint.
func (e *usageError) print(w io.Writer) {
	fmt.Fprintf(w, "%s: %s\nRun '%s --help' for usage.\n", e.cmd.CommandPath(), flagErrorText(e.err, e.cmd.Flags()), e.cmd.CommandPath())
}

// flagErrorText says what is wrong with a flag in words a user knows:
// the flag's value and what it wants, or the flag it may have meant.
func flagErrorText(err error, fs *pflag.FlagSet) string {
	var (
		invalid *pflag.InvalidValueError
		unknown *pflag.NotExistError
	)
	switch {
	case errors.As(err, &invalid):
		f := invalid.GetFlag()
		cause := invalid.Unwrap()
		switch f.Value.Type() {
		case "bool":
			cause = errors.New("want true or false")
		case "duration":
			cause = errors.New(`want a duration such as "30s" or "1m30s"`)
		case "int", "int64":
			cause = errors.New("want an integer")
		}
		return fmt.Sprintf("invalid value %q for flag --%s: %v", invalid.GetValue(), f.Name, cause)
	case errors.As(err, &unknown) && unknown.GetSpecifiedShortnames() == "":
		var names []string
		fs.VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
		if guess := config.Closest(unknown.GetSpecifiedName(), names); guess != "" {
			return fmt.Sprintf("%v (did you mean --%s?)", err, guess)
		}
	}
	return err.Error()
}

// exitCode reports err from the command line as run returns it: 0 done;
// 2 a usage error, explained in one line and a hint; 1 any other failure.
func exitCode(err error, stderr io.Writer) int {
	var ue *usageError
	switch {
	case err == nil || errors.Is(err, pflag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		ue.print(stderr)
		return 2
	case errors.Is(err, errUsage):
		return 2
	case errors.Is(err, errReported):
		return 1
	}
	fmt.Fprintln(stderr, err)
	return 1
}

// shorthand rewrites the command lines that mean serve without naming
// it: nothing, flags first, or a folder first. A first word that is none
// of these nor a command is an error: ok is false, explained on stderr.
func shorthand(root *cobra.Command, args []string, stderr io.Writer) (_ []string, ok bool) {
	if len(args) == 0 {
		return []string{"serve"}, true
	}
	args = slices.Clone(args)
	switch args[0] {
	case "-help": // as weft's Go flags once took them
		args[0] = "--help"
	case "-version":
		args[0] = "--version"
	}
	switch first := args[0]; {
	case first == "--version":
		return append([]string{"version"}, args[1:]...), true
	case isCommand(root, first), first == "-h", first == "--help":
		return args, true
	case first == cobra.ShellCompRequestCmd || first == cobra.ShellCompNoDescRequestCmd:
		// Completing `weft --po` or `weft DIR --po` completes serve's.
		if len(args) > 1 && !isCommand(root, args[1]) &&
			(strings.HasPrefix(args[1], "-") || len(args) > 2 && isDir(args[1])) {
			args = slices.Insert(args, 1, "serve")
		}
		return args, true
	case strings.HasPrefix(first, "-") || isDir(first):
		return append([]string{"serve"}, args...), true
	}
	if _, err := os.Stat(args[0]); err == nil {
		fmt.Fprintf(stderr, "weft: %s is a file, not a folder to serve\nRun 'weft help' for the commands; 'weft DIR' serves a folder.\n", args[0])
	} else {
		msg := fmt.Sprintf("weft: unknown command %q, and no folder of that name", args[0])
		var names []string
		for _, c := range root.Commands() {
			if !c.Hidden {
				names = append(names, c.Name())
			}
		}
		if guess := config.Closest(args[0], names); guess != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", guess)
		}
		fmt.Fprintf(stderr, "%s\nRun 'weft help' for the commands; 'weft DIR' serves a folder.\n", msg)
	}
	return nil, false
}

// isCommand reports whether name is one of root's commands.
func isCommand(root *cobra.Command, name string) bool {
	if name == "help" {
		return true
	}
	for _, c := range root.Commands() {
		if c.Name() == name || c.HasAlias(name) {
			return true
		}
	}
	return false
}

// isDir reports whether name is an existing folder (or a link to one).
func isDir(name string) bool {
	fi, err := os.Stat(name)
	return err == nil && fi.IsDir()
}

// usage writes c's usage: how to call it, examples, its commands, and its
// flags under their topics (config.Groups), the others last.
func usage(c *cobra.Command) error {
	w := c.OutOrStderr()
	fmt.Fprintln(w, "Usage:")
	if c.HasParent() {
		fmt.Fprintf(w, "  %s\n", c.UseLine())
	} else {
		fmt.Fprintf(w, "  %s [flags] [DIR]      serve DIR, as weft serve does\n", c.Name())
		fmt.Fprintf(w, "  %s COMMAND [flags]\n", c.Name())
	}
	if c.HasExample() {
		fmt.Fprintf(w, "\nExamples:\n%s\n", c.Example)
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintln(w, "\nCommands:")
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() || sub.Name() == "help" {
				fmt.Fprintf(w, "  %-*s %s\n", sub.NamePadding(), sub.Name(), sub.Short)
			}
		}
	}
	writeFlags(w, flagGroups(c))
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(w, "\nRun '%s help COMMAND' or '%s COMMAND --help' for a command's flags.\n", c.CommandPath(), c.CommandPath())
	}
	return nil
}

// Help's layout: lines of at most helpWidth columns, descriptions from
// column descColumn (on a line of their own after a longer flag).
const helpWidth, descColumn = 100, 32

// writeFlags writes groups of flags as --help shows them: a heading per
// topic, then each flag, its value's name, its description and default,
// every description starting in the same column.
func writeFlags(w io.Writer, groups []flagGroup) {
	for _, g := range groups {
		fmt.Fprintf(w, "\n%s:\n", g.name)
		g.flags.VisitAll(func(f *pflag.Flag) {
			left := "      --" + f.Name
			if f.Shorthand != "" {
				left = "  -" + f.Shorthand + ", --" + f.Name
			}
			name, usage := pflag.UnquoteUsage(f)
			if name != "" {
				left += " " + name
			}
			if def := flagDefault(f); def != "" {
				usage += " (default " + def + ")"
			}
			pad := descColumn - len(left)
			if pad < 2 {
				left += "\n"
				pad = descColumn
			}
			fmt.Fprintf(w, "%s%s%s\n", left, strings.Repeat(" ", pad), wrap(usage, helpWidth-descColumn, descColumn))
		})
	}
}

// flagDefault is f's default as help shows it, or "" for the zero value.
func flagDefault(f *pflag.Flag) string {
	switch {
	case f.DefValue == "" || f.DefValue == "false" || f.DefValue == "0" || f.DefValue == "[]":
		return ""
	case len(f.DefValue) > 40: // a list no line holds
		return "long: see weft config example"
	case f.Value.Type() == "string":
		return strconv.Quote(f.DefValue)
	}
	return f.DefValue
}

// wrap breaks s into lines of at most width columns at spaces, indenting
// every line after the first by indent spaces.
func wrap(s string, width, indent int) string {
	var b strings.Builder
	col := 0
	for i, word := range strings.Fields(s) {
		n := utf8.RuneCountInString(word)
		switch {
		case i == 0:
		case col+1+n > width:
			b.WriteString("\n" + strings.Repeat(" ", indent))
			col = 0
		default:
			b.WriteByte(' ')
			col++
		}
		b.WriteString(word)
		col += n
	}
	return b.String()
}

type flagGroup struct {
	name  string
	flags *pflag.FlagSet
}

// flagGroups sorts c's flags by topic, in the order of config.Groups; the
// flags without one (--help, a command's own) come last, as "Flags".
func flagGroups(c *cobra.Command) []flagGroup {
	sets := map[string]*pflag.FlagSet{}
	c.InitDefaultHelpFlag()
	c.NonInheritedFlags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		name := "Flags"
		if g := f.Annotations[config.GroupAnnotation]; len(g) == 1 {
			name = g[0]
		}
		if sets[name] == nil {
			sets[name] = pflag.NewFlagSet(name, pflag.ContinueOnError)
			sets[name].SortFlags = false
		}
		sets[name].AddFlag(f)
	})
	var groups []flagGroup
	for _, name := range append(slices.Clone(config.Groups), "Flags") {
		if sets[name] != nil {
			groups = append(groups, flagGroup{name, sets[name]})
		}
	}
	return groups
}
