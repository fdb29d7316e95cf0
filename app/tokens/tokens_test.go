package tokens

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"keypool/relay/pool"
)

// vault is a MemoryVault that logs saves in order and can refuse them.
type vault struct {
	MemoryVault
	log     []string
	failing bool
}

func (v *vault) SaveToken(_ context.Context, id string, t Token) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.failing {
		return errors.New("keychain locked")
	}
	v.toks[id] = t
	v.log = append(v.log, "save "+t.Refresh)
	return nil
}

// provider is a fake token endpoint that rotates refresh tokens.
type provider struct {
	mu      sync.Mutex
	calls   atomic.Int32
	n       int
	current string // the refresh token it accepts
	down    bool
	gate    chan struct{} // if set, each refresh waits on it
}

func (p *provider) refresh(ctx context.Context, id, rt string) (Token, error) {
	p.calls.Add(1)
	if p.gate != nil {
		<-p.gate
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return Token{}, errors.New("503 from token endpoint")
	}
	if rt != p.current {
		return Token{}, fmt.Errorf("refresh: %w", ErrInvalidGrant)
	}
	p.n++
	p.current = fmt.Sprintf("rt-%d", p.n)
	return Token{Access: fmt.Sprintf("at-%d", p.n), Refresh: p.current, Expiry: time.Now().Add(time.Hour)}, nil
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func setup(exp time.Time) (*vault, *provider, *Manager) {
	v := &vault{MemoryVault: MemoryVault{toks: map[string]Token{"acct": {Access: "at-0", Refresh: "rt-0", Expiry: exp}}}}
	p := &provider{current: "rt-0"}
	m := New(Config{Vault: v, Refresh: p.refresh, Logger: quiet()})
	return v, p, m
}

func TestValidTokenNoRefresh(t *testing.T) {
	_, p, m := setup(time.Now().Add(time.Hour))
	for range 3 {
		tok, err := m.Token(context.Background(), "acct")
		if err != nil || tok.Access != "at-0" {
			t.Fatalf("Token = %q, %v; want at-0, nil", tok.Access, err)
		}
	}
	if n := p.calls.Load(); n != 0 {
		t.Errorf("%d refreshes of a valid token, want 0", n)
	}
}

// 100 requests at expiry cause exactly one refresh; all get the new token,
// which was saved before any of them had it.
func TestConcurrentCallersShareOneRefresh(t *testing.T) {
	synctest.Test(t, testConcurrentCallersShareOneRefresh)
}

func testConcurrentCallersShareOneRefresh(t *testing.T) {
	v, p, m := setup(time.Now().Add(5 * time.Second)) // inside the 10 s margin
	p.gate = make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := m.Token(context.Background(), "acct")
			if err == nil && tok.Access != "at-1" {
				err = fmt.Errorf("Token = %q, want at-1", tok.Access)
			}
			if err == nil {
				v.mu.Lock()
				saved := v.toks["acct"].Refresh == "rt-1"
				v.mu.Unlock()
				if !saved {
					err = errors.New("new token handed out before it was saved")
				}
			}
			errs <- err
		}()
	}
	// Every caller is now either the flight, held at the gate, or waiting
	// for its result: none can come late and start a second one.
	synctest.Wait()
	if n := p.calls.Load(); n != 1 {
		t.Fatalf("%d refreshes at the gate, want 1", n)
	}
	close(p.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := p.calls.Load(); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
}

// A rotated refresh token survives a restart: a new manager on the same
// vault uses it.
func TestRotationSurvivesRestart(t *testing.T) {
	v, p, m := setup(time.Now().Add(-time.Minute))
	if _, err := m.Token(context.Background(), "acct"); err != nil {
		t.Fatal(err)
	}
	v.toks["acct"] = Token{Access: v.toks["acct"].Access, Refresh: v.toks["acct"].Refresh, Expiry: time.Now().Add(-time.Second)}
	m2 := New(Config{Vault: v, Refresh: p.refresh, Logger: quiet()})
	tok, err := m2.Token(context.Background(), "acct")
	if err != nil || tok.Access != "at-2" {
		t.Fatalf("after restart: Token = %q, %v; want at-2, nil (the rotated token was lost?)", tok.Access, err)
	}
}

