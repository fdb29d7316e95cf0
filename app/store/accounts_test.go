package store

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"keypool/internal/dirtest"
)

func TestAccountsCRUD(t *testing.T) {
	path := filepath.Join(dirtest.New(t), "k.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	for _, a := range []Account{
		{ID: "low", Type: "claude-api", Priority: 1, Enabled: true, Created: created},
		{ID: "high", Type: "claude-oauth", Priority: 9, Enabled: true, Email: "me@example.com", Created: created,
			Proxy: &Proxy{Type: "socks5", Host: "127.0.0.1", Port: 1080, Username: "u"}},
	} {
		if err := s.PutAccount(a); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.UpdateAccount("low", func(a *Account) error { a.Enabled = false; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := s.UpdateAccount("nope", func(*Account) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateAccount(nope) = %v, want ErrNotFound", err)
	}
	s.Close()

	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Accounts()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != "high" || got[1].ID != "low" || got[1].Enabled || got[0].Proxy.Username != "u" {
		t.Fatalf("accounts after reopen = %+v, want high (proxy user u) then low (disabled)", got)
	}
	if err := s.DeleteAccount("high"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Account("high"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Account of a deleted account: err = %v, want ErrNotFound", err)
	}
	if err := s.DeleteAccount("high"); err != nil {
		t.Errorf("second DeleteAccount = %v, want nil", err)
	}
}
