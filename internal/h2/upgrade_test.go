package h2_test

import (
	"testing"

	"golang.org/x/net/http2"

	"github.com/weft-server/weft/internal/h2"
)

// TestDecodeSettings: an HTTP2-Settings value decodes to its settings,
// with or without base64 padding; one not base64url, not a whole number
// of settings, or with a setting out of bounds is refused.
func TestDecodeSettings(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []http2.Setting
	}{
		{"", []http2.Setting{}},
		{"AAMAAABkAAQAoAAAAAIAAAAA", []http2.Setting{{ID: 3, Val: 100}, {ID: 4, Val: 0xa00000}, {ID: 2, Val: 0}}},
		{"AAMAAABk", []http2.Setting{{ID: 3, Val: 100}}},
		{"AAMAAABk==", []http2.Setting{{ID: 3, Val: 100}}},
		{"AP8AAAAB", []http2.Setting{{ID: 0xff, Val: 1}}}, // unknown: kept, ignored when applied
	} {
		got, err := h2.DecodeSettings([]byte(tc.in))
		if err != nil || len(got) != len(tc.want) {
			t.Fatalf("%q: %v, %v; want %v", tc.in, got, err, tc.want)
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%q: setting %d is %v, want %v", tc.in, i, got[i], tc.want[i])
			}
		}
	}
	for _, bad := range []string{
		"!!!",          // not base64
		"AAMAAABk+/==", // standard base64, not base64url
		"AAMAAA",       // 4 bytes: not a whole setting
		"AAIAAAAC",     // ENABLE_PUSH 2
		"AAT_____",     // INITIAL_WINDOW_SIZE 2^32-1
		"AAUAAAAA",     // MAX_FRAME_SIZE 0
	} {
		if got, err := h2.DecodeSettings([]byte(bad)); err == nil {
			t.Errorf("%q: decoded to %v, want an error", bad, got)
		}
	}
}
