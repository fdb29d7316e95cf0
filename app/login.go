package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"

	"keypool/app/secrets"
	"keypool/app/store"
	"keypool/relay/oauth"
	"keypool/relay/pool"
)

// LoginParams says which account to log in and how.
type LoginParams struct {
	Kind       pool.Kind // a kind that logs in with a browser (provider.IsOAuth)
	ID         string    // default: from the login's e-mail, else the kind
	Name       string
	Priority   int
	NoBrowser  bool
	Device     bool // Codex: device-code flow, no callback port needed
	SetupToken bool // Claude: the one-year, inference-only token
	Project    string
	Converted  bool // Claude: also answer OpenAI-format chat apps (converted)
	// AllowOverage: Claude: serve on paid extra usage once the plan is spent.
	AllowOverage bool
	Paste        io.Reader // a pasted callback URL or code, when the browser cannot reach back
	// Progress receives the steps in words, each as it happens.
	Progress func(string)
	// Link, when set, receives the addresses to open (and the device
	// login's code) as soon as they are known, for a caller that shows
	// them with Copy and Open; Progress then gets the browser login's
	// steps without the addresses. nil: the addresses are in the Progress
	// text.
	Link       func(LoginLink)
	OpenURL    func(string) error // nil: the system browser
	HTTPClient *http.Client
}

// LoginLink is what a login asks the user to open: the login page for this
// machine's browser and, where the provider has one, the page for a browser
// on any machine (it shows a code to paste back); or the device login's page
// with its code.
type LoginLink = oauth.Link

// Login runs a provider's browser (or device-code) login and stores the
// account: tokens in the keychain, refresh token first; identity and expiry
// in the store. Logging in to an existing id replaces its tokens and clears
// "needs login".
func Login(ctx context.Context, a AccountChanger, lp LoginParams) (store.Account, error) {
	p, err := ProviderFor(lp.Kind)
	if err != nil {
		return store.Account{}, err
	}
	opts := oauth.LoginOptions{HTTPClient: lp.HTTPClient, OpenBrowser: lp.OpenURL, NoBrowser: lp.NoBrowser,
		Paste: lp.Paste, Progress: lp.Progress, Link: lp.Link, SetupToken: lp.SetupToken}
	var tok *oauth.Token
	if lp.Device {
		tok, err = p.DeviceLogin(ctx, opts)
	} else {
		tok, err = p.Login(ctx, opts)
	}
	if err != nil {
		return store.Account{}, err
	}
	acct := store.Account{ID: lp.ID, Type: lp.Kind, Name: lp.Name, Priority: lp.Priority, Enabled: true,
		Email: tok.Email, AccountID: tok.AccountID, PlanType: tok.PlanType, Expiry: tok.Expiry, ConvertedTraffic: lp.Converted, AllowOverage: lp.AllowOverage,
		LoginExpiry: tok.RefreshExpiry}
	if lp.SetupToken {
		acct.LoginExpiry = tok.Expiry // a setup token is the whole login: a year
	}
	if p.NeedsProject() {
		client := lp.HTTPClient
		if client == nil {
			client = http.DefaultClient
		}
		if lp.Progress != nil {
			lp.Progress("Finding your Gemini Code Assist project…")
		}
		project, err := p.DiscoverProject(ctx, client, tok.AccessToken, lp.Project)
		if err != nil {
			return store.Account{}, err
		}
		acct.Project = project
	}
	if acct.ID == "" {
		acct.ID = defaultID(a, lp.Kind, tok.Email, tok.AccountID)
	}
	sec := map[secrets.Field]secrets.Secret{
		secrets.RefreshToken: secrets.New(tok.RefreshToken),
		secrets.AccessToken:  secrets.New(tok.AccessToken),
	}
	if err := a.SaveLogin(acct, sec); err != nil {
		return store.Account{}, err
	}
	return a.Account(acct.ID)
}

var notID = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// defaultID names a login: "claude-alice" from alice@example.com, or the
// kind's short name with a number when there is no e-mail. An existing
// account is reused only when it is the same identity (a new login of the
// same account); another identity gets the next free "-2", "-3"… name, so
// one login never overwrites another's tokens.
func defaultID(a AccountChanger, kind pool.Kind, email, providerID string) string {
	short := strings.TrimSuffix(string(kind), "-oauth")
	base := short
	if local, _, ok := strings.Cut(email, "@"); ok && local != "" {
		base = short + "-" + notID.ReplaceAllString(local, "-")
		if len(base) > 60 {
			base = base[:60]
		}
	}
	for n := 1; ; n++ {
		id := base
		if n > 1 || base == short {
			id = fmt.Sprintf("%s-%d", base, n)
		}
		old, err := a.Account(id)
		if errors.Is(err, store.ErrNotFound) {
			return id
		}
		if err == nil && old.Type == kind && email != "" && old.Email == email &&
			(providerID == "" || old.AccountID == "" || old.AccountID == providerID) {
			return id
		}
	}
}

// ImportCLILogin takes over an existing login of the kind's own CLI
// (Claude Code's, the Codex CLI's) from its credential file under home
// (the user's home dir). Keypool then owns the refresh token: the CLI's
// copy stops working at the next rotation.
func ImportCLILogin(a AccountChanger, kind pool.Kind, home, id string) (store.Account, error) {
	p, err := ProviderFor(kind)
	if err != nil {
		return store.Account{}, err
	}
	tok, err := p.ReadCLILogin(home)
	if err != nil {
		return store.Account{}, err
	}
	acct := store.Account{ID: id, Type: kind, Enabled: true, Email: tok.Email, AccountID: tok.AccountID,
		PlanType: tok.PlanType, Expiry: tok.Expiry}
	if acct.ID == "" {
		acct.ID = defaultID(a, kind, acct.Email, acct.AccountID)
	}
	sec := map[secrets.Field]secrets.Secret{secrets.RefreshToken: secrets.New(tok.RefreshToken), secrets.AccessToken: secrets.New(tok.AccessToken)}
	if err := a.SaveLogin(acct, sec); err != nil {
		return store.Account{}, err
	}
	return a.Account(acct.ID)
}

// lockedLogins saves a login under the account's refresh lock, so a
// refresh in flight in this process cannot overwrite the new tokens.
type lockedLogins struct {
	*Accounts
	app *App
}

func (l lockedLogins) SaveLogin(acct store.Account, sec map[secrets.Field]secrets.Secret) error {
	return l.app.tokens.Replace(acct.ID, func() error { return l.Accounts.SaveLogin(acct, sec) })
}

// Login logs an account in from inside the running app (the desktop
// window) and hands the relay the result.
func (a *App) Login(ctx context.Context, lp LoginParams) (store.Account, error) {
	if a.accounts == nil {
		return store.Account{}, errors.New("logins need the app's own accounts (not --config)")
	}
	acct, err := Login(ctx, lockedLogins{Accounts: a.accounts, app: a}, lp)
	if err == nil {
		a.ReloadAccounts()
	}
	return acct, err
}
