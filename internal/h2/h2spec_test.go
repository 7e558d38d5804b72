package h2_test

import (
	"encoding/xml"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/weft-server/weft/internal/h2"
)

// TestH2spec runs h2spec (github.com/summerwind/h2spec) against the server
// over TLS and over h2c (prior knowledge only, so h2spec's invalid preface
// gets the connection closed), and wants every case
// to pass. Without h2spec on PATH or in GOPATH/bin the test is skipped,
// unless WEFT_TEST_REQUIRE_H2SPEC=1 (CI), where it fails.
func TestH2spec(t *testing.T) {
	bin := findH2spec(t)
	for _, mode := range []struct {
		name string
		tls  bool
	}{{"tls", true}, {"h2c", false}} {
		t.Run(mode.name, func(t *testing.T) {
			s := startServer(t, mode.tls, h2.Limits{})
			r := runH2spec(t, bin, s, mode.tls)
			if len(r.failed) > 0 || r.passed != h2specCases {
				t.Errorf("h2spec %s: %d/%d passed, %d skipped; failed: %s",
					mode.name, r.passed, h2specCases, r.skipped, strings.Join(r.failed, ", "))
			}
		})
	}
}

// h2specCases is the number of cases h2spec 2.x runs by default
// (generic, http2 and hpack; the strict cases are left out).
const h2specCases = 145

type h2specResult struct {
	passed, skipped int
	failed          []string // ids such as "http2/6.9.1/3"
}

// runH2spec runs h2spec once against s and reads its JUnit report.
func runH2spec(t *testing.T, bin string, s *server, useTLS bool, cases ...string) h2specResult {
	t.Helper()
	_, port, _ := net.SplitHostPort(s.addr)
	report := filepath.Join(t.TempDir(), "report.xml")
	args := append(cases, "-h", "127.0.0.1", "-p", port, "-o", "2", "-j", report)
	if useTLS {
		args = append(args, "-t", "-k")
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("h2spec: %v\n%s", err, out)
	}
	data, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("h2spec wrote no report: %v\n%s", err, out)
	}
	r, err := parseJUnit(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.failed) > 0 {
		t.Logf("h2spec output:\n%s", out)
	}
	return r
}

// parseJUnit reads h2spec's JUnit report: one testsuite per section (its
// package attribute is the section id, "http2/6.9.1"), one testcase per
// case, numbered from 1 in order.
func parseJUnit(data []byte) (h2specResult, error) {
	var doc struct {
		Suites []struct {
			Package string `xml:"package,attr"`
			Cases   []struct {
				Failure *struct{} `xml:"failure"`
				Error   *struct{} `xml:"error"`
				Skipped *struct{} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	var r h2specResult
	if err := xml.Unmarshal(data, &doc); err != nil {
		return r, err
	}
	for _, s := range doc.Suites {
		for i, c := range s.Cases {
			switch {
			case c.Failure != nil || c.Error != nil:
				r.failed = append(r.failed, s.Package+"/"+itoa(i+1))
			case c.Skipped != nil:
				r.skipped++
			default:
				r.passed++
			}
		}
	}
	return r, nil
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

func findH2spec(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("h2spec"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", "h2spec")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("WEFT_TEST_REQUIRE_H2SPEC") == "1" {
		t.Fatal("h2spec not found (go install github.com/summerwind/h2spec/cmd/h2spec@latest)")
	}
	t.Skip("h2spec not found; set WEFT_TEST_REQUIRE_H2SPEC=1 to make this a failure")
	return ""
}
