//go:build !cgo

package main

import (
	"context"
	"io"
)

// gui, in a build without cgo (make build-headless: static, for servers and
// containers), runs the relay: there is no window without cgo. --hidden is
// accepted, so an autostart entry written by the desktop build still
// starts it.
func gui(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	p, _, err := startFlags(args, stderr)
	if err != nil {
		return err
	}
	return runRelay(ctx, p, stdout, stderr)
}
