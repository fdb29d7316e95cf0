package ui

import (
	"fmt"
	"keypool/app"
	"strconv"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"
)

// activityView is the latest requests as a table with a header: when, what,
// which account, how it ended, and the path through failovers. A row opens
// to show the whole story; filters pick an account and an outcome.
type activityView struct {
	u       *UI
	all     []app.UsageRecord // newest first
	shown   []app.UsageRecord // after the filters
	table   *widget.Table
	account *widget.Select
	outcome *widget.Select
	content fyne.CanvasObject
}

// The outcome filter's choices.
const (
	outcomeAll      = "all outcomes"
	outcomeOK       = "answered"
	outcomeFailover = "answered after a failover"
	outcomeFailed   = "failed"
	outcomeRefused  = "refused (reached no account)"
	accountAll      = "all accounts"
)

// activityColumns are the table's columns: header and width.
var activityColumns = []column{
	{"Time", 76}, {"Account", 110}, {"Status", 60}, {"Took", 70}, {"What happened", 330},
	{"Model", 160}, {"Cost", 80}, {"Route", 100}, {"Client", 110},
}

func newActivityView(u *UI) *activityView {
	v := &activityView{u: u}
	v.table = newTextTable(activityColumns, func() int { return len(v.shown) },
		func(row, col int) string { return activityCell(v.shown[row], col) })
	v.table.OnSelected = func(id widget.TableCellID) {
		if id.Row >= 0 && id.Row < len(v.shown) {
			v.showRecord(v.shown[id.Row])
		}
		v.table.UnselectAll()
	}
	v.account = widget.NewSelect([]string{accountAll}, func(string) { v.filter() })
	v.account.SetSelected(accountAll)
	v.outcome = widget.NewSelect([]string{outcomeAll, outcomeOK, outcomeFailover, outcomeFailed, outcomeRefused}, func(string) { v.filter() })
	v.outcome.SetSelected(outcomeAll)
	top := container.NewHBox(widget.NewLabel("Show"), v.account, v.outcome,
		widget.NewLabel("(the latest 100 requests; select a row for its whole story)"))
	v.content = container.NewBorder(top, nil, nil, nil, v.table)
	return v
}

func (v *activityView) update(s snapshot) {
	v.all = s.recent
	names := []string{accountAll}
	for _, a := range s.accounts {
		names = append(names, a.ID)
	}
	v.account.Options = names
	v.filter()
}

// filter applies the account and outcome filters.
func (v *activityView) filter() {
	v.shown = v.shown[:0]
	for _, r := range v.all {
		if v.account.Selected != "" && v.account.Selected != accountAll && !touched(r, v.account.Selected) {
			continue
		}
		if o := v.outcome.Selected; o != "" && o != outcomeAll && outcomeOf(r) != o {
			continue
		}
		v.shown = append(v.shown, r)
	}
	v.table.Refresh()
}

// touched reports whether the request went to account id, or was left by
// it.
func touched(r app.UsageRecord, id string) bool {
	if r.Account == id {
		return true
	}
	for _, f := range r.Failover {
		if f.Account == id {
			return true
		}
	}
	return false
}

// outcomeOf is how a request ended, as the outcome filter names it.
func outcomeOf(r app.UsageRecord) string {
	switch {
	case r.Account == "":
		return outcomeRefused
	case r.Status >= 400 || r.Error != "":
		return outcomeFailed
	case len(r.Failover) > 0:
		return outcomeFailover
	}
	return outcomeOK
}

// activityCell is column col of a record (see activityColumns).
func activityCell(r app.UsageRecord, col int) string {
	switch col {
	case 0:
		return r.Time.Local().Format("15:04:05")
	case 1:
		if r.Account == "" {
			return "—"
		}
		return r.Account
	case 2:
		return strconv.Itoa(r.Status)
	case 3:
		return r.Duration.Round(time.Millisecond).String()
	case 4:
		return story(r)
	case 5:
		return r.Model
	case 6:
		return fmt.Sprintf("$%.4f", r.CostUSD)
	case 7:
		return r.Route
	case 8:
		if r.Profile != "" {
			return r.ClientID + " (" + r.Profile + ")"
		}
		return r.ClientID
	}
	return ""
}

// story is what happened to a request in words: each account it left and
// why, then how it ended.
func story(r app.UsageRecord) string {
	var parts []string
	for _, f := range r.Failover {
		parts = append(parts, "left "+f.Account+": "+f.Reason)
	}
	switch {
	case r.Account == "" && r.Error != "":
		parts = append(parts, "refused: "+r.Error)
	case r.Error != "":
		parts = append(parts, "failed: "+r.Error)
	case len(parts) > 0:
		parts = append(parts, "answered by "+r.Account)
	default:
		parts = append(parts, "answered")
	}
	return strings.Join(parts, " → ")
}

// showRecord opens one request's whole story.
func (v *activityView) showRecord(r app.UsageRecord) {
	text := fmt.Sprintf("%s  %s  %s\nAccount: %s   Status: %d   Took: %s (first byte %s)   Cost: $%.4f   Client: %s\nTokens: %d in, %d out, %d cache write, %d cache read\n\n%s",
		r.Time.Local().Format("2006-01-02 15:04:05"), r.Route, r.Model, activityCell(r, 1), r.Status,
		r.Duration.Round(time.Millisecond), r.TTFB.Round(time.Millisecond), r.CostUSD, activityCell(r, 8),
		r.Usage.InputTokens, r.Usage.OutputTokens, r.Usage.CacheWriteTokens, r.Usage.CacheReadTokens,
		strings.ReplaceAll(story(r), " → ", "\n→ "))
	l := widget.NewLabel(text)
	l.Wrapping = fyne.TextWrapWord
	d := dialog.NewCustom("Request", "Close", container.NewVScroll(l), v.u.win)
	d.Resize(fyne.NewSize(620, 360))
	d.Show()
}

// column is a table column: its header and width.
type column struct {
	title string
	width float32
}

// newTextTable is a table of texts under a header that stays in place:
// rows() rows of cell(row, col), each cut with an ellipsis at its column's
// width.
func newTextTable(cols []column, rows func() int, cell func(row, col int) string) *widget.Table {
	t := widget.NewTable(
		func() (int, int) { return rows(), len(cols) },
		func() fyne.CanvasObject {
			l := widget.NewLabel("cell")
			l.Truncation = fyne.TextTruncateEllipsis
			return l
		},
		func(id widget.TableCellID, o fyne.CanvasObject) {
			if id.Row < rows() {
				o.(*widget.Label).SetText(cell(id.Row, id.Col))
			}
		})
	t.ShowHeaderRow = true
	t.CreateHeader = func() fyne.CanvasObject {
		return widget.NewLabelWithStyle("header", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	}
	t.UpdateHeader = func(id widget.TableCellID, o fyne.CanvasObject) {
		if id.Col >= 0 && id.Col < len(cols) {
			o.(*widget.Label).SetText(cols[id.Col].title)
		}
	}
	for i, c := range cols {
		t.SetColumnWidth(i, c.width)
	}
	return t
}
