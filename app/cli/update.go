package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"keypool/app"
)

// updateCmd installs the newer Keypool the signed release feed names, or
// puts back the version the last update replaced.
func updateCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var p app.Params
	fs := commonFlags("update", &p, stderr)
	rollback := fs.Bool("rollback", false, "put back the version the last update replaced")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("%w: keypool update [--rollback]", errUsage)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	msg, err := app.InstallUpdate(ctx, p, "", *rollback, log)
	if errors.Is(err, app.ErrUpToDate) {
		fmt.Fprintf(stdout, "Nothing to do: %v.\n", err)
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, msg)
	return nil
}
