package ui

import (
	"errors"
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"keypool/app"
)

// profileForm is the Add profile dialog's fields: a name and the accounts
// that serve it.
type profileForm struct {
	name     *widget.Entry
	accounts *widget.CheckGroup
}

// newProfileForm lists the accounts to choose from, by id.
func newProfileForm(accts []app.Account) profileForm {
	var ids []string
	for _, a := range accts {
		ids = append(ids, a.ID)
	}
	f := profileForm{name: widget.NewEntry(), accounts: widget.NewCheckGroup(ids, nil)}
	f.name.SetPlaceHolder("work")
	return f
}

// submit adds the profile and returns its key's value, shown once.
func (f profileForm) submit(u *UI) (app.ProfileInfo, string, error) {
	if len(f.accounts.Selected) == 0 {
		return app.ProfileInfo{}, "", errors.New("choose at least one account for the profile")
	}
	p, key, err := u.core.AddProfile(strings.TrimSpace(f.name.Text), f.accounts.Selected)
	if err != nil {
		return app.ProfileInfo{}, "", err
	}
	return p, key.Reveal(), nil
}

// showAddProfile asks for a profile's name and accounts, adds it, and shows
// its key once, with how to use it in a project.
func (v *settingsView) showAddProfile() {
	u := v.u
	accts, err := u.core.StoredAccounts()
	if err != nil {
		dialog.ShowError(err, u.win)
		return
	}
	f := newProfileForm(accts)
	items := []*widget.FormItem{widget.NewFormItem("Name", f.name), widget.NewFormItem("Accounts", container.NewVScroll(f.accounts))}
	d := dialog.NewForm("Add a profile", "Add", "Cancel", items, func(ok bool) {
		if !ok {
			return
		}
		p, key, err := f.submit(u)
		if err != nil {
			dialog.ShowError(err, u.win)
			return
		}
		u.refreshLater()
		e := widget.NewEntry()
		e.SetText(key)
		msg := widget.NewLabel(fmt.Sprintf("Profile %s is served by %s only. Its key, shown once here (Show in its row shows it again):", p.Name, strings.Join(p.Accounts, ", ")))
		msg.Wrapping = fyne.TextWrapWord
		hint := widget.NewLabel("Use it in a project: keypool connect claude|codex|gemini --project DIR --profile " + p.Name)
		hint.Wrapping = fyne.TextWrapWord
		dialog.ShowCustom("Profile "+p.Name, "Close", container.NewVBox(msg, e, hint), u.win)
	}, u.win)
	d.Resize(fyne.NewSize(480, 420))
	d.Show()
}

// profilesOf names the profiles account id serves, from the client keys.
func (s snapshot) profilesOf(id string) []string {
	var out []string
	for _, p := range app.ProfilesOf(s.clientKeys) {
		for _, a := range p.Accounts {
			if a == id {
				out = append(out, p.Name)
			}
		}
	}
	return out
}
