// Command keypool pools one person's AI accounts behind a relay on
// 127.0.0.1 that Claude Code, Codex CLI, Gemini CLI and OpenAI-compatible
// apps point at. With no command it is the desktop app (window, tray and the
// relay in-process; headless without a display, and in a build without cgo,
// which has no window); keypool serve runs the relay alone, and the other
// commands manage accounts, client keys and the CLIs' own configs.
//
// main chooses between the desktop app (package ui/desktop) and a command
// (package app/cli), and does nothing else.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	// First, before any library reads the environment (see envfix).
	_ "envfix"

	"keypool/app/cli"
	"keypool/ui/desktop"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, desktop.Run)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "keypool:", err)
		}
		os.Exit(cli.ExitCode(err))
	}
}
