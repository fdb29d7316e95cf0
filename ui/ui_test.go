package ui

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	"go.uber.org/goleak"

	"keypool/app"
	"keypool/app/clients"
	"keypool/app/secrets"
	"keypool/app/secrets/secretstest"
	"keypool/app/store"
	"keypool/internal/dirtest"
	"keypool/relay"
	"keypool/relay/pool"
	"keypool/relay/relaytest"
	"keypool/relay/runway"
)

func testKeychain(t *testing.T) secrets.Keychain { return secretstest.Keychain(t) }

// fixture is a running core app (the relay with the app's own accounts) and
// its UI on Fyne's test driver.
type fixture struct {
	notes *notes
	t     *testing.T
	core  *app.App
	ui    *UI
	up    *relaytest.Upstream
	keys  secrets.Keychain
}

func newFixture(t *testing.T) *fixture { t.Helper(); return newFixtureWith(t, nil) }

// newFixtureWith is newFixture with the core's params changed by mod
// first (it may prepare the data dir, too).
func newFixtureWith(t *testing.T, mod func(*app.Params)) *fixture {
	t.Helper()
	// The relay serves on a listener made here (Open takes it over): the
	// kernel picks the port, and nothing can take it first.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	keys := testKeychain(t)
	p := app.Params{DataDir: dirtest.New(t), Listener: l, Keychain: keys, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if mod != nil {
		mod(&p)
	}
	core, err := app.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- core.Run(ctx) }()
	up := relaytest.New()
	t.Cleanup(func() { cancel(); <-done; core.Close(); up.Close(); keys.DeleteAll(secrets.Account("work")) })
	n := &notes{App: test.NewTempApp(t)}
	u := New(n, core)
	t.Cleanup(u.Wait)     // before the core closes (cleanups run last first)
	u.visible.Store(true) // as if shown: every refresh updates the views
	u.LoopStarting()      // the test driver runs what Fyne's loop would
	u.everyTab = true     // the tests look at every view after a refresh
	return &fixture{t: t, core: core, ui: u, up: up, keys: keys, notes: n}
}

func (f *fixture) refresh() { f.ui.Refresh() }

// settle waits until no refresh the UI scheduled (on a tab's selection, a
// change) is still to run, so what a test reads is not being redrawn.
func (f *fixture) settle() {
	f.t.Helper()
	if !waitFor(5*time.Second, func() bool { return f.ui.refreshing.Load() == 0 }) {
		f.t.Fatal("the UI's refreshes did not finish in 5 s")
	}
}

// snapshot reads what every view needs (full), or only what the tray does.
func (u *UI) snapshot(full bool) snapshot {
	if full {
		return u.snapshotFor(allTabs)
	}
	return u.snapshotFor(trayOnly)
}

// throttle sends a request the account answers 429 with retry-after
// seconds, which rests it.
func (f *fixture) throttle(seconds int, text string) {
	f.t.Helper()
	f.up.Push(relaytest.Reply{Status: 429, Header: map[string]string{"Retry-After": strconv.Itoa(seconds)},
		Body: relaytest.Error("rate_limit_error", "slow")})
	f.post(text)
}

