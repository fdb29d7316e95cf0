package app

import (
	"keypool/app/config"
	"keypool/app/secrets"
	"keypool/app/store"
	"keypool/relay/pool"
)

// An account has one model, pool.Account: what the relay serves. Its other
// forms are edges, and these are the only conversions between them:
//   - store.Account is the account as saved, with the facts its login
//     reported (email, plan, token expiry) and its status;
//   - config.Account is the account as a seed-format file writes it, with
//     its secrets in the clear, which go to the keychain (or memory) here.
// Both share pool's proxy type and id rule.

// poolAccount maps a stored account to the relay's view of it.
func poolAccount(s store.Account) pool.Account {
	a := pool.Account{ID: s.ID, Name: s.Name, Kind: s.Type, Priority: s.Priority, Enabled: s.Enabled,
		APIURL: s.APIURL, AuthHeader: pool.AuthHeader(s.AuthHeader), NeedsLogin: s.Status == store.StatusNeedsLogin,
		Models: s.Models, ProviderAccountID: s.AccountID, ConvertedTraffic: s.ConvertedTraffic, Project: s.Project, AllowOverage: s.AllowOverage,
		DailyBudgetUSD: s.DailyBudgetUSD, MonthlyBudgetUSD: s.MonthlyBudgetUSD, LoginEnds: s.LoginExpiry}
	if a.AuthHeader == "" {
		a.AuthHeader = pool.AuthXAPIKey
	}
	if s.Proxy != nil {
		p := *s.Proxy
		a.Proxy = &p
	}
	return a
}

// fromConfig maps a config file's account to a stored one and the secrets
// it carries (only those set).
func fromConfig(ca config.Account) (store.Account, map[secrets.Field]secrets.Secret) {
	acct := store.Account{ID: ca.ID, Type: pool.Kind(ca.Type), Name: ca.Name, Priority: ca.Priority, Enabled: ca.Enabled,
		APIURL: ca.APIURL, AuthHeader: ca.AuthHeader, DailyBudgetUSD: ca.DailyBudgetUSD, MonthlyBudgetUSD: ca.MonthlyBudgetUSD,
		Models: ca.Models, Project: ca.Project, ConvertedTraffic: ca.ConvertedTraffic, AllowOverage: ca.AllowOverage}
	sec := map[secrets.Field]secrets.Secret{}
	put := func(f secrets.Field, v string) {
		if v != "" {
			sec[f] = secrets.New(v)
		}
	}
	put(secrets.APIKey, ca.APIKey)
	put(secrets.RefreshToken, ca.RefreshToken)
	put(secrets.AccessToken, ca.AccessToken)
	if ca.Proxy != nil {
		acct.Proxy = &store.Proxy{Type: ca.Proxy.Type, Host: ca.Proxy.Host, Port: ca.Proxy.Port, Username: ca.Proxy.Username}
		put(secrets.ProxyPassword, ca.Proxy.Password)
	}
	return acct, sec
}