func TestInvalidGrantNeedsLogin(t *testing.T) {
	v, p, _ := setup(time.Now().Add(-time.Minute))
	p.current = "something-else" // the stored refresh token was revoked
	var calls []string
	m := New(Config{Vault: v, Refresh: p.refresh, Logger: quiet(), NeedsLogin: func(id string, _ error) { calls = append(calls, id) }})
	for range 3 {
		if _, err := m.Token(context.Background(), "acct"); !errors.Is(err, pool.ErrNeedsLogin) {
			t.Fatalf("Token: err = %v, want pool.ErrNeedsLogin", err)
		}
	}
	if len(calls) != 1 || p.calls.Load() != 1 {
		t.Errorf("needs-login callbacks %v, refresh calls %d; want 1 and 1", calls, p.calls.Load())
	}
	// After a new login the account works again.
	if err := m.Replace("acct", func() error {
		v.toks["acct"] = Token{Access: "fresh", Refresh: "something-else", Expiry: time.Now().Add(time.Hour)}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if tok, err := m.Token(context.Background(), "acct"); err != nil || tok.Access != "fresh" {
		t.Errorf("after login: Token = %q, %v; want fresh, nil", tok.Access, err)
	}
}

// "Needs login" lives in the vault: it is recorded there, it holds for a
// Manager started later (a restart) without asking the provider again, and
// a new login clears it there.
func TestNeedsLoginLivesInTheVault(t *testing.T) {
	v, p, m := setup(time.Now().Add(-time.Minute))
	p.current = "revoked-elsewhere"
	if _, err := m.Token(context.Background(), "acct"); !errors.Is(err, pool.ErrNeedsLogin) {
		t.Fatalf("Token: err = %v, want pool.ErrNeedsLogin", err)
	}
	if !v.NeedsLogin("acct") {
		t.Fatal("vault.NeedsLogin(acct) = false after a refused refresh, want true")
	}
	restarted := New(Config{Vault: v, Refresh: p.refresh, Logger: quiet()})
	if _, err := restarted.Token(context.Background(), "acct"); !errors.Is(err, pool.ErrNeedsLogin) {
		t.Errorf("after a restart: Token err = %v, want pool.ErrNeedsLogin", err)
	}
	if n := p.calls.Load(); n != 1 {
		t.Errorf("refresh calls = %d, want 1: a refused login is not tried again", n)
	}
	if err := restarted.Replace("acct", func() error {
		return v.SaveToken(context.Background(), "acct", Token{Access: "new", Refresh: "revoked-elsewhere", Expiry: time.Now().Add(time.Hour)})
	}); err != nil {
		t.Fatal(err)
	}
	if v.NeedsLogin("acct") {
		t.Error("vault.NeedsLogin(acct) = true after a new login, want false")
	}
}

// With the token endpoint down, a token that is still valid is used.
func TestProviderDownUsesValidToken(t *testing.T) {
	_, p, m := setup(time.Now().Add(5 * time.Second))
	p.down = true
	tok, err := m.Token(context.Background(), "acct")
	if err != nil || tok.Access != "at-0" {
		t.Fatalf("Token = %q, %v; want at-0, nil", tok.Access, err)
	}
	_, p2, m2 := setup(time.Now().Add(-time.Second))
	p2.down = true
	if _, err := m2.Token(context.Background(), "acct"); err == nil || errors.Is(err, pool.ErrNeedsLogin) {
		t.Fatalf("expired token with the provider down: err = %v, want a refresh error other than pool.ErrNeedsLogin", err)
	}
}

// A vault that refuses the rotated token: the new token is not used, and it
// is saved first on the next call (no second refresh that would burn it).
func TestSaveFailureKeepsRotatedToken(t *testing.T) {
	v, p, m := setup(time.Now().Add(-time.Minute))
	v.failing = true
	if _, err := m.Token(context.Background(), "acct"); err == nil {
		t.Fatal("Token: err = nil with the vault refusing the rotated token, want an error")
	}
	v.failing = false
	tok, err := m.Token(context.Background(), "acct")
	if err != nil || tok.Access != "at-1" || p.calls.Load() != 1 {
		t.Fatalf("Token = %q, %v after %d refreshes; want at-1, nil after 1", tok.Access, err, p.calls.Load())
	}
	if got := v.toks["acct"].Refresh; got != "rt-1" {
		t.Errorf("vault holds refresh token %q, want rt-1", got)
	}
}

// After a 401, concurrent forced refreshes for the same stale token refresh
// once.
func TestForceRefreshOnce(t *testing.T) {
	_, p, m := setup(time.Now().Add(time.Hour))
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if tok, err := m.ForceRefresh(context.Background(), "acct", "at-0"); err != nil || tok.Access != "at-1" {
				t.Errorf("ForceRefresh = %q, %v; want at-1, nil", tok.Access, err)
			}
		}()
	}
	wg.Wait()
	if n := p.calls.Load(); n != 1 {
		t.Errorf("%d refreshes, want 1", n)
	}
}