func (f *fixture) post(text string) int {
	f.t.Helper()
	resp, err := http.Post(f.core.URL()+"/v1/messages", "application/json",
		strings.NewReader(`{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"`+text+`"}]}`))
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// addThroughDialog fills the add-key form as a person would and submits it.
func (f *fixture) addThroughDialog() {
	f.t.Helper()
	form, _ := f.ui.accounts.newAddForm()
	test.Type(form.id, "work")
	test.Type(form.name, "Work key")
	form.priority.SetText("10")
	test.Type(form.apiURL, f.up.URL)
	test.Type(form.key, "sk-ant-ui-secret")
	if err := form.submit(f.ui); err != nil {
		f.t.Fatal(err)
	}
	if form.key.Text != "" {
		f.t.Errorf("key field after submit holds %d characters, want it emptied", len(form.key.Text))
	}
	f.core.ReloadAccounts()
	f.refresh()
}

// Adding an API-key account through the dialog stores it (metadata in
// bbolt, key in the keychain) and the relay serves with it; a request shows
// in the usage and activity views; disabling it from the tray menu takes it
// out of the pool.
func TestAddAccountUsageAndTray(t *testing.T) {
	f := newFixture(t)
	if code := f.post("before"); code != http.StatusServiceUnavailable {
		t.Fatalf("request with no accounts yet: %d, want 503", code)
	}
	f.addThroughDialog()
	a, err := f.core.Store().Account("work")
	if err != nil || a.Name != "Work key" || a.Priority != 10 {
		t.Fatalf("stored account: %+v, %v; want name \"Work key\", priority 10", a, err)
	}
	if s, err := f.keys.Get(secrets.Account("work"), secrets.APIKey); err != nil || s.Reveal() != "sk-ant-ui-secret" {
		t.Fatalf("keychain Get(work, api key): err %v, the typed key %v; want nil, true", err, err == nil && s.Reveal() == "sk-ant-ui-secret")
	}
	if strings.Contains(readFile(t, f.core.Store().Path()), "sk-ant-ui-secret") {
		t.Error("the bbolt file holds the account's key, want it only in the keychain")
	}
	if code := f.post("hello"); code != 200 || f.up.Count() != 1 {
		t.Fatalf("relay with the new account: %d, upstream called %d times; want 200, once", code, f.up.Count())
	}
	f.core.Store().Flush(context.Background())
	f.refresh()
	// 10 input and 5 output tokens of Sonnet 4.5 at $3 and $15 per million.
	if got := strings.Join(flat(f.ui.usage.rows), " "); !strings.Contains(got, "Work key claude-sonnet-4-5 1") || !strings.Contains(got, "$0.0001") {
		t.Errorf("usage view rows: %q, want a row \"Work key claude-sonnet-4-5 1…\" costing $0.0001", got)
	}
	if a := f.ui.activity.shown; len(a) != 2 || activityCell(a[0], 7) != "messages" || activityCell(a[0], 2) != "200" {
		t.Errorf("activity view (newest first): %+v, want 2 rows, the newest a messages request answered 200", a)
	}
	// Both requests (the refused one too) in the last bars.
	if c := f.ui.usage.chart; len(c.values) != 24 || c.values[22]+c.values[23] != 2 || !strings.Contains(c.caption.Text, "(2 in all") {
		t.Errorf("chart: values %v, caption %q; want 2 in the last two of 24 bars, \"(2 in all\"", c.values, c.caption.Text)
	}

	// The tray menu lists the account with a check mark; clicking it
	// disables the account, and the relay stops using it.
	menu := trayMenu(f.ui.snapshot(true), f.ui.trayActions())
	item := findItem(menu, "Work key")
	if item == nil || !item.Checked {
		t.Fatalf("tray menu: %q, want a checked \"Work key\" item", labels(menu))
	}
	item.Action()
	if code := f.post("after"); code != http.StatusServiceUnavailable || f.up.Count() != 1 {
		t.Errorf("request after disabling the only account: %d, upstream called %d times; want 503, still once", code, f.up.Count())
	}
	if item := findItem(trayMenu(f.ui.snapshot(true), f.ui.trayActions()), "Work key"); item == nil || item.Checked {
		t.Error("tray's \"Work key\" item after disabling: missing or checked, want unchecked")
	}
}

// A cooling account shows its countdown; pausing from the tray pauses the
// relay.
func TestCountdownAndPause(t *testing.T) {
	f := newFixture(t)
	f.addThroughDialog()
	f.throttle(90, "x")
	s := f.ui.snapshot(true)
	acct, _ := f.core.Store().Account("work")
	if txt := s.stateText(acct); !strings.HasPrefix(txt, "cooling until ") || !strings.Contains(txt, "s)") {
		t.Errorf("state text = %q, want \"cooling until …\" with a countdown", txt)
	}
	f.up.Push(relaytest.Reply{Body: relaytest.Message("claude-sonnet-4-5", "ok", 1, 1), Header: map[string]string{
		"Anthropic-Ratelimit-Unified-Status": "allowed", "Anthropic-Ratelimit-Unified-5h-Utilization": "0.42", "Anthropic-Ratelimit-Unified-5h-Reset": "1764172800"}})
	if trayState(s) != "down" {
		t.Errorf("tray state = %s, want down", trayState(s))
	}
	findItem(trayMenu(s, f.ui.trayActions()), "Pause relay").Action()
	if code := f.post("y"); code != http.StatusServiceUnavailable || !f.core.Relay().Paused() {
		t.Errorf("request to the paused relay: %d, paused %v; want 503, true", code, f.core.Relay().Paused())
	}
	if findItem(trayMenu(f.ui.snapshot(true), f.ui.trayActions()), "Resume relay") == nil {
		t.Errorf("tray menu while paused: %q, want a \"Resume relay\" item", labels(trayMenu(f.ui.snapshot(true), f.ui.trayActions())))
	}
	// The plan's quota, as the provider's headers tell it.
	f.core.Relay().SetPaused(false)
	f.core.Relay().SetAccounts(nil)
	f.core.ReloadAccounts()
	if code := f.post("quota"); code != 200 {
		t.Fatalf("request after resume: %d, want 200", code)
	}
	if q, want := f.ui.snapshot(true).quotaText("work"), "5h 42% until "+time.Unix(1764172800, 0).Local().Format("Mon 15:04"); q != want {
		t.Errorf("quota text = %q, want %q", q, want)
	}
	f.refresh()
	if !strings.Contains(f.ui.usage.quota.Text, "Work key: 5h 42%") {
		t.Errorf("usage view quota = %q, want it to hold \"Work key: 5h 42%%\"", f.ui.usage.quota.Text)
	}
}

// TestScreenshots renders each view with real data to PNG files when
// KEYPOOL_SCREENSHOTS names a folder (make screenshots), and checks what it
// wrote: every view at each size and theme, a PNG of that size with
// something drawn on it, and the tray menu as text, naming every account.
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("KEYPOOL_SCREENSHOTS")
	if dir == "" {
		t.Skip("set KEYPOOL_SCREENSHOTS (make screenshots)")
	}
	f := newFixture(t)
	f.addThroughDialog()
	// A subscription whose plan is spent and that answers on paid extra
	// usage, with its login ending in two days.
	extra := relaytest.New()
	defer extra.Close()
	extra.Default = relaytest.Reply{Body: relaytest.Message("claude-sonnet-4-5", "paid", 1, 1), Header: map[string]string{
		"Anthropic-Ratelimit-Unified-Status": "allowed", "Anthropic-Ratelimit-Unified-Representative-Claim": "overage",
		"Anthropic-Ratelimit-Unified-Overage-In-Use": "true", "Anthropic-Ratelimit-Unified-Overage-Status": "allowed",
		"Anthropic-Ratelimit-Unified-Reset": strconv.FormatInt(time.Now().Add(2*time.Hour).Unix(), 10)}}
	// A realistic pool: every kind, and every state.
	names := []string{"Work key"}
	for _, a := range []struct {
		acct store.Account
		f    secrets.Field
	}{
		{store.Account{ID: "mirror", Name: "Team mirror (bearer)", Type: "claude-api", Priority: 20, Enabled: true, APIURL: f.up.URL, AuthHeader: "bearer"}, secrets.APIKey},
		{store.Account{ID: "openai", Name: "OpenAI platform key", Type: "openai-responses", Priority: 30, Enabled: true, APIURL: f.up.URL}, secrets.APIKey},
		{store.Account{ID: "gemini", Name: "Gemini API key", Type: "gemini-api", Priority: 30, Enabled: true, APIURL: f.up.URL}, secrets.APIKey},
		{store.Account{ID: "compat", Name: "Local llama server", Type: "openai-compatible", Priority: 5, Enabled: true, APIURL: f.up.URL + "/v1"}, secrets.APIKey},
		{store.Account{ID: "budget", Name: "Capped key", Type: "claude-api", Priority: 1, Enabled: true, APIURL: f.up.URL, DailyBudgetUSD: 0.01}, secrets.APIKey},
		{store.Account{ID: "off", Name: "Old key (switched off)", Type: "claude-api", Priority: 0, Enabled: false, APIURL: f.up.URL}, secrets.APIKey},
		{store.Account{ID: "sub", Name: "me@example.com (Claude Max)", Type: "claude-oauth", Priority: 90, Enabled: true, APIURL: f.up.URL, Status: store.StatusNeedsLogin}, secrets.RefreshToken},
		{store.Account{ID: "max", Name: "work@example.com (Claude Max)", Type: "claude-oauth", Priority: 95, Enabled: true, APIURL: extra.URL,
			Expiry: time.Now().Add(time.Hour), LoginExpiry: time.Now().Add(47*time.Hour + 30*time.Minute)}, secrets.AccessToken},
	} {
		if err := f.core.Accounts().Add(a.acct, map[secrets.Field]secrets.Secret{a.f: secrets.New("screenshot-secret-" + a.acct.ID)}); err != nil {
			t.Fatalf("add account %s: %v", a.acct.ID, err)
		}
		names = append(names, a.acct.Name)
		t.Cleanup(func() {
			if err := f.keys.DeleteAll(secrets.Account(a.acct.ID)); err != nil {
				t.Errorf("delete the secrets of account %s: %v", a.acct.ID, err)
			}
		})
	}
	f.core.ReloadAccounts()
	// The answers carry plan windows at different levels.
	reset := strconv.FormatInt(time.Now().Add(3*time.Hour).Unix(), 10)
	for i, util := range []string{"0.42", "0.78", "0.93"} {
		f.up.Push(relaytest.Reply{Body: relaytest.Message("claude-sonnet-4-5", "ok", 1, 1), Header: map[string]string{
			"Anthropic-Ratelimit-Unified-Status": "allowed", "Anthropic-Ratelimit-Unified-5h-Utilization": util, "Anthropic-Ratelimit-Unified-5h-Reset": reset,
			"Anthropic-Ratelimit-Unified-7d-Utilization": "0.12", "Anthropic-Ratelimit-Unified-7d-Reset": reset}})
		if code := f.post("q" + string(rune('a'+i))); code != http.StatusOK {
			t.Fatalf("request %d: %d, want 200", i+1, code)
		}
	}
	// One account rests for five minutes; another answers instead.
	f.up.Push(relaytest.Reply{Status: 429, Header: map[string]string{"Retry-After": "300"}, Body: relaytest.Error("rate_limit_error", "slow")})
	if code := f.post("z"); code != http.StatusOK {
		t.Fatalf("request answered 429 by the first account: %d, want 200 from the next", code)
	}
	if err := f.core.Store().Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.refresh()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	tabs := f.ui.tabs
	// Each view at the window's smallest size and at 1280×800, dark and
	// light; the tray menu as text.
	wrote := map[string]fyne.Size{} // file → the window's size
	for _, th := range []struct {
		name string
		look fyne.Theme
	}{{"dark", variantTheme(theme.VariantDark)}, {"light", variantTheme(theme.VariantLight)}} {
		test.ApplyTheme(t, th.look)
		w := test.NewWindow(f.ui.win.Content())
		for i := range f.ui.tabs.Items {
			tabs.SelectIndex(i)
			test.ApplyTheme(t, th.look) // every widget of every tab takes the theme's colours
		}
		for _, size := range []fyne.Size{minWindow, fyne.NewSize(1280, 800)} {
			w.Resize(size)
			for i, name := range []string{"accounts", "usage", "activity", "settings"} {
				tabs.SelectIndex(i)
				f.settle()
				file := fmt.Sprintf("%s-%dx%d-%s.png", name, int(size.Width), int(size.Height), th.name)
				if size == minWindow && th.name == "dark" {
					file = name + ".png"
				}
				writePNG(t, filepath.Join(dir, file), w.Canvas().Capture())
				wrote[file] = size
			}
		}
		w.Close()
	}
	if len(wrote) != 16 {
		t.Errorf("wrote %d screenshots, want 16 (4 views, 2 sizes, 2 themes)", len(wrote))
	}
	for file, size := range wrote {
		checkScreenshot(t, filepath.Join(dir, file), int(size.Width), int(size.Height))
	}

	summary := traySummary(f.ui.snapshot(false))
	menu := strings.Join(labels(trayMenu(f.ui.snapshot(false), f.ui.trayActions())), "\n")
	if summary == "" {
		t.Error("the tray's summary is empty, want the pool's state")
	}
	for _, name := range names {
		if !strings.Contains(menu, "\n"+name+" — ") {
			t.Errorf("tray menu:\n%s\nwant an item for account %q", menu, name)
		}
	}
	text := summary + "\n\n" + menu + "\n"
	path := filepath.Join(dir, "tray-menu.txt")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, path); got != text {
		t.Errorf("%s holds %q, want %q", path, got, text)
	}
}

