package ui

import (
	"strings"

	"keypool/app"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// connectRow is one CLI's line: its name, whether it is connected, and one
// button that says what it will do (Connect or Disconnect).
type connectRow struct {
	client app.Client
	status *widget.Label
	button *widget.Button
	// warn says which variables of the user's environment change what
	// the CLI does with Keypool (hidden when none).
	warn *widget.Label
	row  *fyne.Container
}

func newConnectRow(c app.Client, name string) *connectRow {
	r := &connectRow{client: c, status: widget.NewLabel(""), button: widget.NewButton("Connect", nil), warn: widget.NewLabel("")}
	r.warn.Wrapping = fyne.TextWrapWord
	r.warn.Importance = widget.WarningImportance
	r.warn.Hide()
	r.row = container.NewVBox(container.NewHBox(widget.NewLabel(name+":"), r.status, r.button), r.warn)
	return r
}

// update shows whether the CLI is connected, from its own files, and wires
// the button to the opposite.
func (r *connectRow) update(u *UI) {
	on, _ := app.ClientConnected(r.client)
	if on {
		r.status.SetText("connected")
		r.button.SetText("Disconnect")
	} else {
		r.status.SetText("not connected")
		r.button.SetText("Connect")
	}
	r.button.OnTapped = func() { u.do(func() error { return u.connect(r.client, !on) }) }
	var lines []string
	for _, o := range app.ClientEnvOverrides(r.client) {
		lines = append(lines, "⚠ "+o.String())
	}
	if len(lines) == 0 {
		r.warn.Hide()
		return
	}
	r.warn.SetText(strings.Join(lines, "\n"))
	r.warn.Show()
}

// firstRun is what the Accounts tab shows while there are no accounts: the
// way from an empty Keypool to a working CLI, without the README.
type firstRun struct {
	content  fyne.CanvasObject
	connects []*connectRow
}

func newFirstRun(v *accountsView) *firstRun {
	f := &firstRun{}
	login := func(label, kind string) *widget.Button {
		b := widget.NewButton(label, func() {
			d := newLoginDialog(v.u, openBrowser)
			d.kind.SetSelected(kind)
			d.show()
		})
		b.Importance = widget.HighImportance
		return b
	}
	title := widget.NewLabelWithStyle("Add your first account", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	intro := widget.NewLabel("Keypool pools your own AI accounts behind one address on this computer. " +
		"Log in with a subscription, or add an API key (Anthropic, OpenAI, Gemini or a compatible service):")
	intro.Wrapping = fyne.TextWrapWord
	buttons := container.NewGridWithColumns(2)
	for _, l := range app.BrowserLogins() {
		buttons.Add(login("Log in with "+l.Label+"…", l.Label))
	}
	buttons.Add(widget.NewButton("Add API key…", v.showAdd))
	then := widget.NewLabelWithStyle("Then point your CLIs at Keypool", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	thenWhy := widget.NewLabel("Connect writes each CLI's own settings, so a new terminal just works; Disconnect puts them back as they were.")
	thenWhy.Wrapping = fyne.TextWrapWord
	rows := container.NewVBox()
	for _, c := range []struct {
		c    app.Client
		name string
	}{{app.ClaudeCode, "Claude Code"}, {app.Codex, "Codex CLI"}, {app.GeminiCLI, "Gemini CLI"}} {
		r := newConnectRow(c.c, c.name)
		f.connects = append(f.connects, r)
		rows.Add(r.row)
	}
	f.content = container.NewVScroll(container.NewVBox(title, intro, buttons, widget.NewSeparator(), then, thenWhy, rows))
	return f
}

// update shows each CLI's state.
func (f *firstRun) update(u *UI) {
	for _, r := range f.connects {
		r.update(u)
	}
}
