package app

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"keypool/app/config"
	"keypool/app/secrets"
	"keypool/app/store"
	"keypool/app/version"
	"keypool/relay"
	"keypool/relay/pool"
	"keypool/relay/provider"
)

// Status prints accounts, cooldowns and today's usage. When a relay holds the
// data dir it is asked over HTTP; otherwise the store file is read directly.
func Status(ctx context.Context, p Params, w io.Writer) error {
	setup, err := Resolve(p)
	if err != nil {
		return err
	}
	cfg, dbPath := setup.Config, setup.Files.DB
	st, err := store.OpenReadOnly(dbPath, 200*time.Millisecond)
	switch {
	case errors.Is(err, store.ErrLocked):
		return statusFromRelay(ctx, dbPath, monitorKey(cfg), w)
	case errors.Is(err, os.ErrNotExist):
		fmt.Fprintf(w, "Keypool is not running and has no data yet (%s).\n", dbPath)
		return nil
	case err != nil:
		return err
	}
	defer st.Close()

	now := time.Now()
	days, err := st.Day(now)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "Keypool relay: not running (data: %s)\n\n", dbPath)
	h := relay.Health{Time: now, Version: version.Get().Version}
	if on := cfg.Updates.Check; on != nil && *on || on == nil && settingIs(st, settingUpdatesCheck, "on") {
		if r, ok := storedRelease(st.Setting); ok {
			h.Update = &relay.NewerVersion{Version: r.Version, Notes: r.Notes}
		}
	}
	byAccount := map[string]*relay.DayStats{}
	if p.ConfigPath != "" {
		for _, ca := range cfg.Accounts {
			h.Accounts = append(h.Accounts, relay.AccountHealth{ID: ca.ID, Name: ca.Name, Type: pool.Kind(ca.Type),
				Priority: ca.Priority, Enabled: ca.Enabled, State: pool.StateStopped})
		}
	} else {
		list, err := st.Accounts()
		if err != nil {
			return err
		}
		// Secrets are looked at only where that prompts nobody: a keychain
		// that is unlocked, whose entries have today's names.
		layout, _ := st.Setting(settingKeychainLayout)
		checkSecrets := keychainOpen(p.Keychain) && layout == keychainLayoutOwners
		for _, sa := range list {
			pa := []pool.Account{poolAccount(sa)}
			if checkSecrets {
				markMissing(p.Keychain, pa)
			}
			// Without a relay nothing is known of its limits: an account
			// that would serve is stopped.
			state := pool.AccountStateOf(pa[0], provider.Known(sa.Type), nil, false)
			if state == pool.StateReady {
				state = pool.StateStopped
			}
			h.Accounts = append(h.Accounts, relay.AccountHealth{ID: sa.ID, Name: sa.Name, Type: sa.Type,
				Priority: sa.Priority, Enabled: sa.Enabled, State: state, LoginEnds: sa.LoginExpiry})
		}
	}
	for _, d := range days {
		s := byAccount[d.Account]
		if s == nil {
			s = &relay.DayStats{}
			byAccount[d.Account] = s
		}
		s.Counts = s.Counts.Plus(d.Counts)
		s.Usage = s.Usage.Add(d.Usage)
		s.CostUSD += d.CostUSD
	}
	for i := range h.Accounts {
		h.Accounts[i].Today = byAccount[h.Accounts[i].ID]
		delete(byAccount, h.Accounts[i].ID)
	}
	// Accounts with usage today that are not in this config.
	var rest []string
	for id := range byAccount {
		rest = append(rest, id)
	}
	sort.Strings(rest)
	for _, id := range rest {
		h.Accounts = append(h.Accounts, relay.AccountHealth{ID: id, State: pool.StateStopped, Today: byAccount[id]})
	}
	printHealth(w, h)
	if p.ConfigPath == "" {
		printStoredClientKeys(w, st, p.Keychain)
	}
	return nil
}

// settingIs reports whether st's setting key holds want.
func settingIs(st *store.Store, key, want string) bool {
	v, err := st.Setting(key)
	return err == nil && v == want
}

// keychainOpen reports whether keys can be read without asking the user:
// it is there and, where that can be seen, not locked.
func keychainOpen(keys secrets.Keychain) bool {
	if keys == nil {
		return false
	}
	if l, ok := keys.(interface{ Locked() (bool, error) }); ok {
		locked, err := l.Locked()
		return errors.Is(err, errors.ErrUnsupported) || err == nil && !locked
	}
	return true
}