// writePNG writes img to path as a PNG.
func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(out, img); err != nil {
		out.Close()
		t.Fatalf("encode %s: %v", path, err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// checkScreenshot fails t unless path is a PNG of width×height pixels with
// more than one colour on it: a view that drew nothing is one colour.
func checkScreenshot(t *testing.T, path string, width, height int) {
	t.Helper()
	in, err := os.Open(path)
	if err != nil {
		t.Error(err)
		return
	}
	defer in.Close()
	img, err := png.Decode(in)
	if err != nil {
		t.Errorf("decode %s: %v, want a PNG", path, err)
		return
	}
	if b := img.Bounds(); b.Dx() != width || b.Dy() != height {
		t.Errorf("%s is %d×%d pixels, want %d×%d", path, b.Dx(), b.Dy(), width, height)
		return
	}
	b := img.Bounds()
	first := color.RGBAModel.Convert(img.At(b.Min.X, b.Min.Y))
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if color.RGBAModel.Convert(img.At(x, y)) != first {
				return
			}
		}
	}
	t.Errorf("%s is all one colour (%v), want a view drawn on it", path, first)
}

func findItem(m *fyne.Menu, prefix string) *fyne.MenuItem {
	for _, it := range m.Items {
		if strings.HasPrefix(it.Label, prefix) {
			return it
		}
	}
	return nil
}

func labels(m *fyne.Menu) []string {
	var out []string
	for _, it := range m.Items {
		out = append(out, it.Label)
	}
	return out
}

func flat(rows [][]string) []string {
	var out []string
	for _, r := range rows {
		out = append(out, strings.Join(r, " "))
	}
	return out
}

func readFile(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// When every account goes out, a notification says when one returns.
func TestNotifications(t *testing.T) {
	f := newFixture(t)
	f.addThroughDialog()
	f.refresh()
	f.throttle(120, "x")
	f.refresh()
	n := f.notes.last()
	if n == nil || n.Title != "Keypool: no account available" || !strings.Contains(n.Content, "back at") {
		t.Fatalf("notification = %+v, want \"Keypool: no account available\" saying when one is back", n)
	}
}

// notes is the test app, recording notifications.
type notes struct {
	fyne.App
	mu   sync.Mutex
	sent []*fyne.Notification
}

func (n *notes) SendNotification(x *fyne.Notification) {
	n.mu.Lock()
	n.sent = append(n.sent, x)
	n.mu.Unlock()
}

func (n *notes) last() *fyne.Notification {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.sent) == 0 {
		return nil
	}
	return n.sent[len(n.sent)-1]
}

// Adding a client key in Settings makes the relay require it; the env
// copied for a CLI carries it; revoking it opens the relay again.
func TestClientKeys(t *testing.T) {
	f := newFixture(t)
	f.addThroughDialog()
	k, err := f.core.AddClientKey("laptop")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.keys.DeleteAll(secrets.ClientKey(k.ID)) })
	f.refresh()
	if len(f.ui.settings.keys) != 1 || f.ui.settings.keys[0].Label != "laptop" {
		t.Fatalf("settings keys = %+v, want one, labelled laptop", f.ui.settings.keys)
	}
	if code := f.post("no key"); code != http.StatusUnauthorized {
		t.Errorf("request without the client key: %d, want 401", code)
	}
	f.ui.copyEnv("Claude Code")
	env := f.ui.fapp.Clipboard().Content()
	secret, _ := f.core.ClientKeySecret(k.ID)
	if !strings.Contains(env, "ANTHROPIC_AUTH_TOKEN="+secret.Reveal()) || !strings.Contains(env, f.core.URL()) {
		t.Errorf("env copied for Claude Code = %q, want the relay's URL and ANTHROPIC_AUTH_TOKEN set to the client key", env)
	}
	req, _ := http.NewRequest("POST", f.core.URL()+"/v1/messages", strings.NewReader(`{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"k"}]}`))
	req.Header.Set("Authorization", "Bearer "+secret.Reveal())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("request with the client key: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("request with the client key: %s, want 200", resp.Status)
	}
	if strings.Contains(readFile(t, f.core.Store().Path()), secret.Reveal()) {
		t.Error("the bbolt file holds the client key, want it only in the keychain")
	}
	if err := f.core.RevokeClientKey(k.ID); err != nil {
		t.Fatal(err)
	}
	if code := f.post("open again"); code != 200 {
		t.Errorf("request without a key after revoking the only key: %d, want 200", code)
	}
}

// Connect in Settings writes Claude Code's settings.json in HOME, and the
// status says so; Disconnect restores it.
func TestConnectFromSettings(t *testing.T) {
	home := dirtest.New(t)
	t.Setenv("HOME", home)
	f := newFixture(t)
	if err := f.ui.connect("claude", true); err != nil {
		t.Fatal(err)
	}
	f.refresh()
	if got := f.ui.settings.connects["claude"].status.Text; got != "connected" {
		t.Errorf("Claude Code's status = %q, want connected", got)
	}
	s := readFile(t, filepath.Join(home, ".claude", "settings.json"))
	if !strings.Contains(s, f.core.URL()) {
		t.Errorf("settings.json = %s, want the relay's URL %s in it", s, f.core.URL())
	}
	if err := f.ui.connect("claude", false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(home, ".claude", "settings.json")); !os.IsNotExist(err) {
		t.Errorf("settings.json after Disconnect: Stat = %v, want it gone (Keypool created it)", err)
	}
}

// While usage cannot be saved, a banner above every tab says so, with what
// still works; a notification says it once; the tray menu shows it; all of
// it goes away when writes recover.
func TestStoreWarning(t *testing.T) {
	f := newFixture(t)
	f.refresh()
	if f.ui.banner.Visible() {
		t.Fatalf("banner shown while all is well: %q, want it hidden", f.ui.banner.Text)
	}
	prev := f.ui.last
	cur := prev
	cur.now = prev.now.Add(time.Second)
	cur.health.Store = &relay.StoreHealth{Error: "write /data/keypool.db: no space left on device", Held: 42}
	f.ui.notify(prev, cur)
	f.ui.updateBanner(cur)
	if !f.ui.banner.Visible() {
		t.Fatal("banner hidden while usage is not saved, want it shown")
	}
	for _, want := range []string{"Usage is not being saved", "no space left on device", "Requests still go through", "42 records"} {
		if !strings.Contains(f.ui.banner.Text, want) {
			t.Errorf("banner %q lacks %q", f.ui.banner.Text, want)
		}
	}
	if n := f.notes.last(); n == nil || n.Title != "Keypool: cannot save usage" {
		t.Errorf("notification = %+v, want \"Keypool: cannot save usage\"", n)
	}
	if it := findItem(trayMenu(cur, f.ui.trayActions()), "⚠ Usage not saved"); it == nil {
		t.Errorf("tray menu = %q, want a \"⚠ Usage not saved\" item", labels(trayMenu(cur, f.ui.trayActions())))
	}
	if dir := os.Getenv("KEYPOOL_SCREENSHOTS"); dir != "" {
		w := test.NewWindow(f.ui.win.Content())
		w.Resize(fyne.NewSize(900, 560))
		out, err := os.Create(filepath.Join(dir, "store-warning.png"))
		if err != nil {
			t.Fatal(err)
		}
		png.Encode(out, w.Canvas().Capture())
		out.Close()
	}

	// A second look at the same trouble does not notify again.
	sent := len(f.notes.sent)
	again := cur
	again.now = cur.now.Add(time.Second)
	f.ui.notify(cur, again)
	if len(f.notes.sent) != sent {
		t.Errorf("%d notifications after a second look at the same trouble, want still %d", len(f.notes.sent), sent)
	}

	ok := again
	ok.health.Store = nil
	f.ui.updateBanner(ok)
	if f.ui.banner.Visible() {
		t.Errorf("banner after recovery: %q, want it hidden", f.ui.banner.Text)
	}
	if it := findItem(trayMenu(ok, f.ui.trayActions()), "⚠"); it != nil {
		t.Errorf("tray item after recovery: %q, want no ⚠ item", it.Label)
	}
}

