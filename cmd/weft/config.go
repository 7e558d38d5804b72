package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/weft-server/weft/internal/config"
)

const configHelp = `Usage:
  weft config check [--config FILE] [serve's flags] [DIR]
      Loads the configuration as weft serve would (defaults < file <
      WEFT_* environment < flags), checks it without serving, and prints
      every key with its value and where it came from. Exit status: 0
      valid; 2 invalid (each problem on a line of standard error, with the
      file and line, variable or flag); 1 valid but not servable here (an
      unknown engine, a missing DIR).
  weft config example
      Prints a configuration file that sets every key to its default, with
      a comment on each.
`

func configCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, configHelp)
		return errUsage
	}
	switch args[0] {
	case "check":
		_, cfg, err := loadConfig("weft config check", configHelp+"\nFlags:\n", args[1:], stderr)
		if err != nil {
			return err
		}
		fmt.Fprint(stdout, cfg.Effective())
		return checkServable(cfg)
	case "example":
		if len(args) > 1 {
			fmt.Fprintf(stderr, "weft config example takes no arguments\n")
			return errUsage
		}
		fmt.Fprint(stdout, config.Example())
		return nil
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, configHelp)
		return nil
	}
	fmt.Fprintf(stderr, "weft config: unknown command %q\n\n%s", args[0], configHelp)
	return errUsage
}

const reloadHelp = `Usage: weft reload [--pid-file FILE] [--config FILE]

Sends SIGHUP to the weft whose process id is in FILE: it re-reads its
configuration file (its environment and flags stay those it started with),
serves the new configuration if it is valid, and otherwise keeps the old one
and logs why. FILE is --pid-file, else pid_file from the configuration
(WEFT_PID_FILE, the file). Any of serve's flags is accepted, so that the same
command line finds the same configuration.

The configuration is checked here first, as the server will check it: when it
is invalid, weft reload says why and sends nothing (exit 2). Run it where the
server finds its file (the same working directory, or the same --config).

Flags:
`

func reloadCmd(args []string, stdout, stderr io.Writer) error {
	_, cfg, err := loadConfig("weft reload", reloadHelp, args, stderr)
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
