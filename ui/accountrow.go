package ui

import (
	"fmt"
	"image/color"
	"keypool/app"
	"keypool/assets"
	"strconv"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// accountRow is one account in the Accounts tab, three lines that never
// run into each other (each text is cut with an ellipsis at its edge):
//
//	[✓] name · kind                          today: requests, errors, cost   [action] ▲ ▼ Edit Delete
//	    ● state, its reason and when it is back
//	    5h ▮▮▮▯▯ 42%   7d ▮▯▯▯▯ 12%   budget ▮▮▮▯▯ 63% of $0.01/day
type accountRow struct {
	badge   *providerBadge
	check   *widget.Check
	name    *widget.Hyperlink // opens the account's details, the whole name first
	today   *widget.Label
	dot     *widget.Label // the state's colour: the words stay in the text colour, readable on light and dark
	state   *widget.Label
	meters  *fyne.Container // one meter a plan window, and the budget
	action  *widget.Button  // what the state needs: Log in again, Enter key, Enable
	up      *widget.Button
	down    *widget.Button
	edit    *widget.Button
	del     *widget.Button
	content *fyne.Container
}

func newAccountRow() *accountRow {
	r := &accountRow{
		badge:  newProviderBadge(),
		check:  widget.NewCheck("", nil),
		name:   widget.NewHyperlink("name", nil),
		today:  widget.NewLabel("today"),
		dot:    widget.NewLabel("●"),
		state:  widget.NewLabel("state"),
		meters: container.NewHBox(),
		action: widget.NewButton("action", nil),
		up:     widget.NewButton("▲", nil),
		down:   widget.NewButton("▼", nil),
		edit:   widget.NewButton("Edit", nil),
		del:    widget.NewButton("Delete", nil),
	}
	for _, l := range []*widget.Label{r.today, r.state} {
		l.Truncation = fyne.TextTruncateEllipsis
	}
	r.name.Truncation = fyne.TextTruncateEllipsis
	r.name.TextStyle = fyne.TextStyle{Bold: true}
	r.today.Alignment = fyne.TextAlignTrailing
	r.action.Importance = widget.HighImportance
	r.action.Hide()
	// The meters line keeps its height when an account has no meter, so
	// every row is as tall as the list's template.
	strut := canvas.NewRectangle(color.Transparent)
	strut.SetMinSize(fyne.NewSize(0, widget.NewLabel("5h").MinSize().Height))
	meterLine := container.NewStack(strut, r.meters)
	lines := container.New(layout.NewCustomPaddedVBoxLayout(-theme.Padding()),
		container.NewGridWithColumns(2, r.name, r.today),
		container.NewBorder(nil, nil, r.dot, nil, r.state),
		meterLine)
	// The check and the buttons keep their own height, centred on the row.
	r.content = container.NewBorder(nil, nil, container.NewCenter(container.NewHBox(r.check, r.badge.content)),
		container.NewCenter(container.NewHBox(r.action, r.up, r.down, r.edit, r.del)), lines)
	return r
}

// providerBadge is a provider's mark (Anthropic, OpenAI, Google), or for
// any other kind its initial on its colour, so a long list is scanned by
// provider at a glance.
type providerBadge struct {
	mark    *canvas.Image
	disc    *canvas.Circle
	letter  *canvas.Text
	content *fyne.Container
}

// vendorMarks are the marks by app.KindVendor.
var vendorMarks = map[string]fyne.Resource{
	"Anthropic": fyne.NewStaticResource("anthropic.svg", assets.MarkAnthropic),
	"OpenAI":    fyne.NewStaticResource("openai.svg", assets.MarkOpenAI),
	"Google":    fyne.NewStaticResource("google.svg", assets.MarkGoogle),
}

func newProviderBadge() *providerBadge {
	b := &providerBadge{mark: canvas.NewImageFromResource(nil), disc: canvas.NewCircle(color.Transparent),
		letter: canvas.NewText("", color.White)}
	b.mark.FillMode = canvas.ImageFillContain
	b.mark.Hide()
	b.letter.TextStyle = fyne.TextStyle{Bold: true}
	b.letter.Alignment = fyne.TextAlignCenter
	size := canvas.NewRectangle(color.Transparent)
	size.SetMinSize(fyne.NewSize(22, 22))
	// Centred, so the row's height never stretches the disc into an oval.
	b.content = container.NewCenter(container.NewStack(size, b.disc, container.NewCenter(b.letter), b.mark))
	return b
}

// set shows the provider of account type t.
func (b *providerBadge) set(t app.Kind) {
	if res, ok := vendorMarks[app.KindVendor(t)]; ok {
		b.mark.Resource = res
		b.mark.Show()
		b.disc.Hide()
		b.letter.Hide()
		b.mark.Refresh()
		return
	}
	letter, c := "?", color.NRGBA{0x80, 0x80, 0x80, 0xff}
	if l, rgb, ok := app.KindMark(t); ok {
		letter, c = l, color.NRGBA{uint8(rgb >> 16), uint8(rgb >> 8), uint8(rgb), 0xff}
	}
	b.mark.Hide()
	b.disc.Show()
	b.letter.Show()
	b.letter.Text = letter
	b.disc.FillColor = c
	b.letter.Refresh()
	b.disc.Refresh()
}

// stateImportance colours a state: green ready, amber resting, red when
// the user must act, grey when switched off.
func stateImportance(state app.AccountState) widget.Importance {
	switch state {
	case app.StateReady:
		return widget.SuccessImportance
	case app.StateCooling, app.StateUnavailable, app.StateOverage:
		return widget.WarningImportance
	case app.StateNeedsLogin, app.StateNeedsKey, app.StateUnsupported:
		return widget.DangerImportance
	}
	return widget.LowImportance
}

// rowMeter is a labelled bar: "5h" ▮▮▮▯▯ "42%".
func rowMeter(label string, frac float64, warn bool) fyne.CanvasObject {
	frac = min(max(frac, 0), 1)
	bg := canvas.NewRectangle(theme.Color(theme.ColorNameInputBorder))
	fill := canvas.NewRectangle(theme.Color(theme.ColorNameSuccess))
	switch {
	case frac >= 0.9:
		fill.FillColor = theme.Color(theme.ColorNameError)
	case frac >= 0.7 || warn:
		fill.FillColor = theme.Color(theme.ColorNameWarning)
	}
	bar := container.New(&meterLayout{frac: frac}, bg, fill)
	text := widget.NewLabel(label)
	return container.NewHBox(text, container.NewCenter(bar))
}

// meterLayout draws a bar 64×8: the first object is the track, the second
// the part used.
type meterLayout struct{ frac float64 }

func (m *meterLayout) MinSize([]fyne.CanvasObject) fyne.Size { return fyne.NewSize(64, 8) }

func (m *meterLayout) Layout(objs []fyne.CanvasObject, size fyne.Size) {
	objs[0].Resize(size)
	objs[0].Move(fyne.NewPos(0, 0))
	objs[1].Resize(fyne.NewSize(size.Width*float32(m.frac), size.Height))
	objs[1].Move(fyne.NewPos(0, 0))
}

// meters are an account's plan windows, then its daily and monthly
// budgets when set, as bars.
func (s snapshot) meters(a app.Account) []fyne.CanvasObject {
	var out []fyne.CanvasObject
	budget := func(spent, limit float64, per string) {
		if limit > 0 {
			out = append(out, rowMeter(fmt.Sprintf("$%s/%s %.0f%%", strconv.FormatFloat(limit, 'f', -1, 64), per,
				100*spent/limit), spent/limit, false))
		}
	}
	for _, h := range s.health.Accounts {
		if h.ID != a.ID {
			continue
		}
		for _, q := range h.Quota {
			label := fmt.Sprintf("%s %.0f%%", q.Window, q.Utilization*100)
			if !q.ResetsAt.IsZero() && q.Utilization >= 0.7 {
				label += ", resets " + q.ResetsAt.Local().Format("Mon 15:04")
			}
			out = append(out, rowMeter(label, q.Utilization, q.Status == "allowed_warning"))
		}
		if b := h.Budget; b != nil {
			// What the relay counts against the caps.
			budget(b.SpentTodayUSD, b.DailyUSD, "day")
			budget(b.SpentMonthUSD, b.MonthlyUSD, "mo")
			return out
		}
	}
	budget(s.costToday(a.ID), a.DailyBudgetUSD, "day") // the relay has not loaded it yet
	return out
}

// costToday is what an account spent today, in USD.
func (s snapshot) costToday(id string) float64 {
	var usd float64
	for _, d := range s.today {
		if d.Account == id {
			usd += d.CostUSD
		}
	}
	return usd
}
