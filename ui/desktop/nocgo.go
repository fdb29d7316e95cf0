//go:build !cgo

package desktop

import (
	"context"
	"fmt"
	"io"

	"keypool/app"
	"keypool/app/cli"
)

// Run, in a build without cgo (make build-headless: static, for servers and
// containers), shows nothing: there is no window without cgo, and the
// relay runs headless. --hidden is accepted, so an autostart entry written
// by the desktop build still starts it.
func Run(context.Context, app.Params, bool, io.Writer, io.Writer) error {
	return fmt.Errorf("%w: this build has no window (built without cgo)", cli.ErrNoWindow)
}
