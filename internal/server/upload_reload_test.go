package server

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weft-server/weft/internal/config"
	"github.com/weft-server/weft/internal/site"
)

// TestReloadRefusesUploadsOnAnEventLoop: a reload that turns uploads on
// under an engine that drops request bodies (epoll here; a prefork's
// epoll workers) is refused, and the old site keeps serving.
func TestReloadRefusesUploadsOnAnEventLoop(t *testing.T) {
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
		engName: "epoll",
		sw:      newSwitch(old),
		cfg: &Config{
			Addr:     "127.0.0.1:8080",
			ErrorLog: slog.New(slog.NewTextHandler(&logs, nil)),
			Reload: func() (*config.Config, error) {
				return config.Load(config.Options{Env: []string{"WEFT_CONFIG=" + file}})
			},
		},
	}
	defer old.Close()
	r.reload()
	if r.sw.cur.Load().site != old || !strings.Contains(logs.String(), "cannot take uploads") {
		t.Fatalf("in-process reload: not refused\n%s", logs.String())
	}
	logs.Reset()
	if r.checkForWorkers() || !strings.Contains(logs.String(), "cannot take uploads") {
		t.Fatalf("process engine: epoll workers replaced for uploads\n%s", logs.String())
	}
}