func TestTokenNeverPrints(t *testing.T) {
	tok := Token{Access: "secret-at", Refresh: "secret-rt"}
	for _, s := range []string{fmt.Sprintf("%v %+v %#v %s", tok, tok, tok, tok)} {
		if contains(s, "secret") {
			t.Errorf("printed %q, want no secret in it", s)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// The background refresher renews a token before it is needed.
func TestBackgroundRefresher(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := &vault{MemoryVault: MemoryVault{toks: map[string]Token{"acct": {Access: "at-0", Refresh: "rt-0", Expiry: time.Now().Add(3 * time.Minute)}}}}
		p := &provider{current: "rt-0"}
		m := New(Config{Vault: v, Refresh: p.refresh, Logger: quiet()})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() {
			done <- m.RunRefresher(ctx, func() []string { return []string{"acct"} }, time.Minute, 2*time.Minute)
		}()
		synctest.Wait()
		if n := p.calls.Load(); n != 0 {
			t.Fatalf("%d refreshes of a token with 3 minutes left, want 0", n)
		}
		time.Sleep(61 * time.Second) // the bubble's fake clock: returns at once
		synctest.Wait()
		if p.calls.Load() != 1 {
			t.Fatalf("refresh calls = %d after the token entered the 2-minute window, want 1", p.calls.Load())
		}
		cancel()
		<-done
	})
}

// Wait returns once its ctx is done, with a refresh still running and
// nothing of its own left behind; else as soon as no refresh runs.
func TestWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, p, m := setup(time.Now()) // expired: the first Token refreshes
		p.gate = make(chan struct{})
		got := make(chan error, 1)
		go func() {
			_, err := m.Token(context.Background(), "acct")
			got <- err
		}()
		synctest.Wait() // the refresh is held at the gate
		running := goleak.IgnoreCurrent()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		began := time.Now()
		m.Wait(ctx)
		if d := time.Since(began); d != time.Second {
			t.Errorf("Wait with a refresh running and a 1 s ctx returned after %v, want 1s", d)
		}
		if err := goleak.Find(running); err != nil {
			t.Errorf("Wait left goroutines behind, want none: %v", err)
		}

		waited := make(chan struct{})
		go func() {
			m.Wait(context.Background())
			close(waited)
		}()
		synctest.Wait()
		select {
		case <-waited:
			t.Fatal("Wait returned while a refresh runs, want it to wait for the refresh")
		default:
		}
		close(p.gate)
		<-waited
		if err := <-got; err != nil {
			t.Errorf("Token after the refresh: %v, want nil", err)
		}
		began = time.Now()
		m.Wait(context.Background())
		if d := time.Since(began); d != 0 {
			t.Errorf("Wait with no refresh running returned after %v, want at once", d)
		}
	})
}
