package ui

import (
	"image/color"
	"strconv"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// hourlyChart draws requests per hour over the last 24 hours as bars.
type hourlyChart struct {
	bars    []*canvas.Rectangle
	labels  []*widget.Label
	counts  [24]int64
	caption *widget.Label
	// The scale: the top bar's value, and half of it, beside the bars.
	top, half *widget.Label
	content   fyne.CanvasObject
}

const chartHeight = 120

func newHourlyChart() *hourlyChart {
	c := &hourlyChart{caption: widget.NewLabel("Requests per hour, last 24 hours")}
	cols := make([]fyne.CanvasObject, 24)
	for i := range cols {
		bar := canvas.NewRectangle(theme.Color(theme.ColorNamePrimary))
		bar.SetMinSize(fyne.NewSize(8, 0))
		lbl := widget.NewLabel("")
		lbl.Alignment = fyne.TextAlignCenter
		c.bars = append(c.bars, bar)
		c.labels = append(c.labels, lbl)
		cols[i] = container.NewBorder(nil, lbl, nil, nil, container.NewVBox(layout.NewSpacer(), bar))
	}
	area := canvas.NewRectangle(color.Transparent)
	area.SetMinSize(fyne.NewSize(0, chartHeight+40))
	c.top, c.half = widget.NewLabel("1"), widget.NewLabel("")
	c.top.Alignment, c.half.Alignment = fyne.TextAlignTrailing, fyne.TextAlignTrailing
	zero := widget.NewLabel("0")
	zero.Alignment = fyne.TextAlignTrailing
	// The scale's labels sit at the top, middle and bottom of the bars'
	// height (the hour labels take the last 40 points).
	hours := canvas.NewRectangle(color.Transparent) // beside the hour labels
	hours.SetMinSize(fyne.NewSize(0, 40-zero.MinSize().Height/2))
	scale := container.NewBorder(nil, hours, nil, nil,
		container.NewVBox(c.top, layout.NewSpacer(), c.half, layout.NewSpacer(), zero))
	scaleArea := canvas.NewRectangle(color.Transparent)
	scaleArea.SetMinSize(fyne.NewSize(48, chartHeight+40))
	c.content = container.NewBorder(c.caption, nil, container.NewStack(scaleArea, scale), nil,
		container.NewStack(area, container.NewGridWithColumns(24, cols...)))
	return c
}

// update counts requests by hour, ending with the current hour.
func (c *hourlyChart) update(s snapshot) {
	c.counts = [24]int64{}
	end := s.now.Truncate(time.Hour)
	copy(c.counts[:], s.hourly)
	var top int64 = 1
	for _, n := range c.counts {
		top = max(top, n)
	}
	for i, n := range c.counts {
		c.bars[i].SetMinSize(fyne.NewSize(8, float32(n)*chartHeight/float32(top)))
		c.bars[i].Refresh()
		hour := end.Add(time.Duration(i-23) * time.Hour).Local().Hour()
		if i%3 == 2 {
			c.labels[i].SetText(strconv.Itoa(hour) + "h")
		}
	}
	c.top.SetText(strconv.FormatInt(top, 10))
	c.half.SetText(strconv.FormatFloat(float64(top)/2, 'f', -1, 64))
	c.caption.SetText("Requests per hour, last 24 hours (" + strconv.FormatInt(sum(c.counts[:]), 10) + " in all; the scale is requests)")
}

func sum(xs []int64) int64 {
	var t int64
	for _, x := range xs {
		t += x
	}
	return t
}
