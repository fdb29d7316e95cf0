package ui

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"keypool/app"
)

// accountsView lists the accounts: type, name, priority, state with a
// countdown, today's traffic; enable, reorder and delete; add a key.
type accountsView struct {
	u       *UI
	snap    snapshot
	list    *widget.List
	content fyne.CanvasObject
	add     *widget.Button
	rows    map[fyne.CanvasObject]*accountRow // the list's rows, by their content
	summary *widget.Label                     // the pool in one line
	// first is shown instead of the list while there are no accounts.
	first *firstRun
	// readOnly says where a config file's accounts change (nil: the app's
	// own accounts, which the view changes).
	readOnly *widget.Label
	full     *fyne.Container // the buttons and the list
}

func newAccountsView(u *UI) *accountsView {
	v := &accountsView{u: u}
	v.rows = map[fyne.CanvasObject]*accountRow{}
	v.list = widget.NewList(
		func() int { return len(v.snap.accounts) },
		func() fyne.CanvasObject {
			r := newAccountRow()
			v.rows[r.content] = r
			return r.content
		},
		func(i widget.ListItemID, o fyne.CanvasObject) {
			if i < len(v.snap.accounts) {
				v.fill(v.snap.accounts[i], v.rows[o])
			}
		},
	)
	v.add = widget.NewButton("Add API key…", v.showAdd)
	login := widget.NewButton("Log in with browser…", v.showLogin)
	v.summary = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	v.summary.Truncation = fyne.TextTruncateEllipsis
	actions := fyne.CanvasObject(container.NewHBox(v.add, login))
	if cfg := u.core.ConfigPath(); cfg != "" {
		// A config file's accounts change only in the file: nothing here
		// offers a change that cannot work.
		v.readOnly = widget.NewLabel("These accounts come from " + cfg + " and change only there (then restart Keypool). " +
			"To manage them here instead, move them into Keypool's own accounts: keypool import " + cfg)
		v.readOnly.Wrapping = fyne.TextWrapWord
		actions = v.readOnly
		v.add.Hide()
		login.Hide()
	}
	v.full = container.NewBorder(container.NewVBox(v.summary, actions), nil, nil, nil, v.list)
	v.first = newFirstRun(v)
	v.content = container.NewStack(v.full, v.first.content)
	return v
}

func (v *accountsView) update(s snapshot) {
	v.snap = s
	if len(s.accounts) == 0 && len(s.health.Accounts) == 0 { // a config file's accounts are only in health
		v.full.Hide()
		v.first.update(v.u)
		v.first.content.Show()
		return
	}
	v.first.content.Hide()
	v.full.Show()
	v.summary.SetText(s.summary(true))
	v.list.Refresh()
}

// fill shows account a in row r.
func (v *accountsView) fill(a app.Account, r *accountRow) {
	s := v.snap
	r.badge.set(a.Type)
	r.name.SetText(a.Name + " · " + app.KindLabel(a.Type))
	r.name.OnTapped = func() { v.showDetail(a) }
	today := todayText(s, a.ID)
	if usd := s.costToday(a.ID); usd > 0 {
		today += fmt.Sprintf(", $%.4f", usd)
	}
	r.today.SetText(today)
	state := s.stateText(a)
	if why := restingCause(s, a.ID); why != "" {
		state += " · " + why
	}
	state += " · priority " + strconv.Itoa(a.Priority)
	if ps := s.profilesOf(a.ID); len(ps) > 0 {
		state += " · profile " + strings.Join(ps, ", ")
	}
	r.state.SetText(state)
	st, _ := s.state(a.ID)
	r.dot.Importance, r.state.Importance = stateImportance(st), widget.MediumImportance
	if st == app.StateDisabled {
		r.dot.Importance, r.state.Importance = widget.LowImportance, widget.LowImportance
	}
	r.dot.Refresh()
	r.state.Refresh()
	r.meters.Objects = s.meters(a)
	r.meters.Refresh()

	id := a.ID
	r.check.OnChanged = nil
	r.check.SetChecked(a.Enabled)
	r.check.OnChanged = func(on bool) {
		v.u.do(func() error { return v.u.changeAccounts(func(a *app.Accounts) error { return a.SetEnabled(id, on) }) })
	}
	r.up.OnTapped = func() { v.u.do(func() error { return v.move(id, +1) }) }
	r.down.OnTapped = func() { v.u.do(func() error { return v.move(id, -1) }) }
	r.edit.OnTapped = func() { v.showEdit(a) }
	r.del.OnTapped = func() { v.confirmDelete(id) }
	// The one thing this state needs, inline.
	switch {
	case st == app.StateDisabled:
		r.action.SetText("Enable")
		r.action.OnTapped = func() {
			v.u.do(func() error { return v.u.changeAccounts(func(a *app.Accounts) error { return a.SetEnabled(id, true) }) })
		}
		r.action.Show()
	case st == app.StateNeedsLogin:
		r.action.SetText("Log in again")
		r.action.OnTapped = func() { v.relogin(a) }
		r.action.Show()
	case st == app.StateNeedsKey:
		r.action.SetText("Enter key")
		r.action.OnTapped = func() { v.showEdit(a) }
		r.action.Show()
	case st.Rests():
		// Resting after a failure: the user may know it is fixed.
		r.action.SetText("Reset")
		r.action.OnTapped = func() { v.u.core.ResetAccount(id) }
		r.action.Show()
	default:
		r.action.Hide()
	}
	if v.readOnly != nil {
		// A config file's account: shown, not changed here.
		r.check.Disable()
		r.action.Hide()
		for _, b := range []*widget.Button{r.up, r.down, r.edit, r.del} {
			b.Hide()
		}
	}
	r.content.Refresh() // the buttons' width changes with the action shown
}

