// Regression tests from an adversarial review of issue 9 (configuration and
// site rules). A test's comment describes the defect it caught, in the code
// as it was then; every one passes since the fixes that followed.

package server

// Review of issue 9 (reload): failing reproduction. Run with
//
//	go test -count=1 -run 'TestReview9' ./internal/server

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/weft-server/weft/internal/config"
)

// TestReview9ProcessReloadChecksTheRealListener: weft listens on
// 0.0.0.0:8080 with the process engine and no authentication. The file
// is edited to say addr = "127.0.0.1:8080" (a restart key: the socket
// stays 0.0.0.0) and to turn basic_auth on, and SIGHUP is sent. The
// in-process reload checks authentication against the address weft
// really listens on (reload.go: checkListen(..., r.cfg.Addr)); the
// process engine's checkForWorkers only runs config.Reload, which checks
// against the file's own (new, loopback) addr, so the supervisor replaces
// the workers, and each new worker checks its config's addr too
// (server.go Run: checkListen(&scfg, cfg.Hosts, cfg.Addr)), not its
// inherited socket's: passwords are then asked for in clear on every
// interface. The reload must be refused.
func TestReview9ProcessReloadChecksTheRealListener(t *testing.T) {
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "htpasswd"), append([]byte("alice:"), append(hash, '\n')...), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "weft.toml")
	if err := os.WriteFile(file, []byte("addr = \"127.0.0.1:8080\"\nbasic_auth = \"htpasswd\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	r := &running{
		cfg: &Config{
			Addr:     "0.0.0.0:8080", // what the running server listens on
			ErrorLog: slog.New(slog.NewTextHandler(&logs, nil)),
			Reload: func() (*config.Config, error) {
				return config.Load(config.Options{Env: []string{"WEFT_CONFIG=" + file}})
			},
		},
	}
	// Sanity: the in-process reload refuses this configuration.
	if c, err := r.cfg.Reload(); err != nil {
		t.Fatalf("the new file itself is valid: %v", err)
	} else if err := checkListen(ptr(c.Site()), c.Hosts(), r.cfg.Addr, false); err == nil {
		t.Fatal("checkListen accepts auth on 0.0.0.0")
	}
	if r.checkForWorkers() {
		t.Errorf("process engine: workers replaced with a configuration asking for passwords over plain HTTP on %s\n%s", r.cfg.Addr, logs.String())
	}
}

func ptr[T any](v T) *T { return &v }
