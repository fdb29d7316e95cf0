package ui

import (
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"keypool/app/secrets"
	"keypool/internal/dirtest"
)

// fakeOAuth is a Claude and ChatGPT OAuth server on 127.0.0.1: authorize
// redirects straight back to redirect_uri with a code; the Claude token
// endpoint answers for that code; the ChatGPT device endpoint hands out a
// code that is never approved.
func fakeOAuth(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/oauth/authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		back, err := url.Parse(q.Get("redirect_uri"))
		if err != nil {
			http.Error(w, "bad redirect_uri", http.StatusBadRequest)
			return
		}
		back.RawQuery = url.Values{"code": {"the-code"}, "state": {q.Get("state")}}.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	})
	mux.HandleFunc("/v1/oauth/token", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body["code"] != "the-code" || body["code_verifier"] == "" {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant"})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{
			"access_token": "sk-ant-oat01-dialog-secret", "refresh_token": "sk-ant-ort01-dialog-secret",
			"expires_in": 28800, "token_type": "Bearer", "scope": "user:inference",
			"account": map[string]string{"uuid": "acc-uuid", "email_address": "me@example.com"},
		})
	})
	mux.HandleFunc("/api/accounts/deviceauth/usercode", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"device_auth_id":"dev-auth-1","user_code":"ABCD-EFGH","interval":"60"}`))
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

// dialogProbe watches a login dialog from a test: it records the opener's
// calls (each fails, as with no browser) and wakes the test on each update.
type dialogProbe struct {
	t       *testing.T
	d       *loginDialog
	changed chan struct{}
	mu      sync.Mutex
	opened  []string
}

func newDialogWithoutBrowser(t *testing.T, u *UI) *dialogProbe {
	p := &dialogProbe{t: t, changed: make(chan struct{}, 1)}
	p.d = newLoginDialog(u, func(ctx context.Context, address string) error {
		p.mu.Lock()
		p.opened = append(p.opened, address)
		p.mu.Unlock()
		return errors.New(`exec: "xdg-open": executable file not found in $PATH`)
	})
	p.d.changed = func() {
		select {
		case p.changed <- struct{}{}:
		default:
		}
	}
	t.Cleanup(func() {
		p.d.d.Hide()
		p.wait()
	})
	return p
}

// until waits for cond, read under the dialog's lock, to hold.
func (p *dialogProbe) until(what string, cond func() bool) {
	p.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		p.d.mu.Lock()
		ok := cond()
		p.d.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-p.changed:
		case <-deadline:
			p.t.Fatalf("waited 10 s for %s; steps:\n%s", what, p.steps())
		}
	}
}

// tap taps b as a user would, between the dialog's updates.
func (p *dialogProbe) tap(b *widget.Button) {
	p.d.mu.Lock()
	defer p.d.mu.Unlock()
	test.Tap(b)
}

func (p *dialogProbe) steps() string {
	return strings.Join(p.d.said, "\n")
}

func (p *dialogProbe) openedURLs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.opened...)
}

// wait waits for the dialog's goroutines, which its closing stops.
func (p *dialogProbe) wait() {
	p.t.Helper()
	done := make(chan struct{})
	go func() { p.d.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		p.t.Fatal("the dialog's goroutines still run 10 s after it closed")
	}
}

// screenshot renders the window with the dialog to a PNG, in
// KEYPOOL_SCREENSHOTS when set (make screenshots), else in a scratch dir.
func (p *dialogProbe) screenshot(name string) {
	p.t.Helper()
	dir := os.Getenv("KEYPOOL_SCREENSHOTS")
	if dir == "" {
		dir = dirtest.New(p.t)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	out, err := os.Create(path)
	if err != nil {
		p.t.Fatal(err)
	}
	defer out.Close()
	p.d.mu.Lock()
	img := p.d.u.win.Canvas().Capture()
	p.d.mu.Unlock()
	if err := png.Encode(out, img); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot: %s", path)
}

// checkLayout fails when a part of the dialog lies outside it, overlaps
// another, or is too small for its text.
func (p *dialogProbe) checkLayout() {
	p.t.Helper()
	d := p.d
	d.mu.Lock()
	defer d.mu.Unlock()
	drv := d.u.fapp.Driver()
	type box struct {
		name string
		o    fyne.CanvasObject
	}
	rect := func(o fyne.CanvasObject) (fyne.Position, fyne.Position) {
		pos := drv.AbsolutePositionForObject(o)
		return pos, pos.Add(o.Size())
	}
	const eps = 0.5
	outMin, outMax := rect(d.content)
	parts := []box{{"steps", d.scroll}, {"link note", d.linkNote}, {"link", d.linkView}, {"Copy link", d.copyLink},
		{"Open in browser", d.openLink}, {"Log in", d.start}}
	if d.pasteRow.Visible() {
		parts = append(parts, box{"paste note", d.pasteFor}, box{"paste field", d.paste}, box{"Use pasted", d.usePaste})
	}
	if d.codeRow.Visible() {
		parts = append(parts, box{"code", d.code}, box{"Copy code", d.copyCode})
	}
	for i, a := range parts {
		if !a.o.Visible() {
			p.t.Errorf("%s is hidden, want it shown", a.name)
			continue
		}
		lo, hi := rect(a.o)
		if lo.X < outMin.X-eps || lo.Y < outMin.Y-eps || hi.X > outMax.X+eps || hi.Y > outMax.Y+eps {
			p.t.Errorf("%s spans %v–%v, want it inside the dialog's %v–%v", a.name, lo, hi, outMin, outMax)
		}
		if need := a.o.MinSize(); need.Width > a.o.Size().Width+eps || need.Height > a.o.Size().Height+eps {
			p.t.Errorf("%s is %v, want at least what its text needs, %v", a.name, a.o.Size(), need)
		}
		for _, b := range parts[i+1:] {
			blo, bhi := rect(b.o)
			if lo.X < bhi.X-eps && blo.X < hi.X-eps && lo.Y < bhi.Y-eps && blo.Y < hi.Y-eps {
				p.t.Errorf("%s (%v–%v) and %s (%v–%v) overlap, want them apart", a.name, lo, hi, b.name, blo, bhi)
			}
		}
	}
	// The address wraps inside its box instead of running off to the right.
	if d.link.Size().Width > d.linkView.Size().Width+eps || d.link.MinSize().Width > d.linkView.Size().Width+eps {
		p.t.Errorf("the link is %v (needs %v), want it no wider than its box, %v", d.link.Size(), d.link.MinSize(), d.linkView.Size())
	}
	if d.steps.Size().Width > d.scroll.Size().Width+eps || d.steps.MinSize().Width > d.scroll.Size().Width+eps {
		p.t.Errorf("the steps are %v (need %v), want them no wider than their box, %v", d.steps.Size(), d.steps.MinSize(), d.scroll.Size())
	}
}

// With no browser to open (no xdg-open, as over ssh or in a container), the
// login dialog lists its steps, says plainly that no browser opened, shows
// the login link with Copy link and Open in browser, and a code pasted back
// from a browser elsewhere completes the login.
func TestLoginDialogNoBrowser(t *testing.T) {
	fake := fakeOAuth(t)
	t.Setenv("KEYPOOL_CLAUDE_AUTHORIZE_URL", fake.URL+"/oauth/authorize")
	t.Setenv("KEYPOOL_CLAUDE_TOKEN_URL", fake.URL+"/v1/oauth/token")
	t.Setenv("KEYPOOL_CLAUDE_MANUAL_REDIRECT_URL", fake.URL+"/oauth/code/callback")
	t.Setenv("KEYPOOL_CLAUDE_SUCCESS_URL", fake.URL+"/success")
	f := newFixture(t)
	t.Cleanup(func() { f.keys.DeleteAll(secrets.Account("claude-me")) })
	p := newDialogWithoutBrowser(t, f.ui)
	d := p.d
	d.show()
	p.tap(d.start)

	p.until("the dialog to say no browser opened", func() bool {
		return strings.Contains(p.steps(), "Could not open a browser") && d.got.Elsewhere != "" && d.shown.URL == d.got.Elsewhere
	})
	steps := p.steps()
	for _, want := range []string{
		"Starting the login…",
		`Could not open a browser: exec: "xdg-open": executable file not found in $PATH; copy the link into a browser on this or another computer, log in, then paste the code the page shows (all of it, including the # in the middle) below.`,
	} {
		if !strings.Contains(steps, want) {
			t.Errorf("steps:\n%s\nwant them to hold %q", steps, want)
		}
	}
	if strings.Contains(steps, "http") {
		t.Errorf("steps:\n%s\nwant no address in them (it goes in the link box)", steps)
	}
	if opened := p.openedURLs(); len(opened) != 1 || !strings.Contains(opened[0], "redirect_uri=http%3A%2F%2Flocalhost") {
		t.Errorf("the browser was asked for %q; want this machine's login page once", opened)
	}
	link := d.link.Text
	if !d.linkBox.Visible() || !strings.HasPrefix(link, fake.URL+"/oauth/authorize?") ||
		!strings.Contains(link, url.QueryEscape(fake.URL+"/oauth/code/callback")) {
		t.Fatalf("link box (visible %v) shows %q; want the login page for any browser", d.linkBox.Visible(), link)
	}
	if !strings.Contains(d.pasteFor.Text, "paste the code the page shows") {
		t.Errorf("the paste field's note says %q, want it to say \"paste the code the page shows\"", d.pasteFor.Text)
	}
	p.checkLayout()
	p.screenshot("login-no-browser.png")

	p.tap(d.copyLink)
	if got := f.ui.fapp.Clipboard().Content(); got != link {
		t.Errorf("Copy link copied %q, want %q", got, link)
	}
	p.tap(d.openLink)
	p.until("a second try to open the browser", func() bool { return len(p.openedURLs()) == 2 })
	if got := p.openedURLs()[1]; got != link {
		t.Errorf("Open in browser opened %q, want the link shown", got)
	}

	// A browser on another computer: the login page ends on the provider's
	// code page; the user pastes the code shown there.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		test.Type(d.paste, back.Query().Get("code")+"#"+back.Query().Get("state"))
	}()
	p.tap(d.usePaste)
	p.until("the login to end", func() bool { return strings.Contains(p.steps(), "Logged in: ") })
	p.wait()
	if d.ctx.Err() == nil {
		t.Error("the dialog's context after the login: not done, want the dialog closed")
	}
	steps = p.steps()
	for _, want := range []string{"Exchanging the code…", "Logged in: claude-me"} {
		if !strings.Contains(steps, want) {
			t.Errorf("steps:\n%s\nwant them to hold %q", steps, want)
		}
	}
	if strings.Contains(steps, "the-code") {
		t.Errorf("steps:\n%s\nwant the pasted code left out", steps)
	}
	if a, err := f.core.Store().Account("claude-me"); err != nil || a.Email != "me@example.com" {
		t.Errorf("stored account: %+v, %v; want email me@example.com", a, err)
	}
}

