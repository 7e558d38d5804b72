package config

import (
	"strings"
	"testing"
)

// TestOperationsKeys: a unix socket address, its mode and owner, the user
// to switch to and allow_root, from flags and the environment; and the
// values refused, each with a one-line reason.
func TestOperationsKeys(t *testing.T) {
	c, _, err := load(t, "", []string{"WEFT_ALLOW_ROOT=1", "WEFT_UNIX_OWNER=root:www-data"},
		"--addr", "unix:/run/weft/weft.sock", "--unix-mode", "0660", "--user", "www-data:www-data")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen() != "unix:/run/weft/weft.sock" || c.UnixModeBits() != 0o660 || c.UnixOwner != "root:www-data" || c.User != "www-data:www-data" || !c.AllowRoot {
		t.Errorf("%q %o %q %q %v", c.Listen(), c.UnixModeBits(), c.UnixOwner, c.User, c.AllowRoot)
	}
	if p, ok := UnixPath(c.Listen()); !ok || p != "/run/weft/weft.sock" {
		t.Errorf("UnixPath: %q %v", p, ok)
	}
	if c, _, err := load(t, "", nil); err != nil || c.UnixModeBits() != 0o666 || c.User != "" || c.AllowRoot {
		t.Errorf("defaults: %v %o %q %v", err, c.UnixModeBits(), c.User, c.AllowRoot)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--addr", "unix:weft.sock"}, `invalid address "unix:weft.sock": want unix:/ABSOLUTE/PATH`},
		{[]string{"--addr", "unix:/run/weft.sock", "--port", "80"}, `"unix:/run/weft.sock" is a unix socket: it takes no port`},
		{[]string{"--unix-mode", "660x"}, `invalid mode "660x": want octal permissions such as 0660`},
		{[]string{"--unix-mode", "01777"}, `invalid mode "01777"`},
		{[]string{"--unix-owner", ":www-data"}, `invalid owner ":www-data": want USER or USER:GROUP`},
		{[]string{"--user", "a:b:c"}, `invalid owner "a:b:c"`},
	} {
		_, _, err := load(t, "", nil, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: %v\nwant one line with %s", tc.args, err, tc.want)
		}
	}
}
