package ui

import (
	"fmt"
	"image/color"
	"strconv"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"keypool/app"
)

// usageChart draws a period's traffic as bars on a labelled scale:
// requests or cost, per hour over the last 24 hours or per day over 7 or
// 30 days.
type usageChart struct {
	cols    []fyne.CanvasObject // one per bar, as many as the longest period
	stacks  []*fyne.Container   // each bar under its spacer, laid out again when it changes
	bars    []*canvas.Rectangle
	labels  []*widget.Label
	grid    *fyne.Container
	values  []float64 // the bars shown, oldest first
	caption *widget.Label
	// The scale: the top bar's value, and half of it, beside the bars.
	top, half *widget.Label
	content   fyne.CanvasObject
}

const (
	chartHeight = 120
	maxBars     = 30 // the 30-day period
)

// newUsageChart builds the chart; beside its caption, on the right, goes
// side (the switch of what it measures).
func newUsageChart(side fyne.CanvasObject) *usageChart {
	c := &usageChart{caption: widget.NewLabel("")}
	for range maxBars {
		bar := canvas.NewRectangle(theme.Color(theme.ColorNamePrimary))
		bar.SetMinSize(fyne.NewSize(6, 0))
		lbl := widget.NewLabel("")
		lbl.Alignment = fyne.TextAlignCenter
		stack := container.NewVBox(layout.NewSpacer(), bar)
		c.bars = append(c.bars, bar)
		c.labels = append(c.labels, lbl)
		c.stacks = append(c.stacks, stack)
		c.cols = append(c.cols, container.NewBorder(nil, lbl, nil, nil, stack))
	}
	c.grid = container.NewGridWithColumns(24, c.cols[:24]...)
	area := canvas.NewRectangle(color.Transparent)
	area.SetMinSize(fyne.NewSize(0, chartHeight+40))
	c.top, c.half = widget.NewLabel("1"), widget.NewLabel("")
	c.top.Alignment, c.half.Alignment = fyne.TextAlignTrailing, fyne.TextAlignTrailing
	zero := widget.NewLabel("0")
	zero.Alignment = fyne.TextAlignTrailing
	// The scale's labels sit at the top, middle and bottom of the bars'
	// height (the bar labels take the last 40 points).
	under := canvas.NewRectangle(color.Transparent) // beside the bar labels
	under.SetMinSize(fyne.NewSize(0, 40-zero.MinSize().Height/2))
	scale := container.NewBorder(nil, under, nil, nil,
		container.NewVBox(c.top, layout.NewSpacer(), c.half, layout.NewSpacer(), zero))
	scaleArea := canvas.NewRectangle(color.Transparent)
	scaleArea.SetMinSize(fyne.NewSize(64, chartHeight+40))
	c.content = container.NewBorder(container.NewBorder(nil, nil, nil, side, c.caption), nil, container.NewStack(scaleArea, scale), nil,
		container.New(squeezable{width: maxBars * 8}, container.NewStack(area, c.grid)))
	return c
}

// squeezable lays its objects over its whole size but asks only for width
// in its minimum: the bars' grid would ask for every bar label's width
// side by side, though only every few bars has a label, and so make the
// window wider than its smallest size.
type squeezable struct{ width float32 }

func (s squeezable) MinSize(objects []fyne.CanvasObject) fyne.Size {
	size := fyne.NewSize(s.width, 0)
	for _, o := range objects {
		size.Height = max(size.Height, o.MinSize().Height)
	}
	return size
}

func (squeezable) Layout(objects []fyne.CanvasObject, size fyne.Size) {
	for _, o := range objects {
		o.Move(fyne.NewPos(0, 0))
		o.Resize(size)
	}
}

// chartData is what the chart shows: a value and a label ("" for none)
// per bar, oldest first.
type chartData struct {
	values  []float64
	labels  []string
	money   bool   // the values are USD
	caption string // what the bars are, before the total
}

// show draws d.
func (c *usageChart) show(d chartData) {
	n := min(len(d.values), maxBars)
	if len(c.grid.Objects) != n {
		c.grid.Layout = layout.NewGridLayoutWithColumns(max(n, 1))
		c.grid.Objects = c.cols[:n]
		c.grid.Refresh()
	}
	c.values = d.values[:n]
	top := 0.0
	for _, v := range c.values {
		top = max(top, v)
	}
	if top == 0 {
		top = 1 // an empty chart still has a scale
		if d.money {
			top = 0.01
		}
	}
	for i, v := range c.values {
		c.bars[i].SetMinSize(fyne.NewSize(6, float32(v/top)*chartHeight))
		// A new height needs a new layout, not just a redraw.
		c.stacks[i].Refresh()
		c.labels[i].SetText(d.labels[i])
	}
	amount := func(v float64) string {
		if d.money {
			return money(v)
		}
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	c.top.SetText(amount(top))
	c.half.SetText(amount(top / 2))
	total := 0.0
	for _, v := range c.values {
		total += v
	}
	unit := "requests"
	if d.money {
		unit = "USD at API prices"
	}
	c.caption.SetText(fmt.Sprintf("%s (%s in all; the scale is %s)", d.caption, amount(total), unit))
}

// money is a USD amount as short as it can be read: "$12", "$0.42",
// "$0.0031".
func money(v float64) string {
	switch {
	case v == 0:
		return "$0"
	case v >= 10:
		return fmt.Sprintf("$%.0f", v)
	case v >= 0.1:
		return fmt.Sprintf("$%.2f", v)
	}
	return fmt.Sprintf("$%.4f", v)
}

// hourlyData is the last 24 hours, hour by hour, ending with now's hour:
// requests, or cost.
func hourlyData(now time.Time, hours []app.Hour, cost bool) chartData {
	d := chartData{values: make([]float64, 24), labels: make([]string, 24), money: cost,
		caption: "Requests per hour, last 24 hours"}
	if cost {
		d.caption = "Cost per hour, last 24 hours"
	}
	end := now.Truncate(time.Hour)
	for i := range 24 {
		if i < len(hours) {
			d.values[i] = float64(hours[i].Requests)
			if cost {
				d.values[i] = hours[i].CostUSD
			}
		}
		if i%3 == 2 {
			d.labels[i] = strconv.Itoa(end.Add(time.Duration(i-23)*time.Hour).Local().Hour()) + "h"
		}
	}
	return d
}

// dailyData is the last n days, day by day, ending today: requests, or
// cost, from the days' totals.
func dailyData(now time.Time, n int, totals []app.DayTotal, cost bool) chartData {
	d := chartData{values: make([]float64, n), labels: make([]string, n), money: cost,
		caption: fmt.Sprintf("Requests per day, last %d days", n)}
	if cost {
		d.caption = fmt.Sprintf("Cost per day, last %d days", n)
	}
	index := map[string]int{}
	for i := range n {
		day := now.AddDate(0, 0, i-(n-1)).Local()
		index[day.Format("2006-01-02")] = i
		// Every day of a week; every fifth of a month, counted back from
		// today.
		if n <= 7 || (n-1-i)%5 == 0 {
			d.labels[i] = strconv.Itoa(day.Day())
		}
	}
	for _, t := range totals {
		i, ok := index[t.Day]
		if !ok {
			continue
		}
		if cost {
			d.values[i] += t.CostUSD
		} else {
			d.values[i] += float64(t.Requests)
		}
	}
	return d
}
