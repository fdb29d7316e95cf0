package ui

import (
	"encoding/csv"
	"fmt"
	"io"
	"keypool/app"
	"sort"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"
)

// usageView is the traffic of one period (today, 7 or 30 days) per account
// and model, with the accounts' names, cost per account, requests per hour
// on a labelled scale, the plan windows, and Export CSV.
type usageView struct {
	u       *UI
	snap    snapshot
	period  *widget.RadioGroup
	rows    [][]string // the table's rows, per usageHeader
	table   *widget.Table
	costs   *widget.Label      // cost per account in the period
	measure *widget.RadioGroup // requests or cost, in the chart
	chart   *usageChart
	quota   *widget.Label
	content fyne.CanvasObject
}

// The periods the switch offers.
const (
	periodToday = "Today"
	periodWeek  = "7 days"
	periodMonth = "30 days"
)

// What the chart measures.
const (
	measureRequests = "Requests"
	measureCost     = "Cost"
)

// usageColumns fit the smallest window, dividers included.
var usageColumns = []column{{"Account", 140}, {"Model", 145}, {"Requests", 75}, {"Input", 70},
	{"Output", 70}, {"Cache write", 90}, {"Cache read", 85}, {"Cost (USD)", 90}}

func newUsageView(u *UI) *usageView {
	v := &usageView{u: u}
	v.table = newTextTable(usageColumns, func() int { return len(v.rows) },
		func(row, col int) string { return v.rows[row][col] })
	v.costs = widget.NewLabel("")
	v.costs.Truncation = fyne.TextTruncateEllipsis
	v.measure = widget.NewRadioGroup([]string{measureRequests, measureCost}, func(string) { v.drawChart() })
	v.measure.Horizontal = true
	v.measure.Required = true
	v.chart = newUsageChart(v.measure)
	v.period = widget.NewRadioGroup([]string{periodToday, periodWeek, periodMonth}, func(string) { v.fill() })
	v.period.Horizontal = true
	v.period.Required = true
	v.period.SetSelected(periodToday)
	v.measure.SetSelected(measureRequests)
	export := widget.NewButton("Export CSV…", v.showExport)
	v.quota = widget.NewLabel("")
	// One line: the Accounts tab shows each window as a bar.
	v.quota.Truncation = fyne.TextTruncateEllipsis
	top := container.NewVBox(container.NewBorder(nil, nil, v.period, export),
		v.chart.content, v.quota, v.costs)
	v.content = container.NewBorder(top, nil, nil, nil, v.table)
	return v
}

func (v *usageView) update(s snapshot) {
	v.snap = s
	var plans []string
	for _, a := range s.accounts {
		if q := s.quotaText(a.ID); q != "" {
			plans = append(plans, a.Name+": "+q)
		}
	}
	if len(plans) == 0 {
		v.quota.SetText("Plan quota: not reported yet (subscriptions report it with each answer).")
	} else {
		v.quota.SetText("Plan quota — " + strings.Join(plans, "; "))
	}
	v.fill()
}

// drawChart shows the chosen period and measure: per hour today, per day
// over 7 or 30 days.
func (v *usageView) drawChart() {
	if v.snap.now.IsZero() {
		return // nothing read yet
	}
	cost := v.measure.Selected == measureCost
	switch v.period.Selected {
	case periodWeek:
		v.chart.show(dailyData(v.snap.now, 7, v.snap.week, cost))
	case periodMonth:
		v.chart.show(dailyData(v.snap.now, 30, v.snap.month, cost))
	default:
		v.chart.show(hourlyData(v.snap.now, v.snap.hourly, cost))
	}
}

// days are the daily totals of the chosen period.
func (v *usageView) days() []app.DayTotal {
	switch v.period.Selected {
	case periodWeek:
		return v.snap.week
	case periodMonth:
		return v.snap.month
	}
	return v.snap.today
}

// fill builds the table's rows and the cost line for the chosen period.
func (v *usageView) fill() {
	v.drawChart()
	names := map[string]string{}
	for _, a := range v.snap.accounts {
		names[a.ID] = a.Name
	}
	name := func(id string) string {
		if n := names[id]; n != "" {
			return n
		}
		return id + " (removed)"
	}
	type key struct{ acct, model string }
	sum := map[key]*app.DayTotal{}
	cost := map[string]float64{}
	var keys []key
	for _, d := range v.days() {
		k := key{d.Account, d.Model}
		t := sum[k]
		if t == nil {
			t = &app.DayTotal{}
			sum[k] = t
			keys = append(keys, k)
		}
		t.Requests += d.Requests
		t.Usage = t.Usage.Add(d.Usage)
		t.CostUSD += d.CostUSD
		cost[d.Account] += d.CostUSD
	}
	sort.Slice(keys, func(i, j int) bool {
		if a, b := name(keys[i].acct), name(keys[j].acct); a != b {
			return a < b
		}
		return keys[i].model < keys[j].model
	})
	v.rows = v.rows[:0]
	for _, k := range keys {
		t := sum[k]
		v.rows = append(v.rows, []string{name(k.acct), k.model, strconv.FormatInt(t.Requests, 10),
			strconv.FormatInt(t.Usage.InputTokens, 10), strconv.FormatInt(t.Usage.OutputTokens, 10),
			strconv.FormatInt(t.Usage.CacheWriteTokens, 10), strconv.FormatInt(t.Usage.CacheReadTokens, 10),
			fmt.Sprintf("$%.4f", t.CostUSD)})
	}
	var accts []string
	for id := range cost {
		accts = append(accts, id)
	}
	sort.Slice(accts, func(i, j int) bool { return cost[accts[i]] > cost[accts[j]] })
	parts := make([]string, len(accts))
	var total float64
	for i, id := range accts {
		parts[i] = fmt.Sprintf("%s $%.4f", name(id), cost[id])
		total += cost[id]
	}
	if len(parts) == 0 {
		v.costs.SetText("No requests in this period.")
	} else {
		v.costs.SetText(fmt.Sprintf("Cost %s: $%.4f — %s", strings.ToLower(v.period.Selected), total, strings.Join(parts, " · ")))
	}
	v.table.Refresh()
}

// writeCSV writes the period's table, header first.
func (v *usageView) writeCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	header := []string{"period"}
	for _, c := range usageColumns {
		header = append(header, c.title)
	}
	cw.Write(header)
	for _, r := range v.rows {
		cw.Write(append([]string{v.period.Selected}, r...))
	}
	cw.Flush()
	return cw.Error()
}

// showExport asks where to save the period's table as CSV.
func (v *usageView) showExport() {
	d := dialog.NewFileSave(func(w fyne.URIWriteCloser, err error) {
		if err != nil || w == nil {
			return
		}
		defer w.Close()
		if err := v.writeCSV(w); err != nil {
			dialog.ShowError(fmt.Errorf("export usage to %s: %w", w.URI().Path(), err), v.u.win)
		}
	}, v.u.win)
	d.SetFileName("keypool-usage-" + strings.ReplaceAll(strings.ToLower(v.period.Selected), " ", "-") + ".csv")
	d.Show()
}
