package main

import (
	"context"
	"fmt"
	"io"

	"keypool/app"
	"keypool/app/clients"
)

// envCmd prints the exports that point a CLI at the relay.
func envCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var p app.Params
	fs := commonFlags("env", &p, stderr)
	shell := fs.String("shell", "bash", "bash, zsh, fish, powershell or cmd")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: keypool env claude|codex|gemini [--shell bash|zsh|fish|powershell|cmd]", errUsage)
	}
	c, err := clients.ParseClient(pos[0])
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	acc, err := app.Access(p, osKeychain())
	if err != nil {
		return err
	}
	out, err := clients.Exports(clients.Env(c, acc.Base, acc.Key), *shell)
	if err != nil {
		return err
	}
	if c == clients.Codex {
		// Codex reads its base URL from a provider in ~/.codex/config.toml.
		fmt.Fprintf(stdout, "%s model_provider = \"keypool\" with [model_providers.keypool] base_url = \"%s/openai/v1\", env_key = \"%s\", wire_api = \"responses\" in ~/.codex/config.toml\n",
			commentMark(*shell), acc.Base, clients.CodexKeyVar)
	}
	fmt.Fprint(stdout, out)
	return nil
}

func commentMark(shell string) string {
	if shell == "cmd" {
		return "REM"
	}
	return "#"
}

// autostartCmd turns starting at login on or off, or says whether it is.
func autostartCmd(args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return fmt.Errorf("%w: keypool autostart on|off|status", errUsage)
	}
	switch args[0] {
	case "on", "off":
		if err := app.SetStartAtLogin(args[0] == "on"); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Start at login: %s.\n", args[0])
		return nil
	case "status":
		on, err := app.StartAtLogin()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Start at login: %v.\n", map[bool]string{true: "on", false: "off"}[on])
		return nil
	}
	return fmt.Errorf("%w: keypool autostart on|off|status", errUsage)
}