// While the keychain cannot be read, the banner says why requests are
// refused, a notification says it (already at the first look, since at
// login the window is hidden), and "every account is out" is not claimed.
func TestKeychainWaitWarning(t *testing.T) {
	f := newFixture(t)
	f.addThroughDialog()
	var zero snapshot
	cur := f.ui.snapshot(true)
	cur.health.Blocked = "Keypool cannot read its keychain yet, so it cannot serve (the keyring is locked). It resumes by itself once the keychain is unlocked."
	cur.health.Status = "unavailable"
	f.ui.notify(zero, cur)
	if n := f.notes.last(); n == nil || n.Title != "Keypool: waiting for the keychain" || !strings.Contains(n.Content, "locked") {
		t.Fatalf("notification = %+v, want \"Keypool: waiting for the keychain\" saying it is locked", n)
	}
	f.ui.updateBanner(cur)
	if !f.ui.banner.Visible() || !strings.Contains(f.ui.banner.Text, "resumes by itself") {
		t.Errorf("banner = %q (visible %v), want it shown, saying Keypool resumes by itself", f.ui.banner.Text, f.ui.banner.Visible())
	}
	if findItem(trayMenu(cur, f.ui.trayActions()), "⚠ Waiting for the keychain") == nil {
		t.Errorf("tray menu = %q, want a \"⚠ Waiting for the keychain\" item", labels(trayMenu(cur, f.ui.trayActions())))
	}
	// The keychain locks while Keypool runs: the same, and still no claim
	// that the accounts are out.
	ok := f.ui.snapshot(true)
	if ok.health.Status != "ok" {
		t.Fatalf("status before = %q, want ok", ok.health.Status)
	}
	next := cur
	next.now = ok.now.Add(time.Second)
	f.ui.notify(ok, next)
	if n := f.notes.last(); n == nil || n.Title != "Keypool: waiting for the keychain" {
		t.Errorf("notification = %+v, want \"Keypool: waiting for the keychain\"", n)
	}
	for _, n := range f.notes.sent {
		if n.Title == "Keypool: no account available" {
			t.Errorf("notification %+v while waiting for the keychain, want no claim that every account is out", n)
		}
	}
}

// eachObject calls visit for o and everything under it, through containers
// and the renderers of widgets (a dialog's buttons sit inside its pop-up); it
// does not go below an object for which visit returns false.
func eachObject(o fyne.CanvasObject, visit func(fyne.CanvasObject) bool) {
	if o == nil || !visit(o) {
		return
	}
	switch x := o.(type) {
	case *fyne.Container:
		for _, c := range x.Objects {
			eachObject(c, visit)
		}
	case fyne.Widget:
		for _, c := range test.WidgetRenderer(x).Objects() {
			eachObject(c, visit)
		}
	}
}

// findButton finds a button by its text anywhere under o.
func findButton(o fyne.CanvasObject, text string) *widget.Button {
	var found *widget.Button
	eachObject(o, func(c fyne.CanvasObject) bool {
		if b, ok := c.(*widget.Button); ok && b.Text == text && found == nil {
			found = b
		}
		return found == nil
	})
	return found
}

// The window shown when Keypool cannot start says why; a fix that fails
// says why in its place and leaves the window up; one that works closes it.
func TestStartupError(t *testing.T) {
	a := test.NewTempApp(t)
	fail := true
	calls := 0
	err := fmt.Errorf("open /data/keypool.db: %w (the file was NOT modified)", store.ErrCorrupt)
	w := StartupError(a, err, Fix{Label: "Keep the damaged file aside and start empty", Note: "add your accounts again",
		Do: func() error {
			calls++
			if fail {
				return errors.New("keep /data/keypool.db aside: permission denied")
			}
			return nil
		}})
	w.Show()
	open := func() bool {
		for _, x := range a.Driver().AllWindows() {
			if x == w {
				return true
			}
		}
		return false
	}
	if !strings.Contains(allText(w.Content()), "not a valid Keypool database") || !strings.Contains(allText(w.Content()), "add your accounts again") {
		t.Errorf("window text = %q, want it to say the database is not valid and to add the accounts again", allText(w.Content()))
	}
	if dir := os.Getenv("KEYPOOL_SCREENSHOTS"); dir != "" {
		out, _ := os.Create(filepath.Join(dir, "startup-error.png"))
		png.Encode(out, w.Canvas().Capture())
		out.Close()
	}
	fix := findButton(w.Content(), "Keep the damaged file aside and start empty")
	if fix == nil || findButton(w.Content(), "Quit") == nil {
		t.Fatalf("buttons: fix %v, Quit %v; want both", fix != nil, findButton(w.Content(), "Quit") != nil)
	}
	test.Tap(fix)
	if calls != 1 || !strings.Contains(allText(w.Content()), "permission denied") {
		t.Errorf("after a failed fix: %d calls, text %q; want 1 call, the text saying permission denied", calls, allText(w.Content()))
	}
	if !open() {
		t.Error("window open after a failed fix: false, want true")
	}
	fail = false
	test.Tap(fix)
	if calls != 2 || open() {
		t.Errorf("after a working fix: %d calls, window open %v; want 2, false", calls, open())
	}
}

// allText joins the text of every label in o.
func allText(o fyne.CanvasObject) string {
	switch x := o.(type) {
	case *widget.Label:
		return x.Text + "\n"
	case *fyne.Container:
		s := ""
		for _, c := range x.Objects {
			s += allText(c)
		}
		return s
	case *container.Scroll:
		return allText(x.Content)
	}
	return ""
}

// A client key whose secret is gone is shown as broken, with nothing to
// copy or show and Remove as the way out, which removes it.
func TestBrokenClientKeyInSettings(t *testing.T) {
	f := newFixture(t)
	lost, err := f.core.AddClientKey("laptop")
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.keys.Delete(secrets.ClientKey(lost.ID), secrets.APIKey))
	kept, err := f.core.AddClientKey("desktop") // any reload of the keys notices
	must(err)
	t.Cleanup(func() { f.keys.DeleteAll(secrets.ClientKey(kept.ID)) })
	f.refresh()
	w := test.NewWindow(f.ui.win.Content())
	w.Resize(fyne.NewSize(900, 560))
	f.ui.tabs.SelectIndex(3)
	f.settle()
	var broken *app.ClientKeyInfo
	for i, k := range f.ui.settings.keys {
		if k.ID == lost.ID {
			broken = &f.ui.settings.keys[i]
		}
	}
	if broken == nil || broken.Broken == "" {
		t.Fatalf("settings keys = %+v, want %s broken", f.ui.settings.keys, lost.ID)
	}
	row := newKeyRow()
	f.ui.settings.bindKeyRow(*broken, row)
	for _, name := range []string{"Copy", "Show"} {
		if b := findButton(row, name); b == nil || !b.Disabled() {
			t.Errorf("a broken key's %s button: found %v, disabled %v; want a disabled one", name, b != nil, b != nil && b.Disabled())
		}
	}
	remove := findButton(row, "Remove")
	if remove == nil {
		t.Fatal("a broken key's row has no Remove button, want one")
	}
	if dir := os.Getenv("KEYPOOL_SCREENSHOTS"); dir != "" {
		os.MkdirAll(dir, 0o755)
		out, err := os.Create(filepath.Join(dir, "settings-broken-key.png"))
		must(err)
		png.Encode(out, w.Canvas().Capture())
		out.Close()
	}
	test.Tap(remove)
	yes := findButton(f.ui.win.Canvas().Overlays().Top(), "Yes")
	if yes == nil {
		t.Fatal("Remove opened no dialog with a Yes button, want it to ask first")
	}
	test.Tap(yes)
	list, err := f.core.ClientKeys()
	must(err)
	if len(list) != 1 || list[0].ID != kept.ID {
		t.Errorf("client keys after Remove = %+v, want only %s", list, kept.ID)
	}
}

