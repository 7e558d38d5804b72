package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"

	goqr "github.com/piglig/go-qr"

	"github.com/weft-server/weft/internal/server"
)

// The sharing conveniences of weft serve: --qr prints the LAN URL as a QR
// code, --open opens the first URL in a browser.

// qrQuiet is the light border around the code, in modules. The standard
// asks for 4; 2 is what qrencode prints in a terminal, and phones read it.
const qrQuiet = 2

// printQR writes a QR code of the LAN URL among urls to w, or says why
// there is none.
func printQR(w io.Writer, urls []string) {
	u, ok := server.LANURL(urls)
	if !ok {
		fmt.Fprintf(w, "weft: --qr: no LAN URL: %s is reachable from this machine only; listen on the network with --addr 0.0.0.0:PORT\n", urls[0])
		return
	}
	if err := writeQR(w, u); err != nil {
		fmt.Fprintf(w, "weft: --qr: %v\n", err)
		return
	}
	fmt.Fprintf(w, "weft: scan to open %s\n", u)
}

// writeQR draws a QR code of text with Unicode half blocks, two modules
// to a character cell. As qrencode's UTF8 output, it assumes light text
// on a dark terminal: light modules and the quiet zone are drawn, dark
// modules are left blank, so that the code shows dark on light.
func writeQR(w io.Writer, text string) error {
	code, err := goqr.EncodeText(text, goqr.Medium)
	if err != nil {
		return fmt.Errorf("weft: QR code: %w", err)
	}
	light := func(x, y int) bool { return !code.Module(x, y) } // Module is false outside the code
	n := code.Size()
	var b strings.Builder
	for y := -qrQuiet; y < n+qrQuiet; y += 2 {
		for x := -qrQuiet; x < n+qrQuiet; x++ {
			top := light(x, y)
			bottom := y+1 < n+qrQuiet && light(x, y+1)
			b.WriteString(halfBlock(top, bottom))
		}
		b.WriteByte('\n')
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// halfBlock is the character cell whose upper half is drawn when top and
// lower half when bottom.
func halfBlock(top, bottom bool) string {
	switch {
	case top && bottom:
		return "█"
	case top:
		return "▀"
	case bottom:
		return "▄"
	}
	return " "
}

// envTestOpener names a program that tests run instead of the system's
// opener: it is given the URL as its only argument.
const envTestOpener = "WEFT_TEST_OPENER"

// openBrowser opens url in the default browser, without waiting for it. A
// failure is a warning on stderr: weft goes on serving.
func openBrowser(url string, stderr io.Writer) {
	name, args := opener(runtime.GOOS)
	if p := os.Getenv(envTestOpener); p != "" {
		name, args = p, nil
	}
	cmd := exec.Command(name, append(args, url)...)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(stderr, "weft: --open: cannot open a browser: %v; open %s yourself\n", err, url)
		return
	}
	go func() {
		if err := cmd.Wait(); err != nil {
			fmt.Fprintf(stderr, "weft: --open: %s %s: %v; open it yourself\n", name, url, err)
		}
	}()
}

// opener is the command that opens a URL on goos, before the URL.
func opener(goos string) (string, []string) {
	switch goos {
	case "darwin":
		return "open", nil
	case "windows":
		return "rundll32", []string{"url.dll,FileProtocolHandler"}
	}
	return "xdg-open", nil
}
