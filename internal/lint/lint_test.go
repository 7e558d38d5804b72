// Package lint holds tests that keep the code base in shape: imports only
// point down the layers (cmd → server → engines, site, accesslog → http1;
// engines → netpoll), as the allowed table below spells out.
package lint

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/weft-server/weft/"

// allowed lists, for each of our packages (by path prefix), the packages of
// ours it may import (by path prefix). Anything of ours not listed is
// forbidden.
var allowed = map[string][]string{
	"internal/http1":         {},
	"internal/netpoll":       {},
	"internal/netpoll/uring": {},
	"internal/sample":        {},
	"internal/pack":          {"internal/config", "internal/site"},
	"internal/manifest":      {},
	"internal/s3conn":        {},
	"internal/deploy":        {"internal/manifest", "internal/s3conn", "internal/site"},
	"internal/codec":         {},
	"internal/site":          {"internal/http1", "internal/codec", "internal/origin", "internal/s3conn"},
	"internal/origin":        {"internal/manifest", "internal/s3conn"},
	"internal/precompress":   {"internal/codec", "internal/site"},
	"internal/accesslog":     {"internal/http1"},
	"internal/metrics":       {"internal/http1", "internal/buildinfo"},
	"internal/buildinfo":     {},
	"internal/config":        {"internal/http1", "internal/codec", "internal/site", "internal/origin", "internal/s3conn", "internal/engine/h1conn", "internal/accesslog"},
	"internal/engine":        {"internal/engine", "internal/http1", "internal/netpoll"},
	"internal/engine/h1conn": {"internal/http1"},
	"internal/conformance":   {"internal/engine", "internal/http1", "internal/site", "internal/codec", "internal/origin", "internal/manifest", "internal/s3conn"},
	"internal/server":        {"internal/"},
	"internal/loadgen":       {"internal/report"},
	"internal/report":        {},
	"internal/tlsx":          {},
	"internal/httpadapt":     {"internal/http1"},
	"internal/h2":            {"internal/http1"},
	"internal/lint":          {},
	"cmd/":                   {"internal/"},
	"bench/":                 {"internal/loadgen"},
	"bench/floor":            {"internal/netpoll/uring"}, // the ring, not the engine: the floor is no server
}

func TestImportDirection(t *testing.T) {
	root, _ := filepath.Abs("../..")
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		pkg := filepath.ToSlash(filepath.Dir(rel))
		isTest := strings.HasSuffix(path, "_test.go")
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rules, ok := rulesFor(pkg)
		if !ok {
			t.Errorf("%s: package %s has no import rule in lint_test.go", rel, pkg)
			return nil
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !strings.HasPrefix(p, module) {
				continue
			}
			dep := strings.TrimPrefix(p, module)
			if dep == pkg || (isTest && (dep == "internal/conformance" || dep == "internal/site" || dep == "internal/metrics" || dep == "internal/accesslog")) {
				continue // external test packages; engine tests run the shared suite over a site, and count and log its requests
			}
			if !permitted(dep, rules) {
				t.Errorf("%s imports %s: %s may import only %v", rel, dep, pkg, rules)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func rulesFor(pkg string) ([]string, bool) {
	best, found := "", false
	for prefix := range allowed {
		if (pkg == strings.TrimSuffix(prefix, "/") || strings.HasPrefix(pkg+"/", prefix) || strings.HasPrefix(pkg, prefix)) && len(prefix) > len(best) {
			best, found = prefix, true
		}
	}
	return allowed[best], found
}

func permitted(dep string, rules []string) bool {
	for _, r := range rules {
		if strings.HasPrefix(dep, r) {
			return true
		}
	}
	return false
}

// forbiddenStd lists, per package of ours, standard packages it must not
// import outside its tests: the site core turns requests into plans and
// never touches sockets or net/http (DESIGN.md), whatever rules it grows.
var forbiddenStd = map[string][]string{
	"internal/site":  {"net", "net/http"},
	"internal/http1": {"net", "net/http"},
	// weft's HTTP/2 server is its own: net/http's is not underneath.
	"internal/h2": {"net/http"},
}

func TestNoSockets(t *testing.T) {
	root, _ := filepath.Abs("../..")
	fset := token.NewFileSet()
	for pkg, banned := range forbiddenStd {
		files, _ := filepath.Glob(filepath.Join(root, filepath.FromSlash(pkg), "*.go"))
		if len(files) == 0 {
			t.Errorf("%s: no files", pkg)
		}
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				for _, b := range banned {
					if p == b {
						t.Errorf("%s imports %s", filepath.Base(path), p)
					}
				}
			}
		}
	}
}
