package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/weft-server/weft/internal/buildinfo"
	"github.com/weft-server/weft/internal/config"
)

// runOut runs a command line in-process and returns its exit status,
// standard output and standard error.
func runOut(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestHelp: --help, -h and weft help print to standard output and exit 0;
// weft help serve is weft serve --help; serve's help has its examples
// and every flag under the heading of its key's topic, in the order of
// config.Groups.
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"-help"}} {
		code, out, errOut := runOut(args...)
		if code != 0 || errOut != "" || !strings.Contains(out, "Commands:") || !strings.Contains(out, "weft [flags] [DIR]") {
			t.Errorf("weft %q: exit %d, stderr %q, stdout:\n%s", args, code, errOut, out)
		}
	}
	_, serveHelp, _ := runOut("serve", "--help")
	for _, args := range [][]string{{"help", "serve"}, {"serve", "-h"}, {"serve", "--help", "."}, {"--help", "."}} {
		code, out, errOut := runOut(args...)
		if args[0] == "--help" {
			// weft --help DIR: the root's help, not serve's.
			if code != 0 || !strings.Contains(out, "Commands:") {
				t.Errorf("weft %q: exit %d, stdout:\n%s", args, code, out)
			}
			continue
		}
		if code != 0 || errOut != "" || out != serveHelp {
			t.Errorf("weft %q: exit %d, stderr %q; its stdout differs from weft serve --help's:\n%s", args, code, errOut, out)
		}
	}
	// bench parses its own flags: its usage once, on stdout, whichever
	// way it is asked for.
	for _, args := range [][]string{{"bench", "--help"}, {"bench", "-h"}, {"help", "bench"}} {
		code, out, errOut := runOut(args...)
		if n := strings.Count(out, "Usage: weft bench"); code != 0 || errOut != "" || n != 1 {
			t.Errorf("weft %q: exit %d, stderr %q, usage printed %d times:\n%s", args, code, errOut, n, out)
		}
	}
	if !strings.Contains(serveHelp, "Examples:\n  weft serve") {
		t.Errorf("weft serve --help has no examples:\n%s", serveHelp)
	}

	// Every flag under its topic's heading; topics in config.Groups' order.
	flagLine := regexp.MustCompile(`^  (?:-\w, |    )--([\w-]+)`)
	var headings []string
	under := map[string]string{}
	for _, line := range strings.Split(serveHelp, "\n") {
		if strings.HasSuffix(line, ":") && !strings.HasPrefix(line, " ") {
			headings = append(headings, strings.TrimSuffix(line, ":"))
			continue
		}
		if m := flagLine.FindStringSubmatch(line); m != nil {
			under[m[1]] = headings[len(headings)-1]
		}
	}
	if want := append(append([]string{"Usage", "Examples"}, config.Groups...), "Flags"); !slices.Equal(headings, want) {
		t.Errorf("headings %q, want %q", headings, want)
	}
	for i := range config.Keys {
		k := &config.Keys[i]
		if k.NoFlag {
			continue
		}
		if got := under[k.Flag()]; got != k.Group {
			t.Errorf("--%s listed under %q, want %q (key %s)", k.Flag(), got, k.Group, k.Name)
		}
	}
	if under["config"] != config.GroupOperations || under["help"] != "Flags" {
		t.Errorf("--config under %q, --help under %q", under["config"], under["help"])
	}

	// A description continues on lines of its own, never past the width.
	for _, line := range strings.Split(serveHelp, "\n") {
		if n := len([]rune(line)); n > helpWidth && !strings.HasPrefix(line, "  weft") {
			t.Errorf("a help line of %d columns: %q", n, line)
		}
	}
}

