package config

import (
	"errors"
	"flag"

	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/weft-server/weft/internal/site"
)

// load writes doc (when not empty) as weft.toml in a new directory and
// loads it with env and the command line args (flags, then DIR).
func load(t *testing.T, doc string, env []string, args ...string) (*Config, string, error) {
	t.Helper()
	dir := t.TempDir()
	if doc != "" {
		if err := os.WriteFile(filepath.Join(dir, DefaultFile), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	f := NewFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	if fs.NArg() > 0 {
		f.SetRoot(fs.Arg(0))
	}
	c, err := Load(Options{Dir: dir, Env: env, Flags: f, Engines: []string{"auto", "epoll", "goroutine", "process", "serial"}})
	return c, dir, err
}

func TestDefaults(t *testing.T) {
	c, _, err := load(t, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if ch := Changed(Defaults(), c); len(ch) != 0 {
		t.Errorf("no source, yet %v differ from the defaults", ch)
	}
	if c.File != "" {
		t.Errorf("File %q without a file", c.File)
	}
	for i := range Keys {
		if src := c.Source(Keys[i].Name); src.Kind != FromDefault {
			t.Errorf("%s: source %v", Keys[i].Name, src)
		}
	}
	if c.Listen() != "127.0.0.1:8080" {
		t.Errorf("Listen %q", c.Listen())
	}
}

// TestKeyTable: every field of Config is a key, names are distinct and
// spelled as files, variables and flags expect, and every default has its
// field's type and is valid.
func TestKeyTable(t *testing.T) {
	seen := map[string]bool{}
	fields := map[uintptr]string{}
	var c Config
	base := reflect.ValueOf(&c).Pointer()
	for i := range Keys {
		k := &Keys[i]
		if !regexp.MustCompile(`^[a-z][a-z0-9_]*[a-z0-9]$`).MatchString(k.Name) || seen[k.Name] {
			t.Errorf("key name %q: lower case and underscores, once", k.Name)
		}
		seen[k.Name] = true
		if k.Help == "" || strings.HasSuffix(k.Help, ".") {
			t.Errorf("%s: help %q: one sentence without its full stop", k.Name, k.Help)
		}
		off := reflect.ValueOf(k.field(&c)).Pointer() - base
		if other, ok := fields[off]; ok {
			t.Errorf("%s and %s share a field", k.Name, other)
		}
		fields[off] = k.Name
		if reflect.TypeOf(k.def) != reflect.TypeOf(k.field(&c)).Elem() {
			t.Errorf("%s: default of type %T for a field of type %s", k.Name, k.def, reflect.TypeOf(k.field(&c)).Elem())
		}
	}
	ct := reflect.TypeOf(c)
	for i := 0; i < ct.NumField(); i++ {
		f := ct.Field(i)
		if !f.IsExported() || f.Name == "File" || f.Name == "Ignored" || f.Name == "Sites" {
			continue
		}
		if _, ok := fields[f.Offset]; !ok {
			t.Errorf("Config.%s has no key", f.Name)
		}
	}
	if errs := Defaults().validate(nil); len(errs) > 0 {
		t.Errorf("the defaults are invalid: %v", errs)
	}
}

// TestExampleIsTheDefaults: `weft config example` parses, sets every key
// it shows to its default, and shows every key.
func TestExampleIsTheDefaults(t *testing.T) {
	ex := Example()
	c, dir, err := load(t, ex, nil)
	if err != nil {
		t.Fatalf("the example does not load: %v\n%s", err, ex)
	}
	if ch := Changed(Defaults(), c); len(ch) != 0 {
		t.Errorf("the example changes %v from the defaults", ch)
	}
	lines := strings.Split(ex, "\n")
	for i := range Keys {
		k := &Keys[i]
		src := c.Source(k.Name)
		if k.Unset != "" {
			if src.Kind != FromDefault || !strings.Contains(ex, "# "+k.Name+" = ") {
				t.Errorf("%s: %v; want it shown commented out", k.Name, src)
			}
			continue
		}
		if src.Kind != FromFile || src.Name != filepath.Join(dir, DefaultFile) || !strings.HasPrefix(lines[src.Line-1], k.Name+" = ") {
			t.Errorf("%s: source %v", k.Name, src)
		}
		above := src.Line - 1 // the comment block above the key
		for above > 0 && lines[above-1] != "" {
			above--
		}
		for _, want := range []string{k.Env(), "--" + k.Flag()} {
			if !k.NoFlag && !strings.Contains(strings.Join(lines[above:src.Line], "\n"), want) {
				t.Errorf("%s: no %s in the lines above it", k.Name, want)
			}
		}
	}
}

// TestPrecedence: defaults < file < environment < flags, key by key, with
// the source of each value.
func TestPrecedence(t *testing.T) {
	doc := `# a comment
port = 9001
engine = "serial"
index = "file.html"
cache_control = ["*.txt=max-age=1"]
root = "public"

[mime]
md = "text/markdown"
`
	env := []string{"WEFT_ENGINE=goroutine", "WEFT_INDEX=env.html", "WEFT_LISTING=true", "PATH=/bin", "WEFT_WORKER=1", "WEFT_SOMETHING_ELSE=1"}
	c, dir, err := load(t, doc, env, "--index", "flag.html", "-p", "9003", "/srv/www")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, DefaultFile)
	cases := []struct {
		key  string
		got  any
		want any
		src  string
	}{
		{"addr", c.Addr, "127.0.0.1:8080", "default"},
		{"port", c.Port, 9003, "flag --port"},
		{"engine", c.Engine, "goroutine", "env WEFT_ENGINE"},
		{"index", c.Index, "flag.html", "flag --index"},
		{"listing", c.Listing, true, "env WEFT_LISTING"},
		{"cache_control", c.CacheControl, []site.CacheRule{{Glob: "*.txt", Value: "max-age=1"}}, file + ":5"},
		{"mime", c.MIME, map[string]string{".md": "text/markdown; charset=utf-8"}, file + ":8"},
		{"root", c.Root, "/srv/www", "argument DIR"},
	}
	for _, tc := range cases {
		if !reflect.DeepEqual(tc.got, tc.want) || c.Source(tc.key).String() != tc.src {
			t.Errorf("%s = %v from %v, want %v from %s", tc.key, tc.got, c.Source(tc.key), tc.want, tc.src)
		}
	}
	if c.Listen() != "127.0.0.1:9003" {
		t.Errorf("Listen %q", c.Listen())
	}
	if !slices.Equal(c.Ignored, []string{"WEFT_SOMETHING_ELSE"}) {
		t.Errorf("Ignored %q, want WEFT_SOMETHING_ELSE only (WEFT_WORKER is weft's own)", c.Ignored)
	}
	out := c.Effective()
	for _, want := range []string{
		`engine = "goroutine"`, "# env WEFT_ENGINE",
		"port = 9003", "# flag --port",
		`cache_control = ["*.txt=max-age=1"]`, "# " + file + ":5",
		`mime = { ".md" = "text/markdown; charset=utf-8" }`,
		"# ignored: WEFT_SOMETHING_ELSE names no key",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	// The file's relative root is the file's directory's.
	c, dir, err = load(t, doc, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "public"); c.Root != want {
		t.Errorf("root %q, want %q", c.Root, want)
	}
	// The check output is a file that gives the same configuration.
	again, _, err := load(t, c.Effective(), nil)
	if err != nil {
		t.Fatalf("check output does not load: %v\n%s", err, c.Effective())
	}
	if ch := Changed(c, again); len(ch) != 0 {
		t.Errorf("check output changes %v:\n%s", ch, c.Effective())
	}
}

// TestFileErrors: each problem names the file, the line and the key.
func TestFileErrors(t *testing.T) {
	cases := []struct{ name, doc, want string }{
		{"UnknownKey", "port = 1\n\nmax_conn = 3\n", `weft.toml:3: unknown key "max_conn" (did you mean "max_conns"?)`},
		{"FlagSpelling", "max-conns = 3\n", `weft.toml:1: unknown key "max-conns" (did you mean "max_conns"?)`},
		{"UnknownTable", "port = 1\n[headerz]\nx = 1\n", `weft.toml:2: unknown table "headerz"`},
		{"TwoUnknown", "a = 1\nb = 2\n", "weft.toml:1: unknown key \"a\"\nweft.toml:2: unknown key \"b\""},
		{"WrongTypeString", "\nport = \"8080\"\n", `weft.toml:2: port: want an integer, got a string`},
		{"WrongTypeInt", "addr = 8080\n", `weft.toml:1: addr: want a string, got an integer`},
		{"WrongTypeBool", "listing = \"yes\"\n", `weft.toml:1: listing: want a boolean, got a string`},
		{"DurationNumber", "idle_timeout = 30\n", `weft.toml:1: idle_timeout: want a duration string such as "30s", got an integer`},
		{"DurationBad", "idle_timeout = \"30 s\"\n", `weft.toml:1: idle_timeout: want a duration such as "30s" or "1m30s", got "30 s"`},
		{"ListNotString", "cache_control = \"*.txt=x\"\n", `weft.toml:1: cache_control: want an array of strings, got a string`},
		{"MIMENotString", "[mime]\nmd = 1\n", `weft.toml:2: mime.md: want a string, got an integer`},
		{"MIMEBad", "[mime]\n\nmd = \"markdown\"\n", `weft.toml:3: mime.md: MIME type "markdown" for .md: want type/subtype`},
		{"RuleBad", "cache_control = [\n  \"*.txt=max-age=1\",\n  \"nope\",\n]\n", `weft.toml:3: cache_control[1]: want GLOB=VALUE`},
		{"RuleBadGlob", "cache_control = [\"[=x\"]\n", `weft.toml:1: cache_control[0]: bad pattern "["`},
		{"PortRange", "port = 70000\n", `weft.toml:1: port: 70000 out of range 0-65535`},
		{"Negative", "# x\nmax_conns = 0\n", `weft.toml:2: max_conns: must be positive, got 0`},
		{"Timeout", "write_timeout = \"-1s\"\n", `weft.toml:1: write_timeout: must be positive, got -1s`},
		{"LogFormat", "log_format = \"xml\"\n", `weft.toml:1: log_format: unknown log format "xml" (want common, combined, json or a template of $variables)`},
		{"LogTemplate", "\nlog_format = '$remote_addr \"$request\" $bogus_var'\n", `weft.toml:2: log_format: unknown variable $bogus_var`},
		{"LogTemplateDollar", "log_format = 'costs $ $status'\n", `weft.toml:1: log_format: "$" at byte 6 names no variable (write $name or ${name})`},
		{"LogTime", "log_time = \"gmt\"\n", `weft.toml:1: log_time: unknown log time "gmt" (want local or utc)`},
		{"Addr", "addr = \"nocolon\"\n", `weft.toml:1: addr: invalid address "nocolon": want HOST:PORT`},
		{"ETag", "etag = \"weak\"\n", `weft.toml:1: etag: unknown etag "weak" (want mtime or content)`},
		{"CompressTypes", "compress_types = \"text\"\n", `weft.toml:1: compress_types: `},
		{"Contradiction", "no_cache_control = true\ncache_control = [\"*=x\"]\n", `weft.toml:1: no_cache_control: contradicts cache_control (weft.toml:2)`},
		{"MinMax", "compress_max_bytes = 10\n", `compress_min_bytes: 1024 must be from 0 to compress_max_bytes (10, weft.toml:1)`},
		{"WorkerEngine", "worker_engine = \"process\"\n", `weft.toml:1: worker_engine: cannot be process`},
		{"Engine", "engine = \"fibers\"\n", `weft.toml:1: engine: unknown engine "fibers" (have auto, epoll, goroutine, process, serial)`},
		{"Syntax", "port = \n", `weft.toml:1: unexpected character`},
		{"Duplicate", "port = 1\nport = 2\n", `weft.toml:2: port: key port is already defined`},
		{"Overflow", "port = 99999999999999999999\n", `weft.toml:1: port: `},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, dir, err := load(t, tc.doc, nil)
			if err == nil {
				t.Fatalf("no error for %q", tc.doc)
			}
			msg := strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
			if !strings.HasPrefix(msg, tc.want) {
				t.Errorf("%q\nwant %q", msg, tc.want)
			}
			if errors.Is(err, ErrUnavailable) != (tc.name == "Engine") {
				t.Errorf("errors.Is(ErrUnavailable) = %v", !(tc.name == "Engine"))
			}
		})
	}
}

func TestEnv(t *testing.T) {
	env := []string{
		`WEFT_CACHE_CONTROL=["/assets/**=public, max-age=60", "*.txt=max-age=1"]`,
		"WEFT_MIME=md=text/markdown, .GLB=model/gltf-binary",
		"WEFT_COMPRESS=false",
		"WEFT_IDLE_TIMEOUT=5s",
		"WEFT_MAX_BODY_BYTES=10",
		"WEFT_ROOT=rel",
	}
	c, _, err := load(t, "", env)
	if err != nil {
		t.Fatal(err)
	}
	want := []site.CacheRule{{Glob: "/assets/**", Value: "public, max-age=60"}, {Glob: "*.txt", Value: "max-age=1"}}
	if !reflect.DeepEqual(c.CacheControl, want) || c.Compress || c.IdleTimeout != 5*time.Second || c.MaxBodyBytes != 10 || c.Root != "rel" {
		t.Errorf("%+v", c)
	}
	if !reflect.DeepEqual(c.MIME, map[string]string{".md": "text/markdown; charset=utf-8", ".glb": "model/gltf-binary"}) {
		t.Errorf("mime %v", c.MIME)
	}
	c, _, err = load(t, "", []string{"WEFT_CACHE_CONTROL=*.css=max-age=2, public"})
	if err != nil || !reflect.DeepEqual(c.CacheControl, []site.CacheRule{{Glob: "*.css", Value: "max-age=2, public"}}) {
		t.Errorf("one rule: %v, %v", c, err)
	}
	for _, tc := range []struct{ env, want string }{
		{"WEFT_PORT=http", `env WEFT_PORT: want an integer, got "http"`},
		{"WEFT_MAXCONNS=3", "env WEFT_MAXCONNS: unknown variable (did you mean WEFT_MAX_CONNS?)"},
		{"WEFT_PROT=3", "env WEFT_PROT: unknown variable (did you mean WEFT_PORT?)"},
		{"WEFT_CONFG=x", "env WEFT_CONFG: unknown variable (did you mean WEFT_CONFIG?)"},
		{"WEFT_LISTING=maybe", `env WEFT_LISTING: want true or false, got "maybe"`},
		{"WEFT_IDLE_TIMEOUT=30", `env WEFT_IDLE_TIMEOUT: want a duration such as "30s" or "1m30s", got "30"`},
		{"WEFT_MIME=md", "env WEFT_MIME: want EXT=TYPE"},
		{"WEFT_CACHE_CONTROL=[1]", "env WEFT_CACHE_CONTROL: want GLOB=VALUE or a TOML array of them"},
		{"WEFT_MAX_CONNS=-1", "env WEFT_MAX_CONNS: must be positive, got -1"},
	} {
		if _, _, err := load(t, "", []string{tc.env}); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: %v\nwant %s", tc.env, err, tc.want)
		}
	}
}

