package main

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	goqr "github.com/piglig/go-qr"
)

// qrCells reads writeQR's text back into modules: light[y][x] for each
// module row y (two to a line of text), quiet zone included.
func qrCells(t *testing.T, text string) [][]bool {
	t.Helper()
	var light [][]bool
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		var top, bottom []bool
		for _, r := range line {
			switch r {
			case '█':
				top, bottom = append(top, true), append(bottom, true)
			case '▀':
				top, bottom = append(top, true), append(bottom, false)
			case '▄':
				top, bottom = append(top, false), append(bottom, true)
			case ' ':
				top, bottom = append(top, false), append(bottom, false)
			default:
				t.Fatalf("unexpected %q in the QR code", r)
			}
		}
		light = append(light, top, bottom)
	}
	return light
}

// qrImage draws cells as a dark terminal shows them: light cells white,
// the rest black, with a margin of dark terminal around.
func qrImage(light [][]bool) image.Image {
	const scale, margin = 6, 3
	h, w := len(light), len(light[0])
	img := image.NewGray(image.Rect(0, 0, (w+2*margin)*scale, (h+2*margin)*scale))
	for y, row := range light {
		for x, on := range row {
			if !on {
				continue
			}
			for dy := range scale {
				for dx := range scale {
					img.SetGray((x+margin)*scale+dx, (y+margin)*scale+dy, color.Gray{Y: 255})
				}
			}
		}
	}
	return img
}

// TestQR: the terminal rendering is the library's matrix exactly, in a
// light quiet zone, and a real decoder reads the URL back from it drawn
// as a dark terminal shows it (zbarimg, required when
// WEFT_TEST_REQUIRE_ZBAR=1 as in CI; else the QR library's own decoder).
func TestQR(t *testing.T) {
	for _, url := range []string{"http://192.168.1.20:8080/", "https://[2001:db8:1234:5678:9abc:def0:1234:5678]:8443/"} {
		t.Run(url, func(t *testing.T) {
			var b bytes.Buffer
			if err := writeQR(&b, url); err != nil {
				t.Fatal(err)
			}
			light := qrCells(t, b.String())
			code, err := goqr.EncodeText(url, goqr.Medium)
			if err != nil {
				t.Fatal(err)
			}
			n := code.Size()
			for y := range light {
				if len(light[y]) != n+2*qrQuiet {
					t.Fatalf("row %d: %d modules wide, want %d", y, len(light[y]), n+2*qrQuiet)
				}
			}
			// A code of odd size leaves half a line: the last row of text
			// has only its upper half in the code.
			if want := n + 2*qrQuiet; len(light) != want+want%2 {
				t.Fatalf("%d module rows, want %d", len(light), want+want%2)
			}
			for y := range n + 2*qrQuiet {
				for x := range n + 2*qrQuiet {
					want := !code.Module(x-qrQuiet, y-qrQuiet)
					if light[y][x] != want {
						t.Fatalf("module (%d,%d): light %v, want %v", x-qrQuiet, y-qrQuiet, light[y][x], want)
					}
				}
			}
			if light[len(light)-1][0] && (n+2*qrQuiet)%2 == 1 {
				t.Errorf("the padding half line is drawn light; it should be left to the terminal")
			}
			img := qrImage(light[:n+2*qrQuiet])
			if got := zbarDecode(t, img); got != "" && got != url {
				t.Errorf("zbarimg read %q, want %q", got, url)
			} else if got == "" {
				got, err := goqr.Decode(img)
				if err != nil || got != url {
					t.Errorf("the QR library read %q (%v), want %q", got, err, url)
				}
			}
		})
	}
}

// zbarDecode decodes img with zbarimg, or returns "" when zbarimg is
// missing and not required.
func zbarDecode(t *testing.T, img image.Image) string {
	t.Helper()
	zbar, err := exec.LookPath("zbarimg")
	if err != nil {
		if os.Getenv("WEFT_TEST_REQUIRE_ZBAR") == "1" {
			t.Fatal("zbarimg not found (apt-get install zbar-tools); WEFT_TEST_REQUIRE_ZBAR=1 makes its absence a failure")
		}
		t.Log("zbarimg not found (apt-get install zbar-tools): decoding with the QR library instead")
		return ""
	}
	name := filepath.Join(t.TempDir(), "qr.png")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	f.Close()
	out, err := exec.Command(zbar, "--raw", "-q", name).Output()
	if err != nil {
		t.Fatalf("zbarimg: %v (read nothing from the rendering)", err)
	}
	return strings.TrimSuffix(string(out), "\n")
}

func TestQRWithoutLAN(t *testing.T) {
	var b bytes.Buffer
	printQR(&b, []string{"http://127.0.0.1:8080/"})
	if !strings.Contains(b.String(), "no LAN URL") || !strings.Contains(b.String(), "--addr 0.0.0.0:PORT") {
		t.Errorf("printQR without a LAN URL: %q", b.String())
	}
}

func TestOpener(t *testing.T) {
	for goos, want := range map[string]string{
		"linux":   "xdg-open",
		"freebsd": "xdg-open",
		"darwin":  "open",
		"windows": "rundll32 url.dll,FileProtocolHandler",
	} {
		name, args := opener(goos)
		if got := strings.Join(append([]string{name}, args...), " "); got != want {
			t.Errorf("%s: %q, want %q", goos, got, want)
		}
	}
}
