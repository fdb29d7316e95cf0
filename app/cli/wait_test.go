package cli

import (
	"context"
	"fmt"
	"io"

	"keypool/app"
	"keypool/internal/waittest"
)

// waitFor is shared with the other packages' tests.
var waitFor = waittest.Until

// run is Run as keypool runs on a machine with no display: the desktop app
// runs the relay headless.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return Run(ctx, args, stdin, stdout, stderr, noDisplay)
}

func noDisplay(context.Context, app.Params, bool, io.Writer, io.Writer) error {
	return fmt.Errorf("%w: no display", ErrNoWindow)
}