// countingTray is a tray that counts what it is told.
type countingTray struct {
	menus, icons, tooltips int
	menu                   *fyne.Menu
	tooltip                string
}

func (c *countingTray) SetSystemTrayMenu(m *fyne.Menu)  { c.menus++; c.menu = m }
func (c *countingTray) SetSystemTrayIcon(fyne.Resource) { c.icons++ }
func (c *countingTray) SetTooltip(s string)             { c.tooltips++; c.tooltip = s }
func (c *countingTray) needsLoop() bool                 { return true }

// The tray is told only what changed: refreshes while nothing changes set
// nothing (a countdown ticking is not a change: the menu says "back at
// 15:04"), and a change sets the menu once.
func TestTrayQuietWhenNothingChanges(t *testing.T) {
	f := newFixture(t)
	tray := &countingTray{}
	f.ui.tray = tray
	f.addThroughDialog()
	f.throttle(300, "x")
	now := time.Now()
	f.ui.now = func() time.Time { return now }
	f.refresh()
	if tray.menus == 0 || tray.icons == 0 || tray.tooltips == 0 {
		t.Fatalf("refreshes set %d menus, %d icons, %d tooltips; want each at least once", tray.menus, tray.icons, tray.tooltips)
	}
	base := *tray
	item := findItem(tray.menu, "Work key")
	if item == nil || !strings.Contains(item.Label, "cooling, back at ") || strings.Contains(item.Label, "s)") {
		t.Fatalf("tray item = %v, want the return time and no countdown", labels(tray.menu))
	}
	if !strings.Contains(tray.tooltip, "0/1 ready") || !strings.Contains(tray.tooltip, "next back") {
		t.Errorf("tooltip = %q, want \"0/1 ready\" and \"next back\" in it", tray.tooltip)
	}
	for i := 1; i <= 5; i++ {
		now = now.Add(time.Second)
		f.refresh()
	}
	if tray.menus != base.menus || tray.icons != base.icons || tray.tooltips != base.tooltips {
		t.Errorf("5 idle refreshes set %d menus, %d icons, %d tooltips; want none", tray.menus-base.menus, tray.icons-base.icons, tray.tooltips-base.tooltips)
	}
	// A real change: the account is switched off from the tray.
	findItem(tray.menu, "Work key").Action()
	f.refresh()
	if tray.menus != base.menus+1 {
		t.Errorf("after disabling an account: %d menus set, want 1", tray.menus-base.menus)
	}
	if it := findItem(tray.menu, "Work key"); it == nil || it.Checked || !strings.Contains(it.Label, "disabled") {
		t.Errorf("tray after disabling: %q, want an unchecked \"Work key … disabled\" item", labels(tray.menu))
	}
}

// While the window is hidden a refresh feeds the tray only; showing the
// window brings every view up to date.
func TestHiddenWindowReadsOnlyForTheTray(t *testing.T) {
	f := newFixture(t)
	tray := &countingTray{}
	f.ui.tray = tray
	f.addThroughDialog()
	f.ui.visible.Store(false)
	before := len(f.ui.activity.shown)
	if code := f.post("while hidden"); code != 200 {
		t.Fatalf("request: %d, want 200", code)
	}
	f.core.Store().Flush(context.Background())
	f.refresh()
	if len(f.ui.activity.shown) != before {
		t.Errorf("the hidden window's activity view went from %d to %d lines, want it left as it was", before, len(f.ui.activity.shown))
	}
	if findItem(tray.menu, "Work key") == nil {
		t.Errorf("tray menu while hidden: %q, want a \"Work key\" item", labels(tray.menu))
	}
	fyne.DoAndWait(f.ui.Show)
	f.refresh()
	if len(f.ui.activity.shown) <= before {
		t.Errorf("activity view after showing the window: %d lines, want more than %d", len(f.ui.activity.shown), before)
	}
}

// Each CLI has one button, saying what it will do by the CLI's state; it
// connects with the first client key that works, passing over a broken one.
func TestSettingsConnectButton(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	f := newFixture(t)
	broken, err := f.core.AddClientKey("old")
	if err != nil {
		t.Fatal(err)
	}
	good, err := f.core.AddClientKey("new")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.keys.DeleteAll(secrets.ClientKey(good.ID)); f.keys.DeleteAll(secrets.ClientKey(broken.ID)) })
	if err := f.keys.Delete(secrets.ClientKey(broken.ID), secrets.APIKey); err != nil {
		t.Fatal(err)
	}
	f.refresh()
	b := f.ui.settings.connects[clients.ClaudeCode].button
	if b.Text != "Connect" {
		t.Fatalf("button for a CLI not connected = %q, want Connect", b.Text)
	}
	test.Tap(b)
	f.refresh()
	if b.Text != "Disconnect" || f.ui.settings.connects[clients.ClaudeCode].status.Text != "connected" {
		t.Fatalf("after Connect: button %q, status %q; want Disconnect, connected", b.Text, f.ui.settings.connects[clients.ClaudeCode].status.Text)
	}
	secret, _ := f.core.ClientKeySecret(good.ID)
	if cfg := readFile(t, filepath.Join(home, ".claude", "settings.json")); !strings.Contains(cfg, secret.Reveal()) {
		t.Errorf("Claude Code's settings:\n%s\nwant the working client key in them", cfg)
	}
	test.Tap(b)
	f.refresh()
	if b.Text != "Connect" {
		t.Errorf("after Disconnect: button %q, want Connect", b.Text)
	}
}

