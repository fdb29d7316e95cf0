package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"
)

// Fix is an action the startup error window offers: it tries to remove the
// cause and start Keypool; an error it returns is shown in the window.
type Fix struct {
	Label string
	Note  string // what the fix costs, shown with the error; may be empty
	Do    func() error
}

// StartupError builds the window shown when Keypool cannot start, for a
// person who launched it from the desktop and would never see a terminal:
// what is wrong and what to do, one button per fix, and Quit. A fix that
// works closes the window.
func StartupError(fa fyne.App, err error, fixes ...Fix) fyne.Window {
	w := fa.NewWindow("Keypool cannot start")
	w.SetIcon(Icon)
	msg := widget.NewLabel(err.Error())
	msg.Wrapping = fyne.TextWrapWord
	msg.Importance = widget.DangerImportance
	body := container.NewVBox(msg)
	for _, f := range fixes {
		if f.Note != "" {
			note := widget.NewLabel(f.Label + ": " + f.Note)
			note.Wrapping = fyne.TextWrapWord
			body.Add(note)
		}
	}
	buttons := container.NewHBox()
	for _, f := range fixes {
		b := widget.NewButton(f.Label, nil)
		b.Importance = widget.HighImportance
		b.OnTapped = func() {
			b.Disable()
			defer b.Enable()
			if err := f.Do(); err != nil {
				msg.SetText(err.Error())
				return
			}
			w.Close()
		}
		buttons.Add(b)
	}
	buttons.Add(widget.NewButton("Quit", fa.Quit))
	title := widget.NewLabelWithStyle("Keypool cannot start", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	w.SetContent(container.NewBorder(title, buttons, nil, nil, container.NewVScroll(body)))
	w.Resize(fyne.NewSize(640, 260))
	// Closing the window is quitting: nothing else is running.
	w.SetCloseIntercept(fa.Quit)
	return w
}
