package ui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"
	"github.com/pkg/browser"

	"keypool/app"
)

// browserLogin is the login the dialog offers under label (the zero
// value for none).
func browserLogin(label string) app.BrowserLogin {
	for _, l := range app.BrowserLogins() {
		if l.Label == label {
			return l
		}
	}
	return app.BrowserLogin{}
}

// loginLabel is what the dialog calls account type k's login ("" for a type
// without one).
func loginLabel(k app.Kind) string {
	for _, l := range app.BrowserLogins() {
		if l.Kind == k {
			return l.Label
		}
	}
	return ""
}

// showLogin opens the "Log in an account" dialog with the system browser.
func (v *accountsView) showLogin() { newLoginDialog(v.u, openBrowser).show() }

// loginDialog is the "Log in an account" dialog. It lists the login's steps
// as they happen; as soon as the login page's address is known it shows it
// with Copy link and Open in browser (the device login's code with Copy
// code), tries the browser once, and says plainly when no browser opened;
// the paste field takes the final address or code back from a browser
// that cannot reach this machine.
//
// Its goroutines (the login, each browser opener) end with its context,
// which closing the dialog cancels.
type loginDialog struct {
	u *UI
	// open opens url in a browser and returns the opener's failure; it
	// returns early when ctx ends.
	open func(ctx context.Context, url string) error

	ctx    context.Context
	cancel context.CancelFunc
	closed atomic.Bool    // the dialog was closed (ctx may also end by its time limit)
	wg     sync.WaitGroup // the login and the browser openers in flight

	// mu is held by each update a goroutine makes (through do) and, in
	// tests, while reading the widgets; changed, when set, is called after
	// each such update.
	mu      sync.Mutex
	changed func()

	kind     *widget.Select
	id       *widget.Entry
	device   *widget.Check
	start    *widget.Button
	steps    *widget.Label // the steps so far, numbered, one a line
	scroll   *container.Scroll
	content  *fyne.Container
	linkBox  *fyne.Container
	linkView *container.Scroll
	linkNote *widget.Label
	link     *widget.Label
	copyLink *widget.Button
	openLink *widget.Button
	codeRow  *fyne.Container
	code     *widget.Label
	copyCode *widget.Button
	pasteFor *widget.Label
	paste    *widget.Entry
	usePaste *widget.Button
	pasteRow *fyne.Container
	d        dialog.Dialog

	// One login's state; Fyne's goroutine only.
	lines *pasteLines
	said  []string      // the steps
	got   app.LoginLink // what the login asks the user to open
	shown app.LoginLink // what the link box shows: got, or got.Elsewhere as its URL
}

func newLoginDialog(u *UI, open func(context.Context, string) error) *loginDialog {
	d := &loginDialog{u: u, open: open}
	d.ctx, d.cancel = context.WithTimeoutCause(u.life, 15*time.Minute,
		errors.New("the dialog was open for 15 minutes; close it and log in again"))

	var labels []string
	for _, l := range app.BrowserLogins() {
		labels = append(labels, l.Label)
	}
	d.kind = widget.NewSelect(labels, nil)
	d.device = widget.NewCheck("Use a device code (ChatGPT; no browser on this computer needed)", nil)
	d.kind.OnChanged = func(s string) {
		if browserLogin(s).Device {
			d.device.Enable()
			return
		}
		d.device.SetChecked(false)
		d.device.Disable()
	}
	d.kind.SetSelected(labels[0])
	d.id = widget.NewEntry()
	d.id.SetPlaceHolder("account id (optional)")
	d.start = widget.NewButton("Log in", d.begin)
	d.start.Importance = widget.HighImportance

	d.steps = widget.NewLabel("")
	d.steps.Wrapping = fyne.TextWrapWord
	d.scroll = container.NewVScroll(d.steps)
	d.scroll.SetMinSize(fyne.NewSize(0, 88))

	d.linkNote = widget.NewLabel("")
	d.linkNote.Wrapping = fyne.TextWrapWord
	d.link = widget.NewLabel("")
	d.link.Wrapping = fyne.TextWrapBreak // an address has no spaces to wrap at
	d.link.Selectable = true
	d.linkView = container.NewVScroll(d.link)
	d.copyLink = widget.NewButton("Copy link", func() {
		d.u.fapp.Clipboard().SetContent(d.shown.URL)
		d.copyLink.SetText("Link copied")
	})
	d.openLink = widget.NewButton("Open in browser", func() { d.openBrowser(d.shown.URL) })
	d.code = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	d.copyCode = widget.NewButton("Copy code", func() {
		d.u.fapp.Clipboard().SetContent(d.shown.Code)
		d.copyCode.SetText("Code copied")
	})
	d.codeRow = container.NewHBox(widget.NewLabel("Code:"), d.code, d.copyCode)
	d.codeRow.Hide()
	d.linkBox = container.NewVBox(d.linkNote, d.codeRow,
		container.NewBorder(nil, nil, nil, container.NewVBox(d.copyLink, d.openLink), d.linkView))
	d.linkBox.Hide()

	d.pasteFor = widget.NewLabel(pasteAny)
	d.pasteFor.Wrapping = fyne.TextWrapWord
	d.paste = widget.NewEntry()
	d.paste.SetPlaceHolder("final address or code")
	d.paste.OnSubmitted = func(string) { d.sendPaste() }
	d.usePaste = widget.NewButton("Use pasted", d.sendPaste)

	top := container.NewVBox(
		container.NewBorder(nil, nil, nil, d.start, container.NewGridWithColumns(2, d.kind, d.id)),
		d.device)
	d.pasteRow = container.NewBorder(nil, nil, nil, d.usePaste, d.paste)
	bottom := container.NewVBox(d.linkBox, d.pasteFor, d.pasteRow)
	d.content = container.NewBorder(top, bottom, nil, nil, d.scroll)
	d.d = dialog.NewCustom("Log in an account", "Close", d.content, u.win)
	d.d.SetOnClosed(func() {
		d.closed.Store(true)
		d.cancel()
		if d.lines != nil {
			d.lines.close()
		}
	})
	d.d.Resize(fyne.NewSize(660, 520))
	return d
}

