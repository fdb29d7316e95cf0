package secrets

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/zalando/go-keyring"
)

// testKeyID stands for guard.KeyID: a client key's id is a hash of its value.
func testKeyID(v string) string {
	h := sha256.Sum256([]byte(v))
	return "key-" + hex.EncodeToString(h[:4])
}

// TestMigrateNames writes entries the way the first layout did and checks
// that each owner finds its own secret under today's names afterwards, on
// Memory and on the real keychain (where the old names are written with
// go-keyring directly, as the old code did).
func TestMigrateNames(t *testing.T) {
	const (
		clientValue   = "kp-client-secret-one"
		upstreamValue = "sk-ant-upstream-secret"
	)
	ck := testKeyID(clientValue)
	collider := "client-" + ck // an account id the old layout could not keep apart
	type entry struct {
		name, value string // the old entry's user name
	}
	tests := []struct {
		name       string
		accounts   []string
		clientKeys []string
		old        []entry
		want       map[Owner]map[Field]string // "" : must be absent
		lost       []string                   // substrings of Migration.Lost
	}{
		{
			name:       "plain_accounts_and_a_client_key",
			accounts:   []string{"work", "login"},
			clientKeys: []string{ck},
			old: []entry{{"work/api_key", "sk-work"}, {"work/proxy_password", "pw"},
				{"login/refresh_token", "rt"}, {"login/access_token", "at"}, {"client-" + ck + "/api_key", clientValue}},
			want: map[Owner]map[Field]string{
				Account("work"):  {APIKey: "sk-work", ProxyPassword: "pw"},
				Account("login"): {RefreshToken: "rt", AccessToken: "at", APIKey: ""},
				ClientKey(ck):    {APIKey: clientValue},
			},
		},
		{
			// The account was added after the client key: its upstream key
			// overwrote the client key's entry.
			name:       "collision_account_written_last",
			accounts:   []string{collider},
			clientKeys: []string{ck},
			old:        []entry{{collider + "/api_key", upstreamValue}},
			want: map[Owner]map[Field]string{
				Account(collider): {APIKey: upstreamValue},
				ClientKey(ck):     {APIKey: ""},
			},
			lost: []string{"client key " + ck + ": its api_key"},
		},
		{
			name:       "collision_client_key_written_last",
			accounts:   []string{collider},
			clientKeys: []string{ck},
			old:        []entry{{collider + "/api_key", clientValue}, {collider + "/proxy_password", "pw"}},
			want: map[Owner]map[Field]string{
				Account(collider): {APIKey: "", ProxyPassword: "pw"},
				ClientKey(ck):     {APIKey: clientValue},
			},
			lost: []string{"account " + collider + ": its api_key"},
		},
		{
			// An account named like a client key that is not in the store
			// keeps whatever its entry holds.
			name:     "client_prefixed_account_alone",
			accounts: []string{collider},
			old:      []entry{{collider + "/api_key", clientValue}},
			want:     map[Owner]map[Field]string{Account(collider): {APIKey: clientValue}},
		},
	}
	impls := []struct {
		name string
		new  func(t *testing.T) (Keychain, func(name, value string))
	}{
		{"Memory", func(t *testing.T) (Keychain, func(string, string)) {
			k := NewMemory()
			return k, func(name, value string) {
				id, f, _ := strings.Cut(name, "/")
				if err := k.Set(legacyAccount(id), Field(f), New(value)); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"OS", func(t *testing.T) (Keychain, func(string, string)) {
			k := osKeychain(t)
			return k, func(name, value string) {
				if err := keyring.Set(k.Service, name, value); err != nil {
					t.Fatal(err)
				}
			}
		}},
	}
	for _, impl := range impls {
		t.Run(impl.name, func(t *testing.T) {
			if impl.name == "OS" {
				requireOSKeychain(t)
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					k, writeOld := impl.new(t)
					for _, e := range tt.old {
						writeOld(e.name, e.value)
					}
					m, err := MigrateNames(k, tt.accounts, tt.clientKeys, testKeyID)
					if err != nil {
						t.Fatal(err)
					}
					checkOwners(t, k, tt.want)
					for _, l := range tt.lost {
						if !slices.ContainsFunc(m.Lost, func(s string) bool { return strings.Contains(s, l) }) {
							t.Errorf("Lost = %q, want one saying %q", m.Lost, l)
						}
					}
					if len(m.Lost) != len(tt.lost) {
						t.Errorf("Lost = %q, want %d", m.Lost, len(tt.lost))
					}
					for _, e := range tt.old {
						id, f, _ := strings.Cut(e.name, "/")
						if _, err := k.Get(legacyAccount(id), Field(f)); !errors.Is(err, ErrNotFound) {
							t.Errorf("old entry %s after the migration: Get err = %v, want ErrNotFound", e.name, err)
						}
					}
					// A second run finds nothing left to do and changes nothing.
					again, err := MigrateNames(k, tt.accounts, tt.clientKeys, testKeyID)
					if err != nil || again.Moved != 0 || len(again.Lost) != 0 {
						t.Errorf("second run = %+v, %v; want nothing done", again, err)
					}
					checkOwners(t, k, tt.want)
				})
			}
		})
	}
}

// TestMigrateNamesKeepsNewEntries: an entry already under its new name (a
// migration cut short, then the key entered again) is not overwritten.
func TestMigrateNamesKeepsNewEntries(t *testing.T) {
	k := NewMemory()
	k.Set(legacyAccount("work"), APIKey, New("sk-old"))
	k.Set(Account("work"), APIKey, New("sk-new"))
	if _, err := MigrateNames(k, []string{"work"}, nil, testKeyID); err != nil {
		t.Fatal(err)
	}
	checkOwners(t, k, map[Owner]map[Field]string{Account("work"): {APIKey: "sk-new"}})
}

func checkOwners(t *testing.T, k Keychain, want map[Owner]map[Field]string) {
	t.Helper()
	for o, fields := range want {
		for f, v := range fields {
			got, err := k.Get(o, f)
			switch {
			case v == "" && !errors.Is(err, ErrNotFound):
				t.Errorf("%s %s = %q, %v; want none", o, f, got.Reveal(), err)
			case v != "" && (err != nil || got.Reveal() != v):
				t.Errorf("%s %s = %q, %v; want %q", o, f, got.Reveal(), err, v)
			}
		}
	}
}