// TestWhichFile: --config over WEFT_CONFIG over ./weft.toml; an empty --config
// reads none; a named file must exist, weft.toml need not.
func TestWhichFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, doc string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write(DefaultFile, "index = \"default.html\"\n")
	byEnv := write("env.toml", "index = \"env.html\"\n")
	byFlag := write("flag.toml", "index = \"flag.html\"\n")
	for _, tc := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, nil, "default.html"},
		{[]string{"WEFT_CONFIG=" + byEnv}, nil, "env.html"},
		{[]string{"WEFT_CONFIG=" + byEnv}, []string{"--config", byFlag}, "flag.html"},
		{nil, []string{"--config", ""}, "index.html"},
		{[]string{"WEFT_CONFIG="}, nil, "index.html"},
	} {
		fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
		f := NewFlags(fs)
		fs.Parse(tc.args)
		c, err := Load(Options{Dir: dir, Env: tc.env, Flags: f})
		if err != nil || c.Index != tc.want {
			t.Errorf("%v %v: %v, %v; want %s", tc.env, tc.args, c, err, tc.want)
		}
	}
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	f := NewFlags(fs)
	fs.Parse([]string{"--config", filepath.Join(dir, "missing.toml")})
	if _, err := Load(Options{Dir: dir, Flags: f}); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("a missing --config file: %v", err)
	}
}