// showDetail shows an account whole: its name uncut, where it goes, its
// state and why, its plan windows and budgets, today's traffic.
func (v *accountsView) showDetail(a app.Account) {
	s := v.snap
	lines := []string{
		a.Name,
		"id " + a.ID + " · " + app.KindLabel(a.Type) + " · priority " + strconv.Itoa(a.Priority),
	}
	if a.APIURL != "" {
		lines = append(lines, "API: "+a.APIURL)
	}
	state := s.stateText(a)
	if why := restingCause(s, a.ID); why != "" {
		state += " · " + why
	}
	lines = append(lines, "State: "+state)
	for _, h := range s.health.Accounts {
		if h.ID != a.ID {
			continue
		}
		if len(h.Quota) > 0 {
			lines = append(lines, "Plan: "+app.QuotaText(h.Quota, ", "))
		}
		if b := h.Budget; b != nil {
			lines = append(lines, fmt.Sprintf("Budget: $%.2f of $%g today, $%.2f of $%g this month", b.SpentTodayUSD, b.DailyUSD, b.SpentMonthUSD, b.MonthlyUSD))
		}
	}
	lines = append(lines, "Today: "+todayText(s, a.ID))
	l := widget.NewLabel(strings.Join(lines, "\n"))
	l.Wrapping = fyne.TextWrapWord
	l.Selectable = true
	d := dialog.NewCustom("Account", "Close", container.NewVScroll(l), v.u.win)
	d.Resize(fyne.NewSize(560, 320))
	d.Show()
}

// relogin opens the login dialog for an existing account's login.
func (v *accountsView) relogin(a app.Account) {
	d := newLoginDialog(v.u, openBrowser)
	if label := loginLabel(a.Type); label != "" {
		d.kind.SetSelected(label)
	}
	d.id.SetText(a.ID)
	d.show()
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
		st := v.u.core
		if err := st.UpdateAccount(id, func(s *app.Account) error { s.Priority = pa; return nil }); err != nil {
			return err
		}
		return st.UpdateAccount(other.ID, func(s *app.Account) error { s.Priority = po; return nil })
	}
	return nil
}

func (v *accountsView) confirmDelete(id string) {
	dialog.ShowConfirm("Delete account", "Delete "+id+"? Its secrets are removed from the keychain.", func(ok bool) {
		if ok {
			v.u.do(func() error { return v.u.changeAccounts(func(a *app.Accounts) error { return a.Remove(id) }) })
		}
	}, v.u.win)
}

// addForm is the add-a-key dialog's fields, kept so tests can fill them.
type addForm struct {
	kind, auth                                     *widget.Select
	id, name, priority, apiURL, key, proxy, models *widget.Entry
}

// kindNames are account types as the config file and --type write them.
func kindNames(kinds []app.Kind) []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = string(k)
	}
	return out
}

