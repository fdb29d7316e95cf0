package ui

import (
	"context"
	"io"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"keypool/app"
	"keypool/relay/pool"
)

var loginKinds = map[string]pool.Kind{
	"Claude (Pro/Max)":             pool.KindClaudeOAuth,
	"ChatGPT (Codex)":              pool.KindCodexOAuth,
	"Google (Gemini, Code Assist)": pool.KindGemini,
}

// showLogin runs a browser login, showing its progress in words, with a
// field to paste the final URL or code when the browser cannot reach back.
func (v *accountsView) showLogin() {
	kind := widget.NewSelect([]string{"Claude (Pro/Max)", "ChatGPT (Codex)", "Google (Gemini, Code Assist)"}, nil)
	kind.SetSelected("Claude (Pro/Max)")
	id := widget.NewEntry()
	id.SetPlaceHolder("optional: account id (default: from the e-mail)")
	progress := widget.NewLabel("")
	progress.Wrapping = fyne.TextWrapWord
	paste := widget.NewEntry()
	paste.SetPlaceHolder("paste the final URL or code here if the browser cannot come back")
	pr, pw := io.Pipe()
	usePaste := widget.NewButton("Use pasted", func() {
		if s := strings.TrimSpace(paste.Text); s != "" {
			go pw.Write([]byte(s + "\n"))
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	var d dialog.Dialog
	start := widget.NewButton("Log in with browser", nil)
	start.OnTapped = func() {
		start.Disable()
		lp := app.LoginParams{Kind: loginKinds[kind.Selected], ID: strings.TrimSpace(id.Text), Paste: pr,
			Progress: func(msg string) { fyne.Do(func() { progress.SetText(msg) }) }}
		if lp.Kind == pool.KindGemini {
			progress.SetText("Note: Google ended Login with Google for individual Gemini accounts on 2026-06-18; Code Assist Standard/Enterprise and Workspace accounts still work.")
		}
		go func() {
			acct, err := v.u.core.Login(ctx, lp)
			fyne.Do(func() {
				if err != nil {
					progress.SetText("Login failed: " + err.Error())
					start.Enable()
					return
				}
				progress.SetText("Logged in: " + acct.ID)
				d.Hide()
				go v.u.Refresh()
			})
		}()
	}
	content := container.NewVBox(kind, id, start, progress, container.NewBorder(nil, nil, nil, usePaste, paste))
	d = dialog.NewCustom("Log in an account", "Close", content, v.u.win)
	d.SetOnClosed(func() { cancel(); pw.Close() })
	d.Resize(fyne.NewSize(560, 320))
	d.Show()
}