// TestFlags: flags behave as before the configuration existed: repeatable
// ones collect, the first replaces the lower sources' list, and bad values
// fail at parse time.
func TestFlags(t *testing.T) {
	c, _, err := load(t, "cache_control = [\"*.css=max-age=9\"]\n", nil,
		"--cache-control", "*.txt=max-age=1", "--cache-control", "*.js=max-age=2", "--mime", "md=text/x-first", "--mime", ".MD=text/markdown", "--compress=false")
	if err != nil {
		t.Fatal(err)
	}
	if want := []site.CacheRule{{Glob: "*.txt", Value: "max-age=1"}, {Glob: "*.js", Value: "max-age=2"}}; !reflect.DeepEqual(c.CacheControl, want) {
		t.Errorf("cache_control %v", c.CacheControl)
	}
	if !reflect.DeepEqual(c.MIME, map[string]string{".md": "text/markdown; charset=utf-8"}) || c.Compress {
		t.Errorf("mime %v, compress %v", c.MIME, c.Compress)
	}
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	NewFlags(fs)
	if err := fs.Parse([]string{"--cache-control", "nope"}); err == nil || !strings.Contains(err.Error(), "want GLOB=VALUE") {
		t.Errorf("bad --cache-control: %v", err)
	}
}

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"a", "", 1}, {"", "ab", 2}, {"port", "prot", 1}, {"max_conns", "maxconns", 1}, {"kitten", "sitting", 3}, {"ab", "ba", 1}} {
		if d := distance(tc.a, tc.b); d != tc.d {
			t.Errorf("distance(%q, %q) = %d, want %d", tc.a, tc.b, d, tc.d)
		}
	}
}

