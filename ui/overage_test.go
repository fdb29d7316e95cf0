package ui

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"keypool/app"
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

// When a subscription's plan is spent and an API key takes over, the user
// is told once, the tray and the summary say who pays and what it cost;
// Settings set the runway warning and the daily cap on paid answers.
func TestPaidNotificationAndSettings(t *testing.T) {
	f := newFixture(t)
	f.addThroughDialog() // "Work key", an API key at priority 10, on f.up
	sub := relaytest.New()
	defer sub.Close()
	t.Cleanup(func() { f.keys.DeleteAll(secrets.Account("sub")) })
	if err := f.core.Accounts().Add(store.Account{ID: "sub", Name: "Max", Type: "claude-oauth", Priority: 100, Enabled: true, APIURL: sub.URL,
		Expiry: time.Now().Add(time.Hour)}, map[secrets.Field]secrets.Secret{secrets.AccessToken: secrets.New("sk-ant-oat-ui-secret")}); err != nil {
		t.Fatal(err)
	}
	f.core.ReloadAccounts()
	f.refresh()
	reset := time.Now().Add(time.Hour)
	sub.Default = relaytest.Reply{Status: 429, Body: relaytest.Error("rate_limit_error", "limit"), Header: map[string]string{
		"Anthropic-Ratelimit-Unified-Status": "rejected", "Anthropic-Ratelimit-Unified-5h-Status": "rejected",
		"Anthropic-Ratelimit-Unified-5h-Reset": strconv.FormatInt(reset.Unix(), 10), "Anthropic-Ratelimit-Unified-Reset": strconv.FormatInt(reset.Unix(), 10)}}
	paying := func() int {
		n := 0
		f.notes.mu.Lock()
		defer f.notes.mu.Unlock()
		for _, x := range f.notes.sent {
			if x.Title == "Keypool: now paying per token" {
				n++
				if !strings.HasPrefix(x.Content, "Claude plans are spent until ") || !strings.Contains(x.Content, "now paying with Work key") {
					t.Errorf("notification text %q", x.Content)
				}
			}
		}
		return n
	}
	for i := range 3 {
		if code := f.post("paid " + strconv.Itoa(i)); code != 200 {
			t.Fatalf("request %d: %d, want the key to serve", i, code)
		}
		f.core.Store().Flush(t.Context())
		f.refresh()
	}
	if n := paying(); n != 1 {
		t.Errorf("%d paying notifications after three paid answers, want 1", n)
	}
	s := f.ui.snapshot(true)
	if item := findItem(trayMenu(s, f.ui.trayActions()), "⚠ Claude plans are spent"); item == nil {
		t.Errorf("tray menu: %q, want a ⚠ item saying Claude plans are spent", labels(trayMenu(s, f.ui.trayActions())))
	}
	if got := s.summary(true); !strings.Contains(got, "now paying with Work key; <$0.01 since ") {
		t.Errorf("summary = %q, want who pays and what", got)
	}

	// Settings: the runway warning and the paid cap, applied at once.
	if sel := f.ui.settings.runway; sel.Selected != "30 min" {
		t.Errorf("runway warning select = %q, want the default 30 min", sel.Selected)
	}
	f.ui.settings.runway.SetSelected("1 h")
	if got := f.core.RunwayWarnMinutes(); got != 60 {
		t.Errorf("runway warning after choosing 1 h: %d", got)
	}
	f.ui.settings.paidCap.SetText("0.0001")
	f.ui.settings.paidCap.OnSubmitted("0.0001")
	if got := f.core.PaidDailyCap(); got != 0.0001 {
		t.Fatalf("paid cap after Set: %g", got)
	}
	if code := f.post("over the cap"); code != 429 {
		t.Errorf("paid answer past the cap: %d, want 429", code)
	}
	f.refresh()
	f.notes.mu.Lock()
	last := f.notes.sent[len(f.notes.sent)-1]
	f.notes.mu.Unlock()
	if last.Title != "Keypool: daily cap on paid answers reached" {
		t.Errorf("last notification %q, want the cap's", last.Title)
	}
}