const pasteAny = "If the browser cannot come back to Keypool, paste the final address or code here:"

func (d *loginDialog) show() { d.d.Show() }

// do runs f on Fyne's goroutine for one of the dialog's goroutines.
func (d *loginDialog) do(f func()) {
	runOnLoop(func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		f()
		if d.changed != nil {
			d.changed()
		}
	})
}

// begin starts a login with what the form says.
func (d *loginDialog) begin() {
	if d.ctx.Err() != nil {
		d.step("Cannot log in: " + context.Cause(d.ctx).Error() + ".")
		return
	}
	d.said = nil
	d.steps.SetText("")
	d.got, d.shown = app.LoginLink{}, app.LoginLink{}
	d.pasteFor.SetText(pasteAny)
	login := browserLogin(d.kind.Selected)
	kind := login.Kind
	device := d.device.Checked && login.Device
	d.linkBox.Hide()
	d.codeRow.Hide()
	for _, o := range []fyne.CanvasObject{d.pasteFor, d.pasteRow} {
		if device { // the device login takes nothing back
			o.Hide()
		} else {
			o.Show()
		}
	}
	d.content.Refresh()
	d.setForm(false)
	lines := newPasteLines()
	d.lines = lines
	lp := app.LoginParams{Kind: kind, ID: strings.TrimSpace(d.id.Text), Paste: lines,
		Device:    device,
		NoBrowser: true, // opened here, where a failure can be shown next to the link
		Progress:  func(msg string) { d.do(func() { d.step(msg) }) },
		Link:      func(l app.LoginLink) { d.do(func() { d.gotLink(l) }) },
	}
	if login.Note != "" {
		d.step("Note: " + login.Note)
	}
	d.step("Starting the login…")
	d.u.goOwned(&d.wg, func() {
		acct, err := d.u.core.Login(d.ctx, lp)
		lines.close()
		d.do(func() { d.finished(acct.ID, err) })
	})
}

func (d *loginDialog) setForm(on bool) {
	for _, w := range []fyne.Disableable{d.kind, d.id, d.start} {
		if on {
			w.Enable()
		} else {
			w.Disable()
		}
	}
	if on && browserLogin(d.kind.Selected).Device {
		d.device.Enable()
	} else {
		d.device.Disable()
	}
}

func (d *loginDialog) finished(id string, err error) {
	if d.closed.Load() {
		return // nobody is looking
	}
	d.setForm(true)
	if err != nil {
		d.step("Login failed: " + err.Error())
		return
	}
	d.step("Logged in: " + id)
	d.d.Hide()
	d.u.goOwned(&d.wg, d.u.Refresh)
}

// step adds one line to the list of steps.
func (d *loginDialog) step(msg string) {
	d.said = append(d.said, msg)
	var b strings.Builder
	for i, s := range d.said {
		if i > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "%d. %s", i+1, s)
	}
	d.steps.SetText(b.String())
	d.scroll.ScrollToBottom()
}

