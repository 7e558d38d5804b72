package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestAccessLogTime: log_time chooses the zone of the access log's times:
// local (the default: the process's, from TZ) or UTC, in a prefork
// worker's log as in a single process's. TZ is a zone far from UTC, so
// that the two differ.
func TestAccessLogTime(t *testing.T) {
	if _, err := os.Stat("/usr/share/zoneinfo/Asia/Tokyo"); err != nil {
		t.Skip("no zoneinfo for Asia/Tokyo")
	}
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "site"), 0o755)
	writeFile(t, filepath.Join(dir, "site", "a.txt"), "a\n")
	const format = `$time_iso8601 [$time_local] $request_uri`
	for _, eng := range []string{"goroutine", "process"} {
		for _, tc := range []struct {
			name       string
			args       []string
			iso, local string // the zones the two times must show
		}{{"default", nil, "+09:00", "+0900"}, {"utc", []string{"--log-time", "utc"}, "+00:00", "+0000"}} {
			t.Run(eng+"/"+tc.name, func(t *testing.T) {
				logFile := filepath.Join(t.TempDir(), "access.log")
				pr, pw, err := os.Pipe()
				if err != nil {
					t.Fatal(err)
				}
				args := append([]string{"site", "--engine", eng, "--workers", "1", "--log-format", format, "--access-log", logFile}, tc.args...)
				s := startServeIn(t, dir, []string{"TZ=Asia/Tokyo"}, pr, pw, nil, args...)
				pr.Close()
				rawGet(t, s.addr, "/a.txt?zone")
				re := regexp.MustCompile(`(?m)^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d) \[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\] /a\.txt\?zone$`)
				var m []string
				for deadline := time.Now().Add(10 * time.Second); m == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
					b, _ := os.ReadFile(logFile)
					m = re.FindStringSubmatch(string(b))
				}
				if m == nil {
					b, _ := os.ReadFile(logFile)
					t.Fatalf("no line of %q in the log:\n%s", format, b)
				}
				if !strings.HasSuffix(m[1], tc.iso) || !strings.HasSuffix(m[2], tc.local) {
					t.Errorf("times %s and %s, want them in %s", m[1], m[2], tc.iso)
				}
				// Both say the same instant, whatever the zone.
				a, _ := time.Parse(time.RFC3339, m[1])
				b, _ := time.Parse("02/Jan/2006:15:04:05 -0700", m[2])
				if !a.Equal(b) || time.Since(a).Abs() > time.Hour {
					t.Errorf("times %s and %s: not the same instant, or not now", m[1], m[2])
				}
			})
		}
	}
}
