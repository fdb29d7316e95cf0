package app

import (
	"reflect"
	"testing"

	"keypool/app/config"
	"keypool/app/secrets"
	"keypool/app/store"
	"keypool/relay/pool"
)

// TestAccountFromConfig: every setting a config file can give an account
// reaches the store and the relay (keypool import once dropped budgets),
// and each secret goes to its keychain field.
func TestAccountFromConfig(t *testing.T) {
	ca := config.Account{Type: "claude-api", ID: "work", Name: "Work", Priority: 80, Enabled: true,
		APIKey: "sk-key", APIURL: "https://mirror.example", AuthHeader: config.AuthHeaderBearer,
		Proxy:          &config.Proxy{Type: "socks5", Host: "127.0.0.1", Port: 1080, Username: "u", Password: "proxy-pass"},
		DailyBudgetUSD: 2.5, MonthlyBudgetUSD: 40, Models: []string{"claude-*"}}
	acct, sec := fromConfig(ca)
	want := store.Account{ID: "work", Type: "claude-api", Name: "Work", Priority: 80, Enabled: true,
		APIURL: "https://mirror.example", AuthHeader: "bearer",
		Proxy:          &store.Proxy{Type: "socks5", Host: "127.0.0.1", Port: 1080, Username: "u"},
		DailyBudgetUSD: 2.5, MonthlyBudgetUSD: 40, Models: []string{"claude-*"}}
	if !reflect.DeepEqual(acct, want) {
		t.Errorf("fromConfig = %+v\nwant %+v", acct, want)
	}
	for f, v := range map[secrets.Field]string{secrets.APIKey: "sk-key", secrets.ProxyPassword: "proxy-pass"} {
		if got := sec[f].Reveal(); got != v {
			t.Errorf("secret %s = %q, want %q", f, got, v)
		}
	}
	if _, ok := sec[secrets.RefreshToken]; ok || len(sec) != 2 {
		t.Errorf("secrets = %d fields, want only the 2 set", len(sec))
	}
	sub, _ := fromConfig(config.Account{Type: "claude-oauth", ID: "max", ConvertedTraffic: true})
	gem, _ := fromConfig(config.Account{Type: "gemini", ID: "g", Project: "p-1"})
	if !sub.ConvertedTraffic || gem.Project != "p-1" {
		t.Errorf("fromConfig: converted %v, project %q; want true, p-1", sub.ConvertedTraffic, gem.Project)
	}
	pa := poolAccount(acct)
	wantPool := pool.Account{ID: "work", Name: "Work", Kind: pool.KindClaudeAPI, Priority: 80, Enabled: true,
		APIURL: "https://mirror.example", AuthHeader: pool.AuthBearer,
		Proxy:          &pool.Proxy{Type: "socks5", Host: "127.0.0.1", Port: 1080, Username: "u"},
		DailyBudgetUSD: 2.5, MonthlyBudgetUSD: 40, Models: []string{"claude-*"}}
	if !reflect.DeepEqual(pa, wantPool) {
		t.Errorf("poolAccount = %+v\nwant %+v", pa, wantPool)
	}
	pa.Proxy.Host = "changed"
	if acct.Proxy.Host != "127.0.0.1" {
		t.Error("the relay's account shares its proxy with the stored one; want a copy")
	}
}