// gotLink shows the login page as soon as the login knows it and opens it
// in this machine's browser; the device login's page waits for Open in
// browser, since that login is for a browser elsewhere.
func (d *loginDialog) gotLink(l app.LoginLink) {
	d.got = l
	if l.Code != "" {
		d.showLink(app.LoginLink{URL: l.URL, Code: l.Code}, "Open this page in a browser on this or another computer and enter the code:")
		return
	}
	d.showLink(app.LoginLink{URL: l.URL, Paste: l.Paste}, "The login page (open it in a browser on this computer):")
	d.openBrowser(l.URL)
}

func (d *loginDialog) showLink(l app.LoginLink, note string) {
	d.shown = l
	d.linkNote.SetText(note)
	d.link.SetText(l.URL)
	d.copyLink.SetText("Copy link")
	d.copyCode.SetText("Copy code")
	d.code.SetText(l.Code)
	if l.Code != "" {
		d.codeRow.Show()
	} else {
		d.codeRow.Hide()
	}
	if l.Paste != "" {
		d.pasteFor.SetText("If the browser cannot come back to Keypool, paste " + l.Paste + " here:")
	}
	d.linkBox.Show()
	d.content.Refresh()
}

// openBrowser opens url in a browser and says how it went.
func (d *loginDialog) openBrowser(url string) {
	if url == "" || d.ctx.Err() != nil {
		return
	}
	d.u.goOwned(&d.wg, func() {
		err := d.open(d.ctx, url)
		if d.ctx.Err() != nil {
			return
		}
		d.do(func() { d.opened(err) })
	})
}

func (d *loginDialog) opened(err error) {
	if d.closed.Load() {
		return
	}
	if err == nil {
		d.step("Opened the login page in your browser. Log in there and this dialog goes on by itself.")
		return
	}
	l := d.shown
	if d.got.Elsewhere != "" && l.URL != d.got.Elsewhere {
		// That page ends on this machine's callback; the provider's own
		// one shows a code instead, and works in any browser.
		l = app.LoginLink{URL: d.got.Elsewhere, Paste: d.got.ElsewherePaste}
		d.showLink(l, "Open this link in a browser on this or another computer; after you log in it shows a code to paste below:")
	}
	msg := "Could not open a browser: " + err.Error() + "; copy the link into a browser on this or another computer"
	switch {
	case l.Code != "":
		msg += " and enter the code."
	case l.Paste != "":
		msg += ", log in, then paste " + l.Paste + " below."
	default:
		msg += "."
	}
	d.step(msg)
}

// sendPaste hands the paste field's text to the login.
func (d *loginDialog) sendPaste() {
	s := strings.TrimSpace(d.paste.Text)
	if s == "" {
		return
	}
	if d.lines == nil || d.lines.closed() {
		d.step("No login is waiting for a paste: start one first.")
		return
	}
	if !d.lines.send(s) {
		d.step("Still checking the last paste; try again in a moment.")
		return
	}
	d.paste.SetText("")
	d.step("Checking what you pasted…")
}

// pasteLines is what the user pastes, as the login reads it: one line per
// Use pasted, then EOF once closed (when the login has ended or the dialog
// closes).
type pasteLines struct {
	ch   chan string
	done chan struct{}
	once sync.Once
	rest []byte // the reader's only
}

func newPasteLines() *pasteLines {
	return &pasteLines{ch: make(chan string, 1), done: make(chan struct{})}
}

func (p *pasteLines) Read(b []byte) (int, error) {
	if len(p.rest) == 0 {
		select {
		case s := <-p.ch:
			p.rest = []byte(s + "\n")
		case <-p.done:
			return 0, io.EOF
		}
	}
	n := copy(b, p.rest)
	p.rest = p.rest[n:]
	return n, nil
}

// send queues a line; false when the login has not read the previous one
// yet.
func (p *pasteLines) send(line string) bool {
	select {
	case p.ch <- line:
		return true
	default:
		return false
	}
}

func (p *pasteLines) closed() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *pasteLines) close() { p.once.Do(func() { close(p.done) }) }

// openBrowser opens url in the system browser. On Linux and the BSDs it runs
// xdg-open and waits for it, so that its failure (no xdg-open, or exit
// status 3: no browser set up, as over ssh and in containers) can be shown;
// if ctx ends first xdg-open is stopped (a browser it started lives on).
func openBrowser(ctx context.Context, url string) error {
	switch runtime.GOOS {
	case "linux", "freebsd", "openbsd", "netbsd", "dragonfly":
	default:
		return browser.OpenURL(url) // open and start return at once
	}
	err := exec.CommandContext(ctx, "xdg-open", url).Run()
	switch {
	case err == nil || ctx.Err() != nil:
		return nil
	case errors.Is(err, exec.ErrNotFound):
		return errors.New("xdg-open is not installed")
	}
	return fmt.Errorf("xdg-open failed: %w", err)
}