// With no accounts the Accounts tab leads a new user: the three logins and
// Add API key, then Connect for each CLI; the tray offers the same way in.
// Once an account exists the list is back.
func TestFirstRun(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	f := newFixture(t)
	f.refresh()
	v := f.ui.accounts
	if v.full.Visible() || !v.first.content.Visible() {
		t.Fatalf("with no accounts: list shown %v, first steps shown %v; want false, true", v.full.Visible(), v.first.content.Visible())
	}
	for _, label := range []string{"Log in with Claude (Pro/Max)…", "Log in with ChatGPT (Codex)…", "Log in with Google (Gemini, Code Assist)…", "Add API key…"} {
		if findButton(v.first.content, label) == nil {
			t.Errorf("first steps have no %q button, want one", label)
		}
	}
	test.Tap(findButton(v.first.content, "Log in with ChatGPT (Codex)…"))
	if top := f.ui.win.Canvas().Overlays().Top(); top == nil || findButton(top, "Log in") == nil {
		t.Fatal("the ChatGPT login button opened no dialog with a \"Log in\" button, want one")
	}
	f.ui.win.Canvas().Overlays().Top().Hide()
	f.ui.win.Canvas().Overlays().Remove(f.ui.win.Canvas().Overlays().Top())
	r := v.first.connects[0]
	if r.button.Text != "Connect" || r.status.Text != "not connected" {
		t.Fatalf("Claude Code's row: status %q, button %q; want \"not connected\", Connect", r.status.Text, r.button.Text)
	}
	test.Tap(r.button)
	f.refresh()
	if r.status.Text != "connected" || r.button.Text != "Disconnect" {
		t.Errorf("after Connect: status %q, button %q; want connected, Disconnect", r.status.Text, r.button.Text)
	}
	if menu := trayMenu(f.ui.snapshot(false), f.ui.trayActions()); findItem(menu, "Add your first account") == nil {
		t.Errorf("tray menu with no accounts: %q, want an \"Add your first account\" item", labels(menu))
	}
	if dir := os.Getenv("KEYPOOL_SCREENSHOTS"); dir != "" {
		w := test.NewWindow(f.ui.win.Content())
		w.Resize(fyne.NewSize(900, 560))
		os.MkdirAll(dir, 0o755)
		out, err := os.Create(filepath.Join(dir, "first-run.png"))
		if err != nil {
			t.Fatal(err)
		}
		png.Encode(out, w.Canvas().Capture())
		out.Close()
	}
	f.addThroughDialog()
	if !v.full.Visible() || v.first.content.Visible() {
		t.Errorf("with an account: list shown %v, first steps shown %v; want true, false", v.full.Visible(), v.first.content.Visible())
	}
	if menu := trayMenu(f.ui.snapshot(false), f.ui.trayActions()); findItem(menu, "Add your first account") != nil {
		t.Errorf("tray menu with an account: %q, want no \"Add your first account\" item", labels(menu))
	}
}

// Activity is a table with a header: a failover's path reads in words, a
// request that reached no account is there with why, and the filters pick
// an account and an outcome.
func TestActivityTable(t *testing.T) {
	now := time.Date(2026, 12, 2, 14, 5, 0, 0, time.Local)
	recs := []relay.UsageRecord{
		{Time: now, Route: "messages", Model: "claude-sonnet-4-5", Account: "work", Status: 200,
			Failover: []relay.FailoverStep{{Account: "mirror", Reason: "429 throttled (retry-after)"}}},
		{Time: now, Route: "messages", Model: "claude-opus-4-6", Status: 429, Error: "the client's daily budget is spent"},
		{Time: now, Route: "responses", Model: "gpt-5", Account: "openai", Status: 200},
		{Time: now, Route: "messages", Model: "claude-sonnet-4-5", Account: "mirror", Status: 502, Error: "connection refused by account mirror"},
	}
	f := newFixture(t)
	v := f.ui.activity
	v.update(snapshot{recent: recs, accounts: []store.Account{{ID: "work"}, {ID: "mirror"}, {ID: "openai"}}})
	if len(v.shown) != 4 {
		t.Fatalf("activity shows %d rows, want all 4", len(v.shown))
	}
	if got, want := activityCell(recs[0], 4), "left mirror: 429 throttled (retry-after) → answered by work"; got != want {
		t.Errorf("failover story = %q, want %q", got, want)
	}
	if got, want := activityCell(recs[1], 4), "refused: the client's daily budget is spent"; got != want || activityCell(recs[1], 1) != "—" {
		t.Errorf("refusal = %q, account %q; want %q, \"—\"", got, activityCell(recs[1], 1), want)
	}
	for _, c := range []struct {
		account, outcome string
		want             int
	}{
		{accountAll, outcomeRefused, 1},
		{accountAll, outcomeFailover, 1},
		{accountAll, outcomeFailed, 1},
		{"mirror", outcomeAll, 2}, // left by one, failed on the other
		{"openai", outcomeOK, 1},
	} {
		v.account.SetSelected(c.account)
		v.outcome.SetSelected(c.outcome)
		if len(v.shown) != c.want {
			t.Errorf("%s / %s: %d rows, want %d", c.account, c.outcome, len(v.shown), c.want)
		}
	}
	w := test.NewWindow(v.content)
	w.Resize(fyne.NewSize(900, 400))
	v.account.SetSelected(accountAll)
	v.outcome.SetSelected(outcomeAll)
	v.table.Select(widget.TableCellID{Row: 0, Col: 4})
	if top := f.ui.win.Canvas().Overlays().Top(); top == nil {
		t.Error("selecting a row opened no overlay, want the request's details")
	}
}

// Usage shows one period at a time, by the accounts' names, with cost per
// account, and exports the period as CSV; the chart has a scale.
func TestUsagePeriodsAndExport(t *testing.T) {
	now := time.Date(2026, 12, 2, 14, 5, 0, 0, time.Local)
	f := newFixture(t)
	v := f.ui.usage
	day := func(back int) string { return now.AddDate(0, 0, -back).Format("2006-01-02") }
	today := []store.DayTotal{{Day: day(0), Account: "work", Model: "claude-sonnet-4-5", Counts: relay.Counts{Requests: 3}, CostUSD: 0.5}}
	week := append(today, store.DayTotal{Day: day(3), Account: "gone", Model: "gpt-5", Counts: relay.Counts{Requests: 2}, CostUSD: 1.25})
	month := append(week, store.DayTotal{Day: day(20), Account: "work", Model: "claude-opus-4-6", Counts: relay.Counts{Requests: 1}, CostUSD: 2})
	v.update(snapshot{now: now, today: today, week: week, month: month, hourly: []app.Hour{{}, {Requests: 4, CostUSD: 0.5}, {Requests: 2, CostUSD: 0.25}},
		accounts: []store.Account{{ID: "work", Name: "Work key"}}})
	for _, c := range []struct {
		period string
		rows   int
		costs  string
	}{
		{periodToday, 1, "Cost today: $0.5000 — Work key $0.5000"},
		{periodWeek, 2, "Cost 7 days: $1.7500 — gone (removed) $1.2500 · Work key $0.5000"},
		{periodMonth, 3, "Cost 30 days: $3.7500 — Work key $2.5000 · gone (removed) $1.2500"},
	} {
		v.period.SetSelected(c.period)
		if len(v.rows) != c.rows || v.costs.Text != c.costs {
			t.Errorf("%s: %d rows %q; cost line %q, want %d rows, %q", c.period, len(v.rows), flat(v.rows), v.costs.Text, c.rows, c.costs)
		}
	}
	var b strings.Builder
	if err := v.writeCSV(&b); err != nil {
		t.Fatal(err)
	}
	want := "period,Account,Model,Requests,Input,Output,Cache write,Cache read,Cost (USD)\n30 days,Work key,claude-opus-4-6,1,0,0,0,0,$2.0000\n"
	if !strings.HasPrefix(b.String(), want) || strings.Count(b.String(), "\n") != 4 {
		t.Errorf("CSV:\n%s\nwant 4 lines starting with:\n%s", b.String(), want)
	}
	// The chart follows the period (per hour today, per day over 7 or 30
	// days) and shows requests or cost on a labelled scale.
	for _, c := range []struct {
		period, measure string
		bars            int
		top, half       string
		caption         string
	}{
		{periodToday, measureRequests, 24, "4", "2", "Requests per hour, last 24 hours (6 in all; the scale is requests)"},
		{periodToday, measureCost, 24, "$0.50", "$0.25", "Cost per hour, last 24 hours ($0.75 in all; the scale is USD at API prices)"},
		{periodWeek, measureCost, 7, "$1.25", "$0.62", "Cost per day, last 7 days ($1.75 in all; the scale is USD at API prices)"},
		{periodMonth, measureRequests, 30, "3", "1.5", "Requests per day, last 30 days (6 in all; the scale is requests)"},
	} {
		v.period.SetSelected(c.period)
		v.measure.SetSelected(c.measure)
		ch := v.chart
		if len(ch.values) != c.bars || ch.top.Text != c.top || ch.half.Text != c.half || ch.caption.Text != c.caption {
			t.Errorf("%s, %s: %d bars, scale %q / %q, caption %q; want %d bars, %q / %q, %q",
				c.period, c.measure, len(ch.values), ch.top.Text, ch.half.Text, ch.caption.Text, c.bars, c.top, c.half, c.caption)
		}
	}
}