// An account whose provider said when its login ends shows it in its row.
func TestLoginEndsInTheRow(t *testing.T) {
	f := newFixture(t)
	f.addThroughDialog()
	if err := f.core.Store().UpdateAccount("work", func(a *store.Account) error {
		a.LoginExpiry = time.Now().Add(12*24*time.Hour + time.Hour)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	f.refresh()
	acct, _ := f.core.Store().Account("work")
	if txt := f.ui.snapshot(true).stateText(acct); txt != "ready · login ends in 12 days" {
		t.Errorf("row state = %q, want \"ready · login ends in 12 days\"", txt)
	}
}

// Settings adds a profile from a name and the accounts chosen; its key's
// row says which accounts serve it, each account's row names its
// profiles, and the relay serves the profile's key with them only.
func TestProfileFromSettings(t *testing.T) {
	f := newFixture(t)
	f.addThroughDialog() // "work"
	accts, _ := f.core.StoredAccounts()
	form := newProfileForm(accts)
	if got := form.accounts.Options; len(got) != 1 || got[0] != "work" {
		t.Fatalf("accounts offered: %q, want [work]", got)
	}
	if _, _, err := form.submit(f.ui); err == nil || !strings.Contains(err.Error(), "at least one account") {
		t.Errorf("a profile without accounts: %v, want an error", err)
	}
	test.Type(form.name, "job")
	form.accounts.SetSelected([]string{"work"})
	p, key, err := form.submit(f.ui)
	if err != nil || p.Name != "job" || !strings.HasPrefix(key, "kp-") {
		t.Fatalf("submit: %+v, key given %v, %v", p, key != "", err)
	}
	f.refresh()
	acct, _ := f.core.Store().Account("work")
	r := newAccountRow()
	f.ui.accounts.fill(acct, r)
	if !strings.Contains(r.state.Text, "profile job") {
		t.Errorf("account row = %q, want it to name profile job", r.state.Text)
	}
	row := newKeyRow()
	var pk app.ClientKeyInfo
	for _, k := range f.ui.settings.keys {
		if k.Profile == "job" {
			pk = k
		}
	}
	// A project connected to it shows in its row.
	project := t.TempDir()
	t.Setenv("HOME", t.TempDir())
	if _, err := app.ConnectProject(app.Params{DataDir: filepath.Dir(f.core.DatabasePath()), Keychain: f.keys}, f.keys, project, app.ClaudeCode, "job"); err != nil {
		t.Fatal(err)
	}
	f.refresh()
	f.ui.settings.bindKeyRow(pk, row)
	if l := findLabel(row); !strings.HasPrefix(l, "profile job: work") || !strings.Contains(l, "projects: "+project+" (claude)") {
		t.Errorf("key row = %q, want \"profile job: work…\" with the project", l)
	}
	// Served: the relay has no keys for the whole pool, so it stays open,
	// and the profile's key is served by work.
	req, _ := http.NewRequest("POST", f.core.URL()+"/v1/messages", strings.NewReader(`{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"job"}]}`))
	req.Header.Set("X-Api-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Keypool-Account") != "work" {
		t.Errorf("the profile's key: %d from %q", resp.StatusCode, resp.Header.Get("X-Keypool-Account"))
	}
	if code := f.post("no key"); code != 200 {
		t.Errorf("no key, with only a profile's key: %d, want the relay still open", code)
	}
}

// findLabel is the text of the first label in o.
func findLabel(o fyne.CanvasObject) string {
	text := ""
	eachObject(o, func(c fyne.CanvasObject) bool {
		if l, ok := c.(*widget.Label); ok && text == "" {
			text = l.Text
		}
		return true
	})
	return text
}

// A CLI's Connect row says which variables of the user's environment
// change what the CLI does, where they are set, and what that means.
func TestConnectRowWarnsOfEnvironment(t *testing.T) {
	f := newFixture(t)
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("GOOGLE_GEMINI_BASE_URL", "")
	os.WriteFile(filepath.Join(home, ".bashrc"), []byte("export GEMINI_API_KEY=AIza-users-own\n"), 0o600)
	r := newConnectRow(app.GeminiCLI, "gemini")
	r.update(f.ui)
	if !r.warn.Visible() || !strings.Contains(r.warn.Text, "GEMINI_API_KEY (~/.bashrc:1): Gemini CLI sends this key instead of Keypool's") ||
		strings.Contains(r.warn.Text, "AIza") {
		t.Errorf("warning shown %v: %q", r.warn.Visible(), r.warn.Text)
	}
	c := newConnectRow(app.ClaudeCode, "claude")
	t.Setenv("ANTHROPIC_API_KEY", "")
	t.Setenv("ANTHROPIC_BASE_URL", "")
	t.Setenv("ANTHROPIC_AUTH_TOKEN", "")
	c.update(f.ui)
	if c.warn.Visible() {
		t.Errorf("claude, nothing set: warning %q", c.warn.Text)
	}
}

// The desktop app serving a config file lists the file's accounts, read
// only, says where they change and how to move them into the app, and
// offers no control that cannot work; a change through the tray says why
// it cannot be made rather than failing.
func TestConfigModeWindow(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.toml")
	f := newFixtureWith(t, func(p *app.Params) {
		os.WriteFile(cfg, []byte("api_keys = []\n[[accounts]]\ntype = \"claude-api\"\nid = \"main\"\nname = \"Main key\"\napi_key = \"sk-ant-config-secret\"\napi_url = \"http://127.0.0.1:9\"\n"), 0o600)
		p.ConfigPath = cfg
	})
	f.refresh()
	v := f.ui.accounts
	if len(v.snap.accounts) != 1 || v.snap.accounts[0].Name != "Main key" {
		t.Fatalf("accounts listed: %+v, want the config's one", v.snap.accounts)
	}
	if v.readOnly == nil || !strings.Contains(v.readOnly.Text, cfg) || !strings.Contains(v.readOnly.Text, "keypool import "+cfg) || v.add.Visible() {
		t.Errorf("config mode: note %v, add shown %v; want the file named, keypool import offered, no Add", v.readOnly != nil, v.add.Visible())
	}
	r := newAccountRow()
	v.fill(v.snap.accounts[0], r)
	if !r.check.Disabled() || r.edit.Visible() || r.del.Visible() || r.up.Visible() || r.action.Visible() {
		t.Errorf("a config account's row offers changes: check enabled %v, edit %v, delete %v", !r.check.Disabled(), r.edit.Visible(), r.del.Visible())
	}
	if !strings.HasPrefix(v.summary.Text, "1/1 ready") {
		t.Errorf("summary %q", v.summary.Text)
	}
	item := findItem(trayMenu(f.ui.snapshot(true), f.ui.trayActions()), "Main key")
	if item == nil || !item.Disabled {
		t.Errorf("tray item for a config account: %+v, want it shown and disabled", item)
	}
	if err := f.ui.changeAccounts(func(*app.Accounts) error { return nil }); !errors.Is(err, app.ErrConfigAccounts) || !strings.Contains(err.Error(), "keypool import") {
		t.Errorf("a change in config mode: %v, want ErrConfigAccounts saying what to do", err)
	}
}

// What a dialog starts stops with the UI: a browser that never answers
// does not keep a goroutine past Wait (goleak checks the rest).
func TestDialogWorkStopsWithTheUI(t *testing.T) {
	f := newFixture(t)
	started, returned := make(chan struct{}), make(chan struct{})
	d := newLoginDialog(f.ui, func(ctx context.Context, _ string) error {
		close(started)
		<-ctx.Done() // a browser that never answers
		close(returned)
		return ctx.Err()
	})
	d.openBrowser("http://127.0.0.1:9/login")
	<-started
	done := make(chan struct{})
	go func() { f.ui.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return")
	}
	select {
	case <-returned:
	default:
		t.Error("after Wait the dialog's browser call still runs: its context outlives the UI")
	}
}
