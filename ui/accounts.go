package ui

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"keypool/app/secrets"
	"keypool/app/store"
)

// accountsView lists the accounts: type, name, priority, state with a
// countdown, today's traffic; enable, reorder and delete; add a key.
type accountsView struct {
	u       *UI
	snap    snapshot
	list    *widget.List
	content fyne.CanvasObject
	add     *widget.Button
}

func newAccountsView(u *UI) *accountsView {
	v := &accountsView{u: u}
	v.list = widget.NewList(
		func() int { return len(v.snap.accounts) },
		func() fyne.CanvasObject {
			name := widget.NewLabel("name")
			name.TextStyle = fyne.TextStyle{Bold: true}
			return container.NewBorder(nil, nil,
				widget.NewCheck("", nil),
				container.NewHBox(widget.NewButton("▲", nil), widget.NewButton("▼", nil), widget.NewButton("Delete", nil)),
				container.NewGridWithColumns(4, name, widget.NewLabel("state"), widget.NewLabel("priority"), widget.NewLabel("today")))
		},
		func(i widget.ListItemID, o fyne.CanvasObject) { v.fill(i, o.(*fyne.Container)) },
	)
	v.add = widget.NewButton("Add API key…", v.showAdd)
	login := widget.NewButton("Log in with browser…", v.showLogin)
	v.content = container.NewBorder(container.NewHBox(v.add, login), nil, nil, nil, v.list)
	return v
}

func (v *accountsView) update(s snapshot) {
	v.snap = s
	v.list.Refresh()
}

// fill shows account i in a row built by the list's create func.
func (v *accountsView) fill(i int, row *fyne.Container) {
	if i >= len(v.snap.accounts) {
		return
	}
	a := v.snap.accounts[i]
	var grid *fyne.Container
	var check *widget.Check
	var buttons *fyne.Container
	for _, o := range row.Objects {
		switch w := o.(type) {
		case *widget.Check:
			check = w
		case *fyne.Container:
			if len(w.Objects) == 4 {
				grid = w
			} else {
				buttons = w
			}
		}
	}
	req, tok := v.snap.todayOf(a.ID)
	grid.Objects[0].(*widget.Label).SetText(a.Name + "  (" + a.Type + ")")
	state := v.snap.stateText(a)
	if q := v.snap.quotaText(a.ID); q != "" {
		state += " · plan: " + q
	}
	grid.Objects[1].(*widget.Label).SetText(state)
	grid.Objects[2].(*widget.Label).SetText("priority " + strconv.Itoa(a.Priority))
	grid.Objects[3].(*widget.Label).SetText(fmt.Sprintf("%d requests, %d tokens today", req, tok))
	id := a.ID
	check.OnChanged = nil
	check.SetChecked(a.Enabled)
	check.OnChanged = func(on bool) { v.u.do(func() error { return v.u.core.Accounts().SetEnabled(id, on) }) }
	buttons.Objects[0].(*widget.Button).OnTapped = func() { v.u.do(func() error { return v.move(id, +1) }) }
	buttons.Objects[1].(*widget.Button).OnTapped = func() { v.u.do(func() error { return v.move(id, -1) }) }
	buttons.Objects[2].(*widget.Button).OnTapped = func() { v.confirmDelete(id) }
}

// move raises (+1) or lowers (-1) an account past its neighbour in the
// list, swapping their priorities (or nudging one when they are equal).
func (v *accountsView) move(id string, dir int) error {
	list := v.snap.accounts
	for i, a := range list {
		if a.ID != id {
			continue
		}
		j := i - dir // the list is by priority, highest first
		if j < 0 || j >= len(list) {
			return nil
		}
		other := list[j]
		pa, po := other.Priority, a.Priority
		if pa == po {
			pa = po + dir
		}
		st := v.u.core.Store()
		if err := st.UpdateAccount(id, func(s *store.Account) error { s.Priority = pa; return nil }); err != nil {
			return err
		}
		return st.UpdateAccount(other.ID, func(s *store.Account) error { s.Priority = po; return nil })
	}
	return nil
}