// The Accounts tab opens with the pool in one line: how many are ready,
// where new conversations go first, and when the next one is back.
func TestAccountsSummary(t *testing.T) {
	now := time.Date(2026, 12, 2, 14, 5, 0, 0, time.Local)
	s := snapshot{now: now, accounts: []store.Account{{ID: "a"}}, health: relay.Health{Accounts: []relay.AccountHealth{
		{ID: "a", Name: "Work key", Type: "claude-api", Priority: 10, State: "ready", Quota: []pool.Quota{{Window: "5h", Utilization: 0.42}}},
		{ID: "b", Name: "Max", Type: "claude-oauth", Priority: 90, State: "cooling", Cooldowns: []relay.CooldownInfo{{Family: "all", Until: now.Add(time.Hour)}}},
		{ID: "c", Name: "Old", State: "disabled"},
	}, Next: map[pool.Protocol]string{pool.ProtocolAnthropic: "a"}}}
	want := "1/2 ready · new conversations: Claude → Work key · Work key 5h 42% · next back 15:05"
	if got := s.summary(true); got != want {
		t.Errorf("summary = %q, want %q", got, want)
	}
	if got, want := traySummary(s), "Keypool: 1/2 ready · Work key 5h 42% · next back 15:05"; got != want {
		t.Errorf("tooltip = %q, want %q", got, want)
	}
	// The pool's runway, in clock times that stay true until something
	// changes; none while there is no forecast.
	s.health.Runway = []relay.PoolRunway{
		{Protocol: app.ProtocolAnthropic, Forecast: runway.Forecast{State: runway.RunsOut, RunsOut: now.Add(95 * time.Minute)}, NextReset: now.Add(time.Hour)},
		{Protocol: app.ProtocolResponses, Forecast: runway.Forecast{State: runway.Lasts}},
		{Protocol: app.ProtocolGemini, Forecast: runway.Forecast{State: runway.Unknown}},
	}
	if got, want := traySummary(s), "Keypool: 1/2 ready · Work key 5h 42% · next back 15:05 · Claude runway to ≈15:40 at this pace; first reset 15:05"; got != want {
		t.Errorf("tooltip with a runway = %q, want %q", got, want)
	}
	s.health.Runway = []relay.PoolRunway{{Protocol: app.ProtocolAnthropic, Forecast: runway.Forecast{State: runway.Lasts}}}
	if got := s.summary(true); got != want+" · runway: lasts at this pace" {
		t.Errorf("summary with a lasting pool = %q", got)
	}
	f := newFixture(t)
	f.addThroughDialog()
	if got, want := f.ui.accounts.summary.Text, "1/1 ready · new conversations: Claude → Work key"; !strings.HasPrefix(got, want) {
		t.Errorf("the Accounts tab's summary = %q, want it to start %q", got, want)
	}
}

// overlaps lists the pairs of texts shown in c that overlap on screen.
func overlaps(c fyne.Canvas) []string {
	type shown struct {
		text string
		pos  fyne.Position
		size fyne.Size
	}
	var texts []shown
	d := fyne.CurrentApp().Driver()
	eachObject(c.Content(), func(o fyne.CanvasObject) bool {
		if !o.Visible() {
			return false
		}
		if x, ok := o.(*canvas.Text); ok && strings.TrimSpace(x.Text) != "" {
			texts = append(texts, shown{x.Text, d.AbsolutePositionForObject(x), x.Size()})
		}
		return true
	})
	var out []string
	for i, a := range texts {
		for _, b := range texts[i+1:] {
			dx := min(a.pos.X+a.size.Width, b.pos.X+b.size.Width) - max(a.pos.X, b.pos.X)
			dy := min(a.pos.Y+a.size.Height, b.pos.Y+b.size.Height) - max(a.pos.Y, b.pos.Y)
			if dx > 1 && dy > 1 {
				out = append(out, fmt.Sprintf("%q at %v and %q at %v", a.text, a.pos, b.text, b.pos))
			}
		}
	}
	return out
}

// No text of any view overlaps another, at the window's smallest size and
// at 1280×800, with a realistic pool.
func TestViewsDoNotOverlap(t *testing.T) {
	f := newFixture(t)
	f.addThroughDialog()
	for _, a := range []store.Account{
		{ID: "sub", Name: "someone.with.a.long.address@example.com (Claude Max)", Type: "claude-oauth", Priority: 90, Enabled: true, APIURL: f.up.URL, Status: store.StatusNeedsLogin},
		{ID: "capped", Name: "Capped key", Type: "claude-api", Priority: 1, Enabled: true, APIURL: f.up.URL, DailyBudgetUSD: 0.01},
		{ID: "off", Name: "Old key", Type: "openai-responses", Enabled: false, APIURL: f.up.URL},
	} {
		field := secrets.APIKey
		if a.Type == "claude-oauth" {
			field = secrets.RefreshToken
		}
		if err := f.core.Accounts().Add(a, map[secrets.Field]secrets.Secret{field: secrets.New("overlap-secret-" + a.ID)}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.keys.DeleteAll(secrets.Account(a.ID)) })
	}
	f.core.ReloadAccounts()
	f.up.Push(relaytest.Reply{Body: relaytest.Message("claude-sonnet-4-5", "ok", 1, 1), Header: map[string]string{
		"Anthropic-Ratelimit-Unified-Status": "allowed", "Anthropic-Ratelimit-Unified-5h-Utilization": "0.93",
		"Anthropic-Ratelimit-Unified-7d-Utilization": "0.12"}})
	f.post("a")
	f.throttle(300, "b")
	f.core.Store().Flush(context.Background())
	f.refresh()
	w := test.NewWindow(f.ui.win.Content())
	defer w.Close()
	for _, size := range []fyne.Size{minWindow, fyne.NewSize(1280, 800)} {
		w.Resize(size)
		for i, tab := range f.ui.tabs.Items {
			f.ui.tabs.SelectIndex(i)
			f.settle()
			for _, o := range overlaps(w.Canvas()) {
				t.Errorf("%s at %v: texts overlap, want none to: %s", tab.Text, size, o)
			}
		}
	}
}

// The views follow the app's change notifications instead of polling: a
// request refreshes them within moments; with nothing happening a hidden
// window is not refreshed at all; a cooling account makes it wake when the
// account comes back.
func TestChangesDriveTheViews(t *testing.T) {
	f := newFixture(t)
	f.addThroughDialog() // leaves a change pending: it reloaded the accounts
	f.ui.visible.Store(false)
	before := f.ui.refreshes.Load()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.ui.follow(ctx) }()
	defer func() { cancel(); <-done }()

	waitRefresh := func(after int64, within time.Duration) bool {
		return waitFor(within, func() bool { return f.ui.refreshes.Load() > after })
	}
	if !waitRefresh(before, 2*time.Second) {
		t.Fatal("the set-up's change did not refresh the views within 2 s, want one refresh")
	}
	// Nothing happens now, so there is nothing to wait for: the test
	// watches the count for a while, and a sleep is what it means.
	idle := f.ui.refreshes.Load()
	time.Sleep(1500 * time.Millisecond)
	if n := f.ui.refreshes.Load() - idle; n != 0 {
		t.Errorf("a hidden window with nothing happening was refreshed %d times in 1.5 s, want 0", n)
	}
	before = f.ui.refreshes.Load()
	if code := f.post("change"); code != 200 {
		t.Fatalf("request: %d, want 200", code)
	}
	if !waitRefresh(before, 2*time.Second) {
		t.Fatal("a recorded request did not refresh the views within 2 s, want a refresh")
	}
	if f.ui.nextWake() != idleCheck {
		t.Errorf("with nothing cooling a hidden window wakes after %s, want %s", f.ui.nextWake(), idleCheck)
	}
	f.up.Push(relaytest.Reply{Status: 429, Header: map[string]string{"Retry-After": "30"}, Body: relaytest.Error("rate_limit_error", "slow")})
	before = f.ui.refreshes.Load()
	f.post("cool")
	if !waitRefresh(before, 2*time.Second) {
		t.Fatal("a cooldown did not refresh the views within 2 s, want a refresh")
	}
	// The refresh is counted as it starts; it notes the cooldown's end once
	// it has read the app's state.
	if !waitFor(2*time.Second, func() bool { return f.ui.nextReturn.Load() != 0 }) {
		t.Fatal("2 s after the cooldown's refresh the views know of no account coming back, want one in 30 s")
	}
	if w := f.ui.nextWake(); w > 31*time.Second || w < 25*time.Second {
		t.Errorf("with an account back in 30 s a hidden window wakes after %s, want 25–31 s", w)
	}
	f.ui.visible.Store(true)
	if w := f.ui.nextWake(); w != time.Second {
		t.Errorf("a shown window with a countdown wakes after %s, want 1s (its countdown ticks)", w)
	}
	f.ui.nextReturn.Store(0)
	if f.ui.nextWake() != idleCheck {
		t.Errorf("a shown window with nothing resting wakes after %s, want %s", f.ui.nextWake(), idleCheck)
	}
}

