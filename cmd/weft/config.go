package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/weft-server/weft/internal/config"
)

const configCheckLong = `Loads the configuration as weft serve would (defaults < file < WEFT_*
environment < flags), checks it without serving, and prints every key with its
value and where it came from.

Exit status: 0 valid; 2 invalid (each problem on a line of standard error, with
the file and line, variable or flag); 1 valid but not servable here (an unknown
engine, a missing DIR).`

func newConfigCmd(stdout, stderr io.Writer) *cobra.Command {
	c := &cobra.Command{
		Use:   "config COMMAND",
		Short: "Check the configuration, or print an example file",
		Long:  "Checks the configuration (check) or prints a configuration file with every key (example).",
		Example: `  weft config check --config /etc/weft/weft.toml
  weft config check -p 9000 ./public
  weft config example > weft.toml`,
		// cobra's own error for an unknown command would not be one line.
		Args: cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				return &usageError{cmd: c, err: errors.New("want a command: check or example")}
			}
			return &usageError{cmd: c, err: fmt.Errorf("unknown command %q: want check or example", args[0])}
		},
	}
	check := withServeFlags(&cobra.Command{
		Use:   "check [flags] [DIR]",
		Short: "Check the configuration and print it, with where each value comes from",
		Long:  configCheckLong,
	}, func(flags *config.Flags, args []string) error {
		_, cfg, err := loadConfig(flags, args, stderr)
		if err != nil {
			return err
		}
		fmt.Fprint(stdout, cfg.Effective())
		return checkServable(cfg)
	})
	example := &cobra.Command{
		Use:   "example",
		Short: "Print a configuration file that sets every key to its default",
		Long:  "Prints a configuration file that sets every key to its default, with a comment on each.",
		Args:  noArgs,
		Run:   func(*cobra.Command, []string) { fmt.Fprint(stdout, config.Example()) },
	}
	c.AddCommand(check, example)
	return c
}

const reloadLong = `Sends SIGHUP to the weft whose process id is in FILE: it re-reads its
configuration file (its environment and flags stay those it started with),
serves the new configuration if it is valid, and otherwise keeps the old one
and logs why. FILE is --pid-file, else pid_file from the configuration
(WEFT_PID_FILE, the file). Any of serve's flags is accepted, so that the same
command line finds the same configuration.

The configuration is checked here first, as the server will check it: when it
is invalid, weft reload says why and sends nothing (exit 2). Run it where the
server finds its file (the same working directory, or the same --config).`

func newReloadCmd(stdout, stderr io.Writer) *cobra.Command {
	return withServeFlags(&cobra.Command{
		Use:                   "reload [--pid-file FILE] [--config FILE] [flags] [DIR]",
		DisableFlagsInUseLine: true,
		Short:                 "Make a running weft re-read its configuration (SIGHUP)",
		Long:                  reloadLong,
		Example:               "  weft reload --pid-file /run/weft.pid",
	}, func(flags *config.Flags, args []string) error {
		return reload(flags, args, stdout, stderr)
	})
}

func reload(flags *config.Flags, args []string, stdout, stderr io.Writer) error {
	_, cfg, err := loadConfig(flags, args, stderr)
	if err != nil {
		return err
	}
	if err := checkServable(cfg); err != nil {
		return err
	}
	if cfg.PidFile == "" {
		fmt.Fprintln(stderr, "weft reload: no pid file: give --pid-file FILE, or set pid_file (and start weft serve with it)")
		return errUsage
	}
	b, err := os.ReadFile(cfg.PidFile)
	if err != nil {
		return fmt.Errorf("weft reload: %w (is weft serve running with --pid-file %s?)", err, cfg.PidFile)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return fmt.Errorf("weft reload: %s holds no process id: %q", cfg.PidFile, b)
	}
	p, err := os.FindProcess(pid)
	if err == nil {
		err = p.Signal(syscall.SIGHUP)
	}
	if err != nil {
		if errors.Is(err, os.ErrProcessDone) {
			err = fmt.Errorf("no process %d (a stale pid file?)", pid)
		}
		return fmt.Errorf("weft reload: %w", err)
	}
	fmt.Fprintf(stdout, "weft: sent SIGHUP to process %d; its log says whether the new configuration is served\n", pid)
	return nil
}
