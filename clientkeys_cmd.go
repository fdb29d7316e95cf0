package main

import (
	"flag"
	"fmt"
	"io"

	"keypool/app"
)

// clientKeysCmd lists, adds and removes the local client keys: the keys
// Claude Code, Codex and Gemini CLI present to the relay.
func clientKeysCmd(args []string, stdout, stderr io.Writer) error {
	const usageLine = "keypool client-keys list | add [--name N] | remove ID [--data-dir DIR]"
	if len(args) == 0 {
		return fmt.Errorf("%w: %s", errUsage, usageLine)
	}
	sub, args := args[0], args[1:]
	p := app.Params{Keychain: osKeychain()}
	fs := flag.NewFlagSet("keypool client-keys "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&p.DataDir, "data-dir", "", "Keypool's data dir (default: the user config dir's keypool folder)")
	var name string
	if sub == "add" {
		fs.StringVar(&name, "name", "", `a name that says which client holds it (default: "key N")`)
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	wantArgs := map[string]int{"list": 0, "add": 0, "remove": 1}
	n, known := wantArgs[sub]
	if !known {
		return fmt.Errorf("%w: unknown client-keys command %q: %s", errUsage, sub, usageLine)
	}
	if len(pos) != n {
		return fmt.Errorf("%w: %s", errUsage, usageLine)
	}
	keys, done, err := app.OpenClientKeys(p)
	if err != nil {
		return err
	}
	defer done()
	switch sub {
	case "list":
		list, err := keys.ListClientKeys()
		if err != nil {
			return err
		}
		app.PrintClientKeys(stdout, list)
	case "add":
		if name == "" {
			list, err := keys.ListClientKeys()
			if err != nil {
				return err
			}
			name = fmt.Sprintf("key %d", len(list)+1)
		}
		k, value, err := keys.AddClientKey(name)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Added client key %s (%s). From now on clients must send a client key. Its value, shown once here (keypool env prints it too):\n%s\n", k.ID, k.Label, value.Reveal())
	case "remove":
		if err := keys.RemoveClientKey(pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Removed client key %s; clients using it are refused from now on.\n", pos[0])
	}
	return nil
}
