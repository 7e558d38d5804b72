package server

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weft-server/weft/internal/config"
	"github.com/weft-server/weft/internal/http1"
	"github.com/weft-server/weft/internal/site"
)

// TestReloadTurnsUploadsOnUnderAnEventLoop: a reload that turns uploads
// on under an event-loop engine (epoll here; a prefork's epoll workers)
// is taken: every engine hands request bodies to the site.
func TestReloadTurnsUploadsOnUnderAnEventLoop(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "weft.toml")
	conf := "root = \"root\"\nupload = true\nworker_engine = \"epoll\"\n"
	if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	old, err := site.Open(site.Config{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	r := &running{
		sw:  newSwitch(old),
		ret: &retirer{log: slog.New(slog.DiscardHandler), stop: make(chan struct{})},
		cfg: &Config{
			Addr:     "127.0.0.1:8080",
			ErrorLog: slog.New(slog.NewTextHandler(&logs, nil)),
			Reload: func() (*config.Config, error) {
				return config.Load(config.Options{Env: []string{"WEFT_CONFIG=" + file}})
			},
		},
	}
	r.reload()
	defer r.ret.shutdown()
	cur := r.sw.cur.Load().site
	defer cur.Close()
	if cur == old || !strings.Contains(logs.String(), "serving the new configuration") {
		t.Fatalf("in-process reload: not taken\n%s", logs.String())
	}
	req := &http1.Request{Method: http1.MethodPut, Path: []byte("/x.txt"), ContentLength: 1}
	if cur.(http1.BodyHandler).BodyLimit(req) <= 0 {
		t.Fatal("the new site takes no upload body")
	}
	logs.Reset()
	if !r.checkForWorkers() {
		t.Fatalf("process engine: epoll workers not replaced for uploads\n%s", logs.String())
	}
}