// The device login (ChatGPT) shows its page and code, each with Copy, and
// closing the dialog stops the login.
func TestLoginDialogDeviceCode(t *testing.T) {
	fake := fakeOAuth(t)
	t.Setenv("KEYPOOL_CODEX_ISSUER", fake.URL)
	f := newFixture(t)
	p := newDialogWithoutBrowser(t, f.ui)
	d := p.d
	d.show()
	func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		d.kind.SetSelected(loginLabel("codex-oauth"))
		test.Tap(d.device)
	}()
	if !d.device.Checked {
		t.Fatal("device-code box for ChatGPT after a tap: unchecked, want checked")
	}
	p.tap(d.start)
	p.until("the code", func() bool { return d.codeRow.Visible() })
	if d.code.Text != "ABCD-EFGH" || d.link.Text != fake.URL+"/codex/device" {
		t.Errorf("shows code %q at %q, want ABCD-EFGH at %s/codex/device", d.code.Text, d.link.Text, fake.URL)
	}
	if len(p.openedURLs()) != 0 {
		t.Errorf("the device login asked a browser for %q, want none", p.openedURLs())
	}
	p.checkLayout()
	p.screenshot("login-device-code.png")
	p.tap(d.copyCode)
	if got := f.ui.fapp.Clipboard().Content(); got != "ABCD-EFGH" {
		t.Errorf("Copy code copied %q, want ABCD-EFGH", got)
	}
	p.tap(d.copyLink)
	if got, want := f.ui.fapp.Clipboard().Content(), fake.URL+"/codex/device"; got != want {
		t.Errorf("Copy link copied %q, want %q", got, want)
	}
	p.tap(d.openLink)
	p.until("the failure to open the page", func() bool { return strings.Contains(p.steps(), "Could not open a browser") })
	if !strings.Contains(p.steps(), "copy the link into a browser on this or another computer and enter the code.") {
		t.Errorf("steps:\n%s\nwant them to say to copy the link into a browser and enter the code", p.steps())
	}

	d.d.Hide()
	p.wait()
	if !errors.Is(d.ctx.Err(), context.Canceled) {
		t.Errorf("the dialog's context after closing: %v, want context.Canceled", d.ctx.Err())
	}
}