func (v *accountsView) newAddForm() (*addForm, []*widget.FormItem) {
	f := &addForm{
		kind:     widget.NewSelect(kindNames(app.APIKeyKinds()), nil),
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
	f.kind.SetSelected(f.kind.Options[0])
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
	acct := app.Account{ID: strings.TrimSpace(f.id.Text), Type: app.Kind(f.kind.Selected), Name: strings.TrimSpace(f.name.Text),
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
	sec := map[app.SecretField]app.Secret{app.FieldAPIKey: app.NewSecret(strings.TrimSpace(f.key.Text))}
	f.key.SetText("")
	return u.changeAccounts(func(a *app.Accounts) error { return a.Add(acct, sec) })
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

// showEdit edits an account: name, priority, API URL, auth header, proxy
// (with a connection test), models, and optionally a new key.
func (v *accountsView) showEdit(a app.Account) {
	name, prio, apiURL, proxy, models := widget.NewEntry(), widget.NewEntry(), widget.NewEntry(), widget.NewEntry(), widget.NewEntry()
	key, proxyPass := widget.NewPasswordEntry(), widget.NewPasswordEntry()
	auth := widget.NewSelect([]string{"x-api-key", "bearer"}, nil)
	name.SetText(a.Name)
	prio.SetText(strconv.Itoa(a.Priority))
	apiURL.SetText(a.APIURL)
	auth.SetSelected(a.AuthHeader)
	if a.Proxy != nil {
		u := a.Proxy.Type + "://"
		if a.Proxy.Username != "" {
			u += a.Proxy.Username + "@"
		}
		proxy.SetText(u + a.Proxy.Host + ":" + strconv.Itoa(a.Proxy.Port))
	}
	models.SetText(strings.Join(a.Models, ", "))
	key.SetPlaceHolder("leave empty to keep the stored key")
	proxyPass.SetPlaceHolder("leave empty to keep")
	prio.Validator = func(s string) error {
		if _, err := strconv.Atoi(strings.TrimSpace(s)); err != nil {
			return errors.New("a whole number")
		}
		return nil
	}
	result := widget.NewLabel("")
	// A connection test belongs to the dialog: closing it cancels a test in
	// flight, whose answer then goes nowhere.
	testCtx, stopTests := context.WithCancel(v.u.life)
	test := widget.NewButton("Test connection", func() {
		px, err := parseProxyURL(strings.TrimSpace(proxy.Text))
		if err != nil {
			result.SetText(err.Error())
			return
		}
		target := strings.TrimSpace(apiURL.Text)
		if target == "" {
			target = "https://api.anthropic.com"
		}
		result.SetText("Testing…")
		pw := proxyPass.Text
		v.u.goOwned(&sync.WaitGroup{}, func() {
			err := app.TestProxy(testCtx, px, pw, target)
			if testCtx.Err() != nil {
				return
			}
			runOnLoop(func() {
				if err != nil {
					result.SetText("Failed: " + err.Error())
				} else {
					result.SetText("The proxy works.")
				}
			})
		})
	})
	items := []*widget.FormItem{
		widget.NewFormItem("Name", name), widget.NewFormItem("Priority", prio), widget.NewFormItem("API URL", apiURL),
		widget.NewFormItem("Auth header", auth), widget.NewFormItem("Proxy", proxy), widget.NewFormItem("Proxy password", proxyPass),
		widget.NewFormItem("", container.NewHBox(test, result)), widget.NewFormItem("Models", models), widget.NewFormItem("New key", key),
	}
	// Paid extra usage, for a subscription that has it: off unless the
	// user turns it on here.
	overage := widget.NewCheck("Once its plan is spent, serve on paid extra usage (billed per token; after every plan)", nil)
	overage.SetChecked(a.AllowOverage)
	if app.KindHasOverage(a.Type) {
		items = append(items, widget.NewFormItem("Extra usage", overage))
	}
	d := dialog.NewForm("Edit "+a.ID, "Save", "Cancel", items, func(ok bool) {
		if !ok {
			return
		}
		v.u.do(func() error {
			var px *app.AccountProxy
			if p := strings.TrimSpace(proxy.Text); p != "" {
				var err error
				if px, err = parseProxyURL(p); err != nil {
					return err
				}
			}
			n, _ := strconv.Atoi(strings.TrimSpace(prio.Text))
			var ms []string
			for _, m := range strings.Split(models.Text, ",") {
				if m = strings.TrimSpace(m); m != "" {
					ms = append(ms, m)
				}
			}
			err := v.u.changeAccounts(func(accts *app.Accounts) error {
				return accts.Update(a.ID, func(s *app.Account) {
					s.Name, s.Priority, s.APIURL, s.AuthHeader, s.Proxy, s.Models = strings.TrimSpace(name.Text), n,
						strings.TrimSuffix(strings.TrimSpace(apiURL.Text), "/"), auth.Selected, px, ms
					s.AllowOverage = overage.Checked
				}, app.NewSecret(strings.TrimSpace(key.Text)), app.NewSecret(proxyPass.Text))
			})
			key.SetText("")
			proxyPass.SetText("")
			return err
		})
	}, v.u.win)
	d.SetOnClosed(stopTests)
	d.Resize(fyne.NewSize(560, 520))
	d.Show()
}

// todayText is an account's traffic today in words, failed attempts and
// their kinds included: "3 requests, 2 errors (2 connection), 120 tokens today".
func todayText(s snapshot, id string) string {
	var c app.Counts
	for _, d := range s.today {
		if d.Account == id {
			c = c.Plus(d.Counts)
		}
	}
	_, tok := s.todayOf(id)
	errs := ""
	if c.Errors > 0 {
		word := "errors"
		if c.Errors == 1 {
			word = "error"
		}
		// ErrorText is the count, then the kinds in brackets.
		kinds := strings.TrimPrefix(c.ErrorText(), strconv.FormatInt(c.Errors, 10))
		errs = fmt.Sprintf(", %d %s%s", c.Errors, word, kinds)
	}
	word := "requests"
	if c.Requests == 1 {
		word = "request"
	}
	return fmt.Sprintf("%d %s%s, %d tokens today", c.Requests, word, errs, tok)
}

// restingCause is what made a resting account rest, in words, or "" (also
// when its state says it already: paid extra usage).
func restingCause(s snapshot, id string) string {
	for _, a := range s.health.Accounts {
		if a.ID == id && len(a.Cooldowns) > 0 && a.LastError != nil && a.State != app.StateOverage {
			return a.LastError.Message
		}
	}
	return ""
}
