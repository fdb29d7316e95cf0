package cli

import (
	"flag"
	"fmt"
	"io"

	"keypool/app"
)

// clientKeysCmd lists, adds and removes the local client keys: the keys
// Claude Code, Codex and Gemini CLI present to the relay.
func clientKeysCmd(args []string, stdout, stderr io.Writer) error {
	var name string
	sub, pos, p, err := subcommand{name: "client-keys", usageLine: "keypool client-keys list | add [--name N] | remove ID [--data-dir DIR]",
		args: map[string]int{"list": 0, "add": 0, "remove": 1},
		flags: func(sub string, fs *flag.FlagSet) {
			if sub == "add" {
				fs.StringVar(&name, "name", "", `a name that says which client holds it (default: "key N")`)
			}
		}}.parse(args, stderr)
	if err != nil {
		return err
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

// subcommand is a command with subcommands of its own over the client
// keys of a data dir (keypool client-keys, keypool profiles): how many
// arguments each takes, and the flags some add.
type subcommand struct {
	name      string         // "client-keys"
	usageLine string         // shown on a usage error
	args      map[string]int // subcommand → its positional arguments
	// flags adds the flags of a subcommand to fs.
	flags func(sub string, fs *flag.FlagSet)
}

// parse reads args: the subcommand, its flags (--data-dir for all) and
// its arguments, checked against args.
func (c subcommand) parse(args []string, stderr io.Writer) (sub string, pos []string, p app.Params, err error) {
	if len(args) == 0 {
		return "", nil, p, fmt.Errorf("%w: %s", errUsage, c.usageLine)
	}
	sub, args = args[0], args[1:]
	p = app.Params{Keychain: app.UserKeychain()}
	fs := flag.NewFlagSet("keypool "+c.name+" "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&p.DataDir, "data-dir", "", "Keypool's data dir (default: the user config dir's keypool folder)")
	if c.flags != nil {
		c.flags(sub, fs)
	}
	if pos, err = parseArgs(fs, args); err != nil {
		return "", nil, p, err
	}
	n, known := c.args[sub]
	if !known {
		return "", nil, p, fmt.Errorf("%w: unknown %s command %q: %s", errUsage, c.name, sub, c.usageLine)
	}
	if len(pos) != n {
		return "", nil, p, fmt.Errorf("%w: %s", errUsage, c.usageLine)
	}
	return sub, pos, p, nil
}