// TestFlagErrors: a bad flag or value, or a wrong number of arguments,
// prints one line naming the problem and one hint on standard error, and
// exits 2, whether the flag is serve's, another command's, or comes
// before a DIR without the command's name.
func TestFlagErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		args []string
		line string // the first line, whole
	}{
		{[]string{"serve", "--bogus"}, "weft serve: unknown flag: --bogus"},
		{[]string{"serve", "--max-conn", "5"}, "weft serve: unknown flag: --max-conn (did you mean --max-conns?)"},
		{[]string{"--bogus", dir}, "weft serve: unknown flag: --bogus"},
		{[]string{"serve", "-x"}, `weft serve: unknown shorthand flag: 'x' in -x`},
		{[]string{"serve", "--port"}, "weft serve: flag needs an argument: --port"},
		{[]string{"serve", "-p", "http"}, `weft serve: invalid value "http" for flag --port: want an integer`},
		{[]string{"serve", "--compress=maybe"}, `weft serve: invalid value "maybe" for flag --compress: want true or false`},
		{[]string{"serve", "--idle-timeout", "90"}, `weft serve: invalid value "90" for flag --idle-timeout: want a duration such as "30s" or "1m30s"`},
		{[]string{"serve", "--cache-control", "nope"}, `weft serve: invalid value "nope" for flag --cache-control: want GLOB=VALUE, e.g. '*.woff2=public, max-age=31536000', got "nope"`},
		{[]string{"serve", dir, dir}, `weft serve: one DIR at most, got ["` + dir + `" "` + dir + `"]`},
		{[]string{"config", "check", "--bogus"}, "weft config check: unknown flag: --bogus"},
		{[]string{"config", "nope"}, `weft config: unknown command "nope": want check or example`},
		{[]string{"reload", "-p", "x"}, `weft reload: invalid value "x" for flag --port: want an integer`},
		{[]string{"precompress", "--bogus", dir}, "weft precompress: unknown flag: --bogus"},
		{[]string{"precompress", "-j", "-1", dir}, "weft precompress: --jobs and --min-bytes must not be negative"},
		{[]string{"bench", "--duration", "x"}, `weft bench: invalid value "x" for flag --duration: want a duration such as "30s" or "1m30s"`},
		{[]string{"bench", "--conns", "x"}, `weft bench: bad connection count "x" in "x" (want positive numbers up to 100000, e.g. 1,64,512)`},
		{[]string{"completion", "tcsh"}, `weft completion: want one shell: bash, zsh or fish, got ["tcsh"]`},
		{[]string{"man", "extra"}, `weft man: takes no arguments, got ["extra"]`},
		{[]string{"help", "bogus"}, `weft help: unknown command "bogus"`},
		{[]string{"help", "config", "bogus"}, `weft help: unknown command "config bogus"`},
	}
	for _, tc := range cases {
		code, out, errOut := runOut(tc.args...)
		lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
		cmd, _, _ := strings.Cut(tc.line, ":")
		hint := "Run '" + cmd + " --help' for usage."
		if code != 2 || out != "" || len(lines) != 2 || lines[0] != tc.line || lines[1] != hint {
			t.Errorf("weft %q: exit %d, stdout %q, stderr:\n%s\nwant exit 2 and:\n%s\n%s", tc.args, code, out, errOut, tc.line, hint)
		}
	}
}

// TestGNUStyleFlags: joined and separate values, long and short, before
// and after DIR, reach the configuration.
func TestGNUStyleFlags(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"-p9001", dir},
		{"-p", "9001", dir},
		{"--port=9001", dir},
		{dir, "--port", "9001"},
	} {
		code, out, errOut := runOut(append([]string{"config", "check", "--config", ""}, args...)...)
		if code != 0 || !strings.Contains(out, "port = 9001 ") || !strings.Contains(out, "# flag --port") {
			t.Errorf("weft config check %q: exit %d, stderr %q, stdout:\n%s", args, code, errOut, out)
		}
	}
}