var update = flag.Bool("update", false, "rewrite the README's table of keys")

// TestREADMETable: the README's table of keys is Table(); -update
// rewrites it.
func TestREADMETable(t *testing.T) {
	const name = "../../README.md"
	const begin, end = "<!-- keys: generated from internal/config's Keys; go test ./internal/config -run README -update -->\n", "<!-- end of keys -->\n"
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok1 := strings.Cut(string(b), begin)
	_, after, ok2 := strings.Cut(rest, end)
	if !ok1 || !ok2 {
		t.Fatalf("README.md lacks the markers %q and %q", begin, end)
	}
	want := before + begin + Table() + end + after
	if want == string(b) {
		return
	}
	if *update {
		if err := os.WriteFile(name, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's table of keys is out of date: go test ./internal/config -run README -update")
}

// TestREADMEExamples: every TOML example in the README loads.
func TestREADMEExamples(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```toml\n(.*?)```").FindAllStringSubmatch(string(b), -1)
	if len(blocks) == 0 {
		t.Fatal("no TOML example in README.md")
	}
	for _, m := range blocks {
		if _, _, err := load(t, m[1], nil); err != nil {
			t.Errorf("README example does not load: %v\n%s", err, m[1])
		}
	}
}

// TestKeyGroups: every key has a topic, one of Groups, for --help and the
// man page; so does every flag NewFlags registers.
func TestKeyGroups(t *testing.T) {
	for i := range Keys {
		k := &Keys[i]
		if !slices.Contains(Groups, k.Group) {
			t.Errorf("key %s: group %q is not one of Groups %q", k.Name, k.Group, Groups)
		}
	}
	fs := newFlagSet()
	fs.VisitAll(func(f *pflag.Flag) {
		if g := f.Annotations[GroupAnnotation]; len(g) != 1 || !slices.Contains(Groups, g[0]) {
			t.Errorf("flag --%s: group annotation %q", f.Name, g)
		}
	})
}

// TestGNUFlags: a flag's value joined or apart, a shorthand's value
// joined or apart, and flags after the DIR argument all set the key.
func TestGNUFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--port=9001", "/srv"},
		{"--port", "9001", "/srv"},
		{"-p9001", "/srv"},
		{"-p", "9001", "/srv"},
		{"/srv", "-p", "9001"},
		{"--idle-timeout=5s", "-p=9001", "/srv"},
	} {
		c, _, err := load(t, "", nil, args...)
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		if c.Port != 9001 || c.Root != "/srv" || c.Source("port") != (Source{Kind: FromFlag, Name: "port"}) {
			t.Errorf("%q: port %d from %v, root %q", args, c.Port, c.Source("port"), c.Root)
		}
	}
}
