package cli

import (
	"flag"
	"fmt"
	"io"

	"keypool/app"
)

const serviceUsage = "keypool service install [--user|--system] [--config FILE] [--data-dir DIR] | uninstall [--user|--system]"

// serviceCmd writes, or removes, the systemd unit that runs keypool serve,
// and says what to run next: systemctl is the user's to run.
func serviceCmd(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "install" && args[0] != "uninstall") {
		return fmt.Errorf("%w: %s", errUsage, serviceUsage)
	}
	sub, args := args[0], args[1:]
	var p app.Params
	fs := flag.NewFlagSet("keypool service "+sub, flag.ContinueOnError)
	if sub == "install" {
		fs = commonFlags("service install", &p, stderr)
	}
	fs.SetOutput(stderr)
	fs.Bool("user", false, "a user unit, in ~/.config/systemd/user: runs while you are logged in (the default)")
	system := fs.Bool("system", false, "a system unit, in /etc/systemd/system: runs at boot, as you (run it with sudo)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	user := false
	fs.Visit(func(f *flag.Flag) { user = user || f.Name == "user" })
	if fs.NArg() > 0 || (user && *system) {
		return fmt.Errorf("%w: %s", errUsage, serviceUsage)
	}
	if sub == "uninstall" {
		u, err := app.UninstallService(*system)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Removed %s.\nNext: %s\n", u.Path, u.Next)
		return nil
	}
	u, err := app.InstallService(p, *system)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Wrote %s: it runs %s.\nNext: %s\nIts log is in the journal: %s\n", u.Path, u.Exec, u.Next, u.Logs)
	fmt.Fprintf(stdout, "Its database is in %s: keypool status --data-dir %s reads it.\n", u.DataDir, u.DataDir)
	if !*system {
		fmt.Fprintln(stdout, "A user service runs while you are logged in; to keep it running after you log out: loginctl enable-linger $USER")
	} else if p.ConfigPath == "" {
		fmt.Fprintln(stdout, "Without --config it serves the app's own accounts, whose secrets are in the desktop keychain, which a service started at boot cannot open: on a server, give it a config file.")
	}
	return nil
}
