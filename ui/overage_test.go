package ui

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"keypool/app/secrets"
	"keypool/app/store"
	"keypool/relay/relaytest"
)

// A subscription on paid extra usage says so in its row and its tray item,
// with the time its plan resets; its Edit form lets the user allow it, and
// then it serves.
func TestOverageInTheWindow(t *testing.T) {
	f := newFixture(t)
	t.Cleanup(func() { f.keys.DeleteAll(secrets.Account("sub")) })
	if err := f.core.Accounts().Add(store.Account{ID: "sub", Name: "Max", Type: "claude-oauth", Enabled: true, APIURL: f.up.URL,
		Expiry: time.Now().Add(time.Hour)}, map[secrets.Field]secrets.Secret{secrets.AccessToken: secrets.New("sk-ant-oat-ui-secret")}); err != nil {
		t.Fatal(err)
	}
	f.core.ReloadAccounts()
	reset := time.Now().Add(2 * time.Hour)
	f.up.Default = relaytest.Reply{Body: relaytest.Message("claude-sonnet-4-5", "paid", 1, 1), Header: map[string]string{
		"Anthropic-Ratelimit-Unified-Status": "allowed", "Anthropic-Ratelimit-Unified-Representative-Claim": "overage",
		"Anthropic-Ratelimit-Unified-Overage-In-Use": "true", "Anthropic-Ratelimit-Unified-Overage-Status": "allowed",
		"Anthropic-Ratelimit-Unified-Reset": strconv.FormatInt(reset.Unix(), 10)}}
	if code := f.post("paid?"); code != 429 {
		t.Fatalf("request with the only plan on extra usage: %d, want 429", code)
	}
	f.refresh()
	acct, _ := f.core.Store().Account("sub")
	until := "on extra usage (paid) until " + reset.Local().Format("15:04")
	if reset.Local().Day() != time.Now().Day() {
		until = "on extra usage (paid) until " + reset.Local().Format("Mon 15:04")
	}
	s := f.ui.snapshot(true)
	if txt := s.stateText(acct); txt != until+" — not used (allow_overage is off)" {
		t.Errorf("row state = %q, want %q, not used", txt, until)
	}
	if item := findItem(trayMenu(s, f.ui.trayActions()), "Max"); item == nil || !strings.Contains(item.Label, until) {
		t.Errorf("tray menu: %q, want the Max item to say %q", labels(trayMenu(s, f.ui.trayActions())), until)
	}

	// Edit: the extra-usage check is there, off; turning it on and saving
	// lets the account serve on extra usage.
	f.ui.accounts.showEdit(acct)
	top := f.ui.win.Canvas().Overlays().Top()
	var check *widget.Check
	var save *widget.Button
	eachObject(top, func(o fyne.CanvasObject) bool {
		switch w := o.(type) {
		case *widget.Check:
			if strings.Contains(w.Text, "paid extra usage") {
				check = w
			}
		case *widget.Button:
			if w.Text == "Save" {
				save = w
			}
		}
		return true
	})
	if check == nil || save == nil || check.Checked {
		t.Fatalf("Edit form: check %v (checked %v), save %v; want an unchecked extra-usage check and Save", check != nil, check != nil && check.Checked, save != nil)
	}
	test.Tap(check)
	test.Tap(save)
	if !waitFor(3*time.Second, func() bool { a, _ := f.core.Store().Account("sub"); return a.AllowOverage }) {
		t.Fatal("after Save the stored account does not allow extra usage")
	}
	f.core.ReloadAccounts()
	if code := f.post("paid, allowed"); code != 200 {
		t.Errorf("request once allowed: %d, want 200", code)
	}
	f.refresh()
	acct, _ = f.core.Store().Account("sub")
	if txt := f.ui.snapshot(true).stateText(acct); txt != until+" — used after every plan" {
		t.Errorf("row state once allowed = %q", txt)
	}
}