// printStoredClientKeys adds the store's client keys to the status, each
// checked against the keychain, when there are any.
func printStoredClientKeys(w io.Writer, st *store.Store, keys secrets.Keychain) {
	list, err := st.ClientKeys()
	if err != nil || len(list) == 0 {
		return
	}
	fmt.Fprintln(w)
	if layout, _ := st.Setting(settingKeychainLayout); !keychainOpen(keys) || layout != keychainLayoutOwners {
		fmt.Fprintf(w, "%d client keys (not checked: the keychain is locked, or Keypool has not started since its update).\n", len(list))
		return
	}
	infos, err := ClientKeyStore{Store: st, Keys: keys}.ListClientKeys()
	if err != nil {
		fmt.Fprintf(w, "%d client keys, not checked: %v\n", len(list), err)
		return
	}
	PrintClientKeys(w, infos)
}

// monitorKey is what status shows the relay for /health when the config
// says monitors need a key: the metrics token, or else the first client
// key; "" when they need none.
func monitorKey(cfg *config.File) string {
	if !cfg.Server.MonitorsNeedKey {
		return ""
	}
	if cfg.MetricsToken != "" || len(cfg.APIKeys) == 0 {
		return cfg.MetricsToken
	}
	return cfg.APIKeys[0]
}

// statusFromRelay asks the relay that holds dbPath for its health, with
// key when it needs one.
func statusFromRelay(ctx context.Context, dbPath, key string, w io.Writer) error {
	b, err := os.ReadFile(RunFile(dbPath))
	if err != nil {
		return fmt.Errorf("%s is in use by another process, but its run file is missing: %w", dbPath, err)
	}
	var ri RunInfo
	if err := json.Unmarshal(b, &ri); err != nil {
		return fmt.Errorf("read %s: %w", RunFile(dbPath), err)
	}
	base := baseURL(ri.Addr, ri.TLSCert != "", "")
	url := base + "/health"
	client, err := relayClient(ri)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("ask the running relay (pid %d) at %s: %w", ri.PID, url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("ask the running relay (pid %d) at %s: %s (with [server] monitors_need_key, run status with its --config)", ri.PID, url, resp.Status)
	}
	var h relay.Health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return fmt.Errorf("read %s: %w", url, err)
	}
	fmt.Fprintf(w, "Keypool relay %s: running at %s (pid %d, since %s) — %s\n\n",
		cmp.Or(h.Version, "(version unknown)"), base, ri.PID, ri.Started.Local().Format("2006-01-02 15:04"), h.Status)
	printHealth(w, h)
	// The client keys, from the relay's control socket (a relay that serves
	// a config file has none of its own).
	if r, err := DialAccounts(dbPath); err == nil {
		if list, err := r.ListClientKeys(); err == nil && len(list) > 0 {
			fmt.Fprintln(w)
			PrintClientKeys(w, list)
		}
	}
	return nil
}