// What Run starts ends with its ctx, and Wait waits for it and for the
// refreshes in flight; none starts once Wait has begun.
func TestWaitForRun(t *testing.T) {
	f := newFixture(t)
	f.addThroughDialog()
	before := goleak.IgnoreCurrent()
	ctx, cancel := context.WithCancel(context.Background())
	f.ui.Run(ctx, true)
	f.ui.trayActions().pause(false) // a refresh on a goroutine of its own
	cancel()
	f.ui.Wait()
	if err := goleak.Find(before); err != nil {
		t.Errorf("goroutines left after Wait, want none of the UI's: %v", err)
	}
	n := f.ui.refreshes.Load()
	f.ui.trayActions().pause(false)
	f.ui.tabs.SelectIndex(tabAccounts)
	if err := goleak.Find(before); err != nil {
		t.Errorf("goroutines after Wait, want none started: %v", err)
	}
	if got := f.ui.refreshes.Load(); got != n {
		t.Errorf("%d refreshes after Wait, want none", got-n)
	}
}

// Started hidden with its own tray, Keypool does not run Fyne's loop: what
// would run on Fyne's goroutine runs directly until something needs the
// loop (the window), which WaitForLoop then reports; Quit from the tray
// ends the wait instead.
func TestLoopDeferredUntilNeeded(t *testing.T) {
	f := newFixture(t)
	u := f.ui
	u.loop = newLoopState() // as in a hidden start: no loop yet
	u.visible.Store(false)
	ran := false
	u.onMain(func() { ran = true })
	if !ran {
		t.Fatal("before the loop, onMain ran nothing, want its function run at once")
	}
	u.Refresh() // the tray and notifications work without the loop
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// As from the tray's Open Keypool: the action runs through onMain.
	shown := make(chan struct{})
	go func() { u.onMain(u.Show); close(shown) }()
	select {
	case <-shown:
	case <-ctx.Done():
		t.Fatal("Show from a tray action did not return within 5 s, want it to return at once")
	}
	if u.visible.Load() {
		t.Fatal("window visible without Fyne's loop, want it shown only once the loop runs")
	}
	if !u.WaitForLoop(ctx) {
		t.Fatal("WaitForLoop after Show = false, want true (Show asks for the loop)")
	}
	u.LoopStarting()
	if !u.visible.Load() {
		t.Error("window visible once the loop starts: false, want true")
	}

	u.loop = newLoopState()
	go u.trayActions().quit()
	if u.WaitForLoop(ctx) {
		t.Error("WaitForLoop after Quit from the tray = true, want false (end instead of starting the loop)")
	}
}

// A resting account's row offers Reset, which lets it serve again at once.
func TestResetFromTheRow(t *testing.T) {
	f := newFixture(t)
	f.addThroughDialog()
	f.throttle(300, "x")
	f.refresh()
	acct, _ := f.core.Store().Account("work")
	r := newAccountRow()
	f.ui.accounts.fill(acct, r)
	if !r.action.Visible() || r.action.Text != "Reset" {
		t.Fatalf("a cooling account's action = %q (shown %v), want Reset", r.action.Text, r.action.Visible())
	}
	test.Tap(r.action)
	f.refresh()
	if st, _ := f.ui.snapshot(true).state("work"); st != "ready" {
		t.Errorf("after Reset the account is %q, want ready", st)
	}
	if code := f.post("again"); code != 200 {
		t.Errorf("request after Reset: %d, want 200", code)
	}
}

// A shown window reads and redraws only the tab in view; selecting another
// tab brings it up to date.
func TestOnlyTheTabInViewIsRefreshed(t *testing.T) {
	f := newFixture(t)
	f.addThroughDialog()
	f.ui.everyTab = false
	f.ui.tabs.SelectIndex(tabAccounts)
	f.refresh()
	before := len(f.ui.activity.shown)
	if code := f.post("in view?"); code != 200 {
		t.Fatalf("request: %d, want 200", code)
	}
	f.core.Store().Flush(context.Background())
	f.refresh()
	if len(f.ui.activity.shown) != before {
		t.Errorf("the Activity tab, not in view, went from %d to %d rows, want it left as it was", before, len(f.ui.activity.shown))
	}
	if got := f.ui.accounts.summary.Text; !strings.HasPrefix(got, "1/1 ready") {
		t.Errorf("the Accounts tab in view shows %q, want it updated to \"1/1 ready…\"", got)
	}
	f.ui.tabs.SelectIndex(tabActivity)
	if !waitFor(3*time.Second, func() bool { return len(f.ui.activity.shown) != before }) {
		t.Errorf("3 s after selecting the Activity tab it shows %d rows, want more than %d", len(f.ui.activity.shown), before)
	}
}

// A row's name, cut to its cell, opens the account whole.
func TestAccountDetail(t *testing.T) {
	f := newFixture(t)
	f.addThroughDialog()
	long := "someone.with.a.very.long.address.indeed@example.com (Claude Max, the team's)"
	if err := f.core.Accounts().Update("work", func(a *store.Account) { a.Name = long }, secrets.Secret{}, secrets.Secret{}); err != nil {
		t.Fatal(err)
	}
	f.core.ReloadAccounts()
	f.refresh()
	acct, _ := f.core.Store().Account("work")
	r := newAccountRow()
	f.ui.accounts.fill(acct, r)
	r.name.OnTapped() // a tap on the link's text (the detached row has no size to aim at)
	top := f.ui.win.Canvas().Overlays().Top()
	if top == nil {
		t.Fatal("tapping the name opened no overlay, want the account's details")
	}
	var texts []string
	eachObject(top, func(o fyne.CanvasObject) bool {
		if l, ok := o.(*widget.Label); ok {
			texts = append(texts, l.Text)
		}
		return true
	})
	if all := strings.Join(texts, "\n"); !strings.Contains(all, long) || !strings.Contains(all, "id work") {
		t.Errorf("the details show:\n%s\nwant the whole name %q and \"id work\"", all, long)
	}
}

// Settings' avoid-run-out choice applies at once and is kept for the next
// start.
func TestAvoidRunoutSetting(t *testing.T) {
	f := newFixture(t)
	sel := f.ui.settings.avoid
	if sel.Selected != "off" || len(sel.Options) != 5 {
		t.Fatalf("avoid run-out select: %q of %q, want off of five", sel.Selected, sel.Options)
	}
	sel.SetSelected("30 min")
	if got := f.core.AvoidRunout(); got != 30 {
		t.Errorf("after choosing 30 min the app's setting is %d", got)
	}
	sel.SetSelected("off")
	if got := f.core.AvoidRunout(); got != 0 {
		t.Errorf("after choosing off the app's setting is %d", got)
	}
}
