package accesslog_test

import (
	"encoding/base64"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/weft-server/weft/internal/accesslog"
	"github.com/weft-server/weft/internal/http1"
)

var full = http1.Record{
	Remote:    netip.MustParseAddrPort("192.0.2.7:4321"),
	Time:      time.Date(2026, 11, 25, 20, 0, 0, 123_456_789, time.FixedZone("CET", 3600)),
	Method:    []byte("GET"),
	Target:    []byte("/a?b=c"),
	Host:      []byte("example.org"),
	Major:     1,
	Minor:     1,
	Status:    206,
	Bytes:     1000,
	Sent:      1234,
	Duration:  1234567 * time.Microsecond,
	Referer:   []byte("https://r.example/"),
	UserAgent: []byte("curl/8"),
	Headers: []http1.Header{
		{Name: []byte("Host"), Value: []byte("example.org")},
		{Name: []byte("X-Request-Id"), Value: []byte("abc-1")},
		{Name: []byte("Authorization"), Value: []byte("Basic " + base64.StdEncoding.EncodeToString([]byte("alice:secret:x")))},
	},
}

func TestTemplate(t *testing.T) {
	for _, tc := range []struct {
		tmpl string
		rec  *http1.Record
		utc  bool
		want string
	}{
		{`$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`, &full, false,
			`192.0.2.7 - alice [25/Nov/2026:20:00:00 +0100] "GET /a?b=c HTTP/1.1" 206 1000 "https://r.example/" "curl/8"`},
		{`$time_iso8601 $msec $request_time $bytes_sent`, &full, false, `2026-11-25T20:00:00+01:00 1795633200.123 1.234 1234`},
		{`$time_iso8601 $time_local`, &full, true, `2026-11-25T19:00:00+00:00 25/Nov/2026:19:00:00 +0000`},
		{`${request_method}:${request_uri} $server_protocol $host $remote_port`, &full, false, `GET:/a?b=c HTTP/1.1 example.org 4321`},
		{`$http_x_request_id|$HTTP_X_REQUEST_ID|$http_x_missing|${http_x_request_id}x`, &full, false, `abc-1|abc-1|-|abc-1x`},
		// A request refused before it could be parsed: no method,
		// target, protocol, user or fields.
		{`"$request" $server_protocol $remote_user $http_x_request_id $request_method`, &http1.Record{Status: 400}, false, `" " - - - -`},
		// Literal text around variables, a lone dollar refused (below).
		{`[$status]`, &full, false, `[206]`},
	} {
		f, err := accesslog.ParseFormat(tc.tmpl)
		if err != nil {
			t.Fatalf("%q: %v", tc.tmpl, err)
		}
		if tc.utc {
			f = f.UTC()
		}
		if got := string(f.Append(nil, tc.rec)); got != tc.want+"\n" {
			t.Errorf("%q:\n got %q\nwant %q", tc.tmpl, got, tc.want+"\n")
		}
	}
}

// A template's variable names are checked once, when it is parsed: an
// unknown one is refused with a one-line error naming it.
func TestTemplateRefused(t *testing.T) {
	for tmpl, want := range map[string]string{
		`$remote_addr $bogus`: "unknown variable $bogus",
		`${status`:            `"$" at byte 0 names no variable`,
		`cost: $ 5 $status`:   `"$" at byte 6 names no variable`,
		`$http_`:              "unknown variable $http_",
		"$status\n$status":    "a template is one line",
		`xml`:                 `unknown log format "xml"`,
	} {
		_, err := accesslog.ParseFormat(tmpl)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error %v, want one line with %q", tmpl, err, want)
		}
	}
}

// TestTemplateEscapes: a hostile request field cannot forge a line or a
// column: quotes, backslashes, control and non-ASCII bytes become \xHH,
// as nginx writes them.
func TestTemplateEscapes(t *testing.T) {
	evil := "x\" 200 1\n192.0.2.66 - - [x] \"GET /forged\\ \x1b[31m\xff"
	user := base64.StdEncoding.EncodeToString([]byte("ev\"il\n:pw"))
	r := http1.Record{
		Remote: netip.MustParseAddrPort("192.0.2.7:1"), Method: []byte("GET"), Target: []byte("/\"\n"), Major: 1, Minor: 1, Status: 200,
		Host: []byte(evil), Referer: []byte(evil), UserAgent: []byte(evil),
		Headers: []http1.Header{{Name: []byte("X-Evil"), Value: []byte(evil)}, {Name: []byte("Authorization"), Value: []byte("Basic " + user)}},
	}
	f, err := accesslog.ParseFormat(`"$request" "$host" "$http_referer" "$http_user_agent" "$http_x_evil" "$remote_user"`)
	if err != nil {
		t.Fatal(err)
	}
	got := string(f.Append(nil, &r))
	esc := `x\x22 200 1\x0A192.0.2.66 - - [x] \x22GET /forged\x5C \x1B[31m\xFF`
	want := `"GET /\x22\x0A HTTP/1.1" "` + esc + `" "` + esc + `" "` + esc + `" "` + esc + `" "ev\x22il\x0A"` + "\n"
	if got != want {
		t.Errorf("\n got %q\nwant %q", got, want)
	}
	if strings.Count(got, "\n") != 1 || strings.Count(got, `"`) != 12 {
		t.Errorf("the line was forged: %q", got)
	}
}

// TestLocalOrUTC: local time keeps the record's zone (the process's
// local time), UTC converts, in every format.
func TestLocalOrUTC(t *testing.T) {
	r := full
	for _, f := range []accesslog.Format{accesslog.Common, accesslog.JSON} {
		local, utc := string(f.Append(nil, &r)), string(f.UTC().Append(nil, &r))
		if !strings.Contains(local, "20:00:00") || !strings.Contains(local, "+01") {
			t.Errorf("local: %q", local)
		}
		if !strings.Contains(utc, "19:00:00") || strings.Contains(utc, "+01") {
			t.Errorf("UTC: %q", utc)
		}
	}
}

// Writing a template's line allocates nothing, whatever its variables.
func TestTemplateAllocatesNothing(t *testing.T) {
	f, err := accesslog.ParseFormat(`$remote_addr $remote_port $remote_user [$time_local] $time_iso8601 $msec "$request" $request_method $request_uri ` +
		`$server_protocol $status $body_bytes_sent $bytes_sent $request_time $host "$http_referer" "$http_user_agent" $http_x_request_id`)
	if err != nil {
		t.Fatal(err)
	}
	f = f.UTC()
	buf := make([]byte, 0, 4096)
	if n := testing.AllocsPerRun(1000, func() { buf = f.Append(buf[:0], &full) }); n != 0 {
		t.Errorf("%v allocations per line", n)
	}
}

// TestREADMEVariables: the README's table of template variables lists
// exactly Variables, and each of its names parses.
func TestREADMEVariables(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, m := range regexp.MustCompile("(?m)^\\| `\\$(\\w+)` \\|").FindAllStringSubmatch(string(b), -1) {
		listed = append(listed, m[1])
	}
	if !slices.Equal(listed, accesslog.Variables) {
		t.Errorf("README lists %v,\nwant %v", listed, accesslog.Variables)
	}
	for _, v := range listed {
		if _, err := accesslog.ParseFormat("$" + strings.Replace(v, "NAME", "x_name", 1)); err != nil {
			t.Errorf("$%s: %v", v, err)
		}
	}
}
