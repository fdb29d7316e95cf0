package cli

import (
	"fmt"
	"io"

	"keypool/app"
)

// startFlags parses the flags of keypool with no command: the desktop app
// (ui/desktop), or the relay alone where there is no window.
// hidden is --hidden: the tray only, as at login.
func startFlags(args []string, stderr io.Writer) (p app.Params, hidden bool, err error) {
	fs := commonFlags("", &p, stderr)
	fs.BoolVar(&hidden, "hidden", false, "start in the tray only (as at login)")
	portFlag(fs, &p)
	if err := fs.Parse(args); err != nil {
		return p, false, err
	}
	if fs.NArg() > 0 {
		return p, false, fmt.Errorf("%w: unexpected %q", errUsage, fs.Args())
	}
	return p, hidden, nil
}