// TestCompletion: the bash script registers its function for weft, and
// that function completes serve's flags (also before a DIR without the
// command's name) and flag values by running weft itself; DIR completes
// to folders; the zsh and fish scripts are valid for their shells.
func TestCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	// cobra's bash script runs on the bash-completion package's helpers,
	// as every installed completion does.
	const bashCompletion = "/usr/share/bash-completion/bash_completion"
	if _, err := os.Stat(bashCompletion); err != nil {
		if os.Getenv("WEFT_TEST_REQUIRE_BASH_COMPLETION") == "1" {
			t.Fatal("no " + bashCompletion + " (apt-get install bash-completion); WEFT_TEST_REQUIRE_BASH_COMPLETION=1 makes its absence a failure")
		}
		t.Skip("no " + bashCompletion + " (apt-get install bash-completion)")
	}
	bin := weftBin(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "weft.bash")
	code, out, errOut := runOut("completion", "bash")
	if code != 0 || errOut != "" {
		t.Fatalf("weft completion bash: exit %d, %s", code, errOut)
	}
	if err := os.WriteFile(script, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	// The completion function runs "weft __complete …": the one built.
	env := append(os.Environ(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	bashOut := func(code string) string {
		t.Helper()
		cmd := exec.Command(bash, "--norc", "--noprofile", "-c", "source "+bashCompletion+"\n"+code, "bash", script)
		cmd.Env, cmd.Dir = env, dir
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("bash: %v\n%s", err, b)
		}
		return string(b)
	}
	if got := bashOut(`source "$1" && complete -p weft`); !strings.Contains(got, "-F __start_weft") || !strings.HasSuffix(strings.TrimSpace(got), " weft") {
		t.Errorf("complete -p weft: %q, want the function __start_weft", got)
	}
	complete := func(line string) []string {
		t.Helper()
		// compopt works only under readline's completion: a no-op here.
		got := bashOut(`source "$1"
compopt() { :; }
COMP_LINE=` + shellQuote(line) + `
COMP_POINT=${#COMP_LINE}
read -ra COMP_WORDS <<< "$COMP_LINE"
[[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
__start_weft
printf '%s\n' "${COMPREPLY[@]}"`)
		return strings.Fields(got)
	}
	os.Mkdir(filepath.Join(dir, "public"), 0o755)
	for line, want := range map[string][]string{
		"weft serve --po":          {"--port"},
		"weft --po":                {"--port"},
		"weft public --po":         {"--port"},
		"weft config check --pid-": {"--pid-file"},
		"weft serve --log-format ": config.LogFormats,
		"weft com":                 {"completion"},
		"weft help co":             {"completion", "config"},
		"weft completion ":         {"bash", "zsh", "fish"},
	} {
		if got := complete(line); !slices.Equal(got, want) {
			t.Errorf("%q<TAB>: %q, want %q", line, got, want)
		}
	}
	// DIR: cobra asks the shell for folders (directive 16, FilterDirs).
	if code, out, _ := runOut("__complete", "serve", ""); code != 0 || !strings.HasSuffix(strings.TrimSpace(out), ":16") {
		t.Errorf("weft __complete serve '': exit %d, %q; want the folders directive :16", code, out)
	}

	for _, sh := range []string{"zsh", "fish"} {
		code, out, errOut := runOut("completion", sh)
		if code != 0 || errOut != "" || !strings.Contains(out, "__complete") {
			t.Errorf("weft completion %s: exit %d, stderr %q, %d bytes", sh, code, errOut, len(out))
			continue
		}
		path, err := exec.LookPath(sh)
		if err != nil {
			t.Logf("no %s here: its script is not syntax-checked", sh)
			continue
		}
		file := filepath.Join(dir, "weft."+sh)
		os.WriteFile(file, []byte(out), 0o644)
		if b, err := exec.Command(path, "-n", file).CombinedOutput(); err != nil || len(b) > 0 {
			t.Errorf("%s -n: %v\n%s", sh, err, b)
		}
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// TestManPage: weft man renders with groff without a warning, lists every
// command and every flag of serve under its topic, and man -l reads it;
// weft man --dir writes weft.1 and a page per command, each as clean.
func TestManPage(t *testing.T) {
	groff, err := exec.LookPath("groff")
	if err != nil {
		if os.Getenv("WEFT_TEST_REQUIRE_GROFF") == "1" {
			t.Fatal("no groff (apt-get install groff-base); WEFT_TEST_REQUIRE_GROFF=1 makes its absence a failure")
		}
		t.Skip("no groff")
	}
	checkRoff := func(name string, roff []byte) string {
		t.Helper()
		cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z")
		cmd.Stdin = bytes.NewReader(roff)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil || stderr.Len() > 0 {
			t.Errorf("groff -man -ww %s: %v\n%s", name, err, stderr.String())
		}
		text, err := exec.Command("sh", "-c", `groff -man -Tutf8 -P-cbou "$0"`, writeTemp(t, roff)).Output()
		if err != nil {
			t.Fatal(err)
		}
		return string(text)
	}
	code, page, errOut := runOut("man")
	if code != 0 || errOut != "" {
		t.Fatalf("weft man: exit %d, %s", code, errOut)
	}
	text := checkRoff("weft man", []byte(page))
	for _, want := range append([]string{"NAME", "weft - a static web server", "SYNOPSIS", "COMMANDS", "weft serve [flags] [DIR]",
		"weft config check", "weft completion", "weft precompress [flags] DIR", "-j, --jobs", "OPTIONS", "EXIT STATUS"}, config.Groups...) {
		if !strings.Contains(text, want) {
			t.Errorf("the man page lacks %q", want)
		}
	}
	for i := range config.Keys {
		if k := &config.Keys[i]; !k.NoFlag && !strings.Contains(page, `\fB--`+k.Flag()+`\fP`) {
			t.Errorf("the man page lacks --%s", k.Flag())
		}
	}
	if man, err := exec.LookPath("man"); err == nil {
		cmd := exec.Command(man, "-l", writeTemp(t, []byte(page)))
		cmd.Env = append(os.Environ(), "MANPAGER=cat", "PAGER=cat", "MANWIDTH=80")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil || stderr.Len() > 0 || !strings.Contains(stdout.String(), "--read-header-timeout") {
			t.Errorf("man -l: %v, stderr %q, %d bytes", err, stderr.String(), stdout.Len())
		}
	}

	dir := t.TempDir()
	if code, _, errOut := runOut("man", "--dir", dir); code != 0 {
		t.Fatalf("weft man --dir: exit %d, %s", code, errOut)
	}
	for _, name := range []string{"weft.1", "weft-serve.1", "weft-config-check.1", "weft-precompress.1", "weft-reload.1"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Error(err)
			continue
		}
		checkRoff(name, b)
	}
}

func writeTemp(t *testing.T, b []byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "page.1")
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestFormatVersion: the version is the -X override, else the module's;
// the revision gets -dirty when the tree was modified; what the build did
// not record is left out.
func TestFormatVersion(t *testing.T) {
	goLine := "go: go1.99.1 " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	vcs := &debug.BuildInfo{GoVersion: "go1.99.1", Main: debug.Module{Version: "v1.2.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2026-12-01T20:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	for _, tc := range []struct {
		override string
		bi       *debug.BuildInfo
		want     string
	}{
		{"", vcs, "weft v1.2.0\nrevision: 0123abcd-dirty\ncommitted: 2026-12-01T20:00:00Z\n" + goLine},
		{"v9.9.9", vcs, "weft v9.9.9\nrevision: 0123abcd-dirty\ncommitted: 2026-12-01T20:00:00Z\n" + goLine},
		{"", &debug.BuildInfo{GoVersion: "go1.99.1", Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.modified", Value: "false"}}},
			"weft (devel)\nrevision: 0123abcd\n" + goLine},
		{"", &debug.BuildInfo{GoVersion: "go1.99.1"}, "weft (devel)\n" + goLine},
	} {
		if got := formatVersion(tc.override, buildinfo.Parse(tc.bi)); got != tc.want {
			t.Errorf("formatVersion(%q, %+v):\n%s\nwant:\n%s", tc.override, tc.bi, got, tc.want)
		}
	}
}

// TestVersion: a binary built in a git checkout names, in weft version
// and weft --version alike, the revision it was built from and the Go that
// built it; -ldflags -X main.version sets the version. (GOFLAGS may turn
// VCS stamping off: this build turns it on. Go stamps a checkout whose .git
// is a folder, not a git worktree's, whose .git is a file.)
func TestVersion(t *testing.T) {
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not in a git checkout: %v", err)
	}
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatal(err)
	}
	revision := `revision: ` + strings.TrimSpace(string(head)) + `(-dirty)?\ncommitted: \d{4}-\d\d-\d\dT[\d:]+Z\n`
	if fi, err := os.Stat(filepath.Join(strings.TrimSpace(string(top)), ".git")); err != nil || !fi.IsDir() {
		t.Logf("a git worktree: Go records no revision, and weft version prints none")
		revision = ""
	}
	bin := filepath.Join(t.TempDir(), "weft")
	build := exec.Command("go", "build", "-buildvcs=true", "-ldflags", "-X main.version=v0.0.0-test", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -buildvcs=true: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	flagOut, err := exec.Command(bin, "--version").Output()
	if err != nil || !bytes.Equal(out, flagOut) {
		t.Errorf("weft --version: %v\n%s\nwant weft version's:\n%s", err, flagOut, out)
	}
	want := regexp.MustCompile(`^weft v0\.0\.0-test\n` + revision + `go: ` + regexp.QuoteMeta(runtime.Version()) + ` \w+/\w+\n$`)
	if !want.Match(out) {
		t.Errorf("weft version:\n%s\nwant it to match %s", out, want)
	}
}