func (v *accountsView) confirmDelete(id string) {
	dialog.ShowConfirm("Delete account", "Delete "+id+"? Its secrets are removed from the keychain.", func(ok bool) {
		if ok {
			v.u.do(func() error { return v.u.core.Accounts().Remove(id) })
		}
	}, v.u.win)
}

// addForm is the add-a-key dialog's fields, kept so tests can fill them.
type addForm struct {
	kind, auth                                     *widget.Select
	id, name, priority, apiURL, key, proxy, models *widget.Entry
}

func (v *accountsView) newAddForm() (*addForm, []*widget.FormItem) {
	f := &addForm{
		kind:     widget.NewSelect([]string{"claude-api", "openai-responses", "openai-compatible", "gemini-api"}, nil),
		auth:     widget.NewSelect([]string{"x-api-key", "bearer"}, nil),
		id:       widget.NewEntry(),
		name:     widget.NewEntry(),
		priority: widget.NewEntry(),
		apiURL:   widget.NewEntry(),
		key:      widget.NewPasswordEntry(),
		proxy:    widget.NewEntry(),
		models:   widget.NewEntry(),
	}
	f.models.SetPlaceHolder(`optional: only these models, e.g. claude-opus-*, claude-sonnet-*`)
	f.kind.SetSelected("claude-api")
	f.auth.SetSelected("x-api-key")
	f.priority.SetText("0")
	f.apiURL.SetPlaceHolder("optional: a mirror or compatible API")
	f.proxy.SetPlaceHolder("optional: socks5://host:1080")
	f.id.Validator = func(s string) error {
		if strings.TrimSpace(s) == "" {
			return errors.New("an id is required")
		}
		return nil
	}
	f.key.Validator = func(s string) error {
		if strings.TrimSpace(s) == "" {
			return errors.New("the API key is required")
		}
		return nil
	}
	f.priority.Validator = func(s string) error {
		if _, err := strconv.Atoi(strings.TrimSpace(s)); err != nil {
			return errors.New("a whole number")
		}
		return nil
	}
	return f, []*widget.FormItem{
		widget.NewFormItem("Type", f.kind), widget.NewFormItem("Id", f.id), widget.NewFormItem("Name", f.name),
		widget.NewFormItem("Priority", f.priority), widget.NewFormItem("API URL", f.apiURL),
		widget.NewFormItem("Auth header", f.auth), widget.NewFormItem("API key", f.key), widget.NewFormItem("Proxy", f.proxy),
		widget.NewFormItem("Models", f.models),
	}
}

// submit adds the account the form describes. The key goes straight to the
// keychain; it is never kept in a field that outlives the dialog.
func (f *addForm) submit(u *UI) error {
	prio, _ := strconv.Atoi(strings.TrimSpace(f.priority.Text))
	acct := store.Account{ID: strings.TrimSpace(f.id.Text), Type: f.kind.Selected, Name: strings.TrimSpace(f.name.Text),
		Priority: prio, Enabled: true, APIURL: strings.TrimSuffix(strings.TrimSpace(f.apiURL.Text), "/"), AuthHeader: f.auth.Selected}
	for _, m := range strings.Split(f.models.Text, ",") {
		if m = strings.TrimSpace(m); m != "" {
			acct.Models = append(acct.Models, m)
		}
	}
	if p := strings.TrimSpace(f.proxy.Text); p != "" {
		px, err := parseProxyURL(p)
		if err != nil {
			return err
		}
		acct.Proxy = px
	}
	sec := map[secrets.Field]secrets.Secret{secrets.APIKey: secrets.New(strings.TrimSpace(f.key.Text))}
	f.key.SetText("")
	return u.core.Accounts().Add(acct, sec)
}

func (v *accountsView) showAdd() {
	f, items := v.newAddForm()
	d := dialog.NewForm("Add an API key", "Add", "Cancel", items, func(ok bool) {
		if ok {
			v.u.do(func() error { return f.submit(v.u) })
		}
	}, v.u.win)
	d.Resize(fyne.NewSize(520, 460))
	d.Show()
}