// printHealth writes the accounts table.
func printHealth(w io.Writer, h relay.Health) {
	if h.Blocked != "" {
		fmt.Fprintf(w, "WARNING: requests are refused: %s\n\n", h.Blocked)
	}
	if h.Store != nil {
		fmt.Fprintf(w, "WARNING: %s.\n\n", h.Store.Summary())
	}
	if len(h.Accounts) == 0 {
		fmt.Fprintln(w, "No accounts. Start with: keypool serve --config config.toml (see config.example.toml)")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tTYPE\tPRIO\tSTATE\tUNTIL\tREQUESTS\tERRORS\tINPUT\tOUTPUT\tCACHE WRITE\tCACHE READ\tCOST\tPLAN")
	for _, a := range h.Accounts {
		var until []string
		for _, c := range a.Cooldowns {
			s := c.Until.Local().Format("15:04:05") + " (" + c.Reason
			if c.Family != "all" {
				s += ", " + c.Family
			}
			until = append(until, s+")")
		}
		d := relay.DayStats{}
		if a.Today != nil {
			d = *a.Today
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%d\t%s\t%d\t%d\t%d\t%d\t$%.4f\t%s\n", a.ID, a.Type, a.Priority, a.State,
			dash(strings.Join(until, "; ")), d.Requests, d.ErrorText(), d.InputTokens, d.OutputTokens, d.CacheWriteTokens, d.CacheReadTokens,
			d.CostUSD, dash(planText(a, h.Time)))
	}
	tw.Flush()
	fmt.Fprintln(w, "\nUsage columns are today's (local time); a request that failed over counts on each account it tried.")
	printRunway(w, h)
	printPaid(w, h)
	if u := h.Update; u != nil {
		fmt.Fprintf(w, "\nUpdate: Keypool %s is available (this is %s): %s\n  keypool update installs it (or your package manager, if it installed Keypool).\n", u.Version, cmp.Or(h.Version, "unknown"), u.Notes)
	}
	printAttempts(w, h)
	printFixes(w, h)
}

// printPaid says which protocols are paid for per token because their
// plans are spent, and where the day's cap on paid answers stands.
func printPaid(w io.Writer, h relay.Health) {
	for _, ep := range h.Paying {
		fmt.Fprintf(w, "\nPaying: %s.\n", ep.Text(time.Local))
	}
	if c := h.PaidCap; c != nil {
		state := "paid answers serve"
		if c.Reached {
			state = "reached: only plans serve until midnight"
		}
		fmt.Fprintf(w, "\nDaily cap on paid answers: $%.2f paid today of $%.2f ([spend] paid_daily_usd); %s.\n", c.SpentUSD, c.DailyUSD, state)
	}
}

// planText is an account's plan in words: its windows, and paid extra usage
// when its plan is spent.
func planText(a relay.AccountHealth, now time.Time) string {
	if o := OverageText(a, now); o != "" {
		if q := pool.QuotaText(a.Quota, ", "); q != "" {
			return o + "; " + q
		}
		return o
	}
	return pool.QuotaText(a.Quota, ", ")
}

// OverageText says, for people, that an account's plan is spent and it
// answers on paid extra usage, until when, and whether Keypool uses it:
// "on extra usage (paid) until 15:05 — not used (allow_overage is off)".
// A closed extra usage says why. "" when neither.
func OverageText(a relay.AccountHealth, now time.Time) string {
	o := a.Overage
	switch {
	case o.Paid(now) && a.AllowOverage:
		return o.Text(now, time.Local) + " — used after every plan"
	case o.Paid(now):
		return o.Text(now, time.Local) + " — not used (allow_overage is off)"
	case o != nil && o.Status == "rejected" && o.DisabledReason != "":
		return "extra usage closed (" + o.DisabledReason + ")"
	}
	return ""
}

// loginSoon is how near its end a login is listed among the things to do.
const loginSoon = 7 * 24 * time.Hour

// printFixes says, for each account that waits for the user, what to do.
func printFixes(w io.Writer, h relay.Health) {
	var lines []string
	for _, a := range h.Accounts {
		switch a.State {
		case pool.StateNeedsKey:
			lines = append(lines, fmt.Sprintf("%s: its API key is missing from the keychain. Enter it in the window (Accounts, Edit), "+
				"or remove the account (keypool accounts remove %s) and add it again.", a.ID, a.ID))
		case pool.StateNeedsLogin:
			lines = append(lines, fmt.Sprintf("%s: needs a new login: keypool login %s --id %s (or Log in with browser in the window).", a.ID, loginCommand(a.Type), a.ID))
		default:
			if left := a.LoginEnds.Sub(h.Time); !a.LoginEnds.IsZero() && left < loginSoon {
				lines = append(lines, fmt.Sprintf("%s: %s (%s): log in again before then: keypool login %s --id %s.", a.ID,
					LoginEndsText(store.Account{LoginExpiry: a.LoginEnds}, h.Time), a.LoginEnds.Local().Format("Mon 2 Jan 15:04"), loginCommand(a.Type), a.ID))
			}
		}
	}
	if len(lines) > 0 {
		fmt.Fprintln(w, "\nTo do:")
		for _, l := range lines {
			fmt.Fprintln(w, "  "+l)
		}
	}
}

// loginCommand is keypool login's name for an OAuth account type.
func loginCommand(typ Kind) string {
	if name := LoginName(typ); name != "" {
		return name
	}
	return "claude"
}

// printAttempts writes, for a running relay, each account's attempts since
// it started with their errors by kind, and its latest error in words.
func printAttempts(w io.Writer, h relay.Health) {
	var rows []relay.AccountHealth
	for _, a := range h.Accounts {
		if a.Attempts.Requests > 0 || a.LastError != nil {
			rows = append(rows, a)
		}
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintln(w, "\nSince the relay started:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tREQUESTS\tERRORS\tLAST ERROR")
	for _, a := range rows {
		last := "-"
		if e := a.LastError; e != nil {
			last = e.Time.Local().Format("15:04:05") + " " + e.Message
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", a.ID, a.Attempts.Requests, a.Attempts.ErrorText(), last)
	}
	tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// relayClient reaches the relay a run file names. Over HTTPS it trusts
// exactly the certificate in the relay's own file, whatever names it holds
// (it is dialled at 127.0.0.1, which a CA-issued certificate never names).
func relayClient(ri RunInfo) (*http.Client, error) {
	if ri.TLSCert == "" {
		return http.DefaultClient, nil
	}
	pemData, err := os.ReadFile(ri.TLSCert)
	if err != nil {
		return nil, fmt.Errorf("the relay serves HTTPS: read its certificate: %w", err)
	}
	block, _ := pem.Decode(pemData)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("the relay serves HTTPS: %s holds no PEM certificate", ri.TLSCert)
	}
	leaf := block.Bytes
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DisableKeepAlives = true // one request, and nothing left behind
	tr.TLSClientConfig = &tls.Config{
		// Names are not checked; VerifyConnection pins the certificate.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, leaf) {
				return fmt.Errorf("the relay's certificate is not the one in %s", ri.TLSCert)
			}
			return nil
		},
	}
	return &http.Client{Transport: tr}, nil
}
