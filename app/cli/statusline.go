package cli

import (
	"context"
	"fmt"
	"io"

	"keypool/app"
)

// statuslineCmd prints the line Claude Code's statusLine shows: it runs
// the command with the session's JSON on standard input after each message.
func statuslineCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var p app.Params
	fs := commonFlags("statusline", &p, stderr)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: statusline takes no arguments (Claude Code gives it JSON on standard input), got %q", errUsage, fs.Args())
	}
	return app.StatusLine(ctx, p, stdin, stdout)
}
