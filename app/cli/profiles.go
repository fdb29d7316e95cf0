package cli

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"keypool/app"
)

// profilesCmd lists, adds and removes profiles: named subsets of the
// accounts, each served through a client key of its own.
func profilesCmd(args []string, stdout, stderr io.Writer) error {
	var accounts string
	sub, pos, p, err := subcommand{name: "profiles", usageLine: "keypool profiles list | add NAME --accounts a,b | remove NAME [--data-dir DIR]",
		args: map[string]int{"list": 0, "add": 1, "remove": 1},
		flags: func(sub string, fs *flag.FlagSet) {
			if sub == "add" {
				fs.StringVar(&accounts, "accounts", "", "the accounts that serve the profile, by id, comma-separated")
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
		list, err := keys.ListProfiles()
		if err != nil {
			return err
		}
		printProfiles(stdout, list)
	case "add":
		var ids []string
		for _, id := range strings.Split(accounts, ",") {
			if id = strings.TrimSpace(id); id != "" {
				ids = append(ids, id)
			}
		}
		pr, value, err := keys.AddProfile(pos[0], ids)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Added profile %s (%s), client key %s. A client that sends this key is served by these accounts only; "+
			"keypool connect CLI --project DIR --profile %s writes it into a project. Its value, shown once here:\n%s\n",
			pr.Name, strings.Join(pr.Accounts, ", "), pr.KeyID, pr.Name, value.Reveal())
	case "remove":
		if err := keys.RemoveProfile(pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Removed profile %s; clients using its key are no longer served by it.\n", pos[0])
	}
	return nil
}

// printProfiles writes the profiles as a table.
func printProfiles(w io.Writer, list []app.ProfileInfo) {
	if len(list) == 0 {
		fmt.Fprintln(w, "No profiles. Add one: keypool profiles add NAME --accounts a,b")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROFILE\tACCOUNTS\tKEY\tSTATE")
	for _, p := range list {
		state := "ok"
		if p.Broken != "" {
			state = p.Broken
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name, strings.Join(p.Accounts, ", "), p.KeyID, state)
	}
	tw.Flush()
}
