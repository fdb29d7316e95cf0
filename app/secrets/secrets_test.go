package secrets

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/zalando/go-keyring"

	"keypool/internal/dirtest"
)

// requireEnv, when "1", turns a missing keychain from a skip into a failure.
// scripts/with-keyring.sh (and so `make test`) sets it.
const requireEnv = "KEYPOOL_REQUIRE_KEYRING"

// keychainUnavailable skips the test, or fails it under requireEnv=1.
func keychainUnavailable(t *testing.T, err error) {
	t.Helper()
	if os.Getenv(requireEnv) == "1" {
		t.Fatalf("%s=1 but the OS keychain is unavailable: %v", requireEnv, err)
	}
	t.Skipf("no OS keychain (run under scripts/with-keyring.sh; %s=1 makes this a failure): %v", requireEnv, err)
}

// osKeychain returns the real keychain under a service name of its own,
// emptied when the test ends.
func osKeychain(t *testing.T) OS {
	t.Helper()
	requireOSKeychain(t)
	k := OS{Service: "keypool-test-" + strings.ToLower(rand.Text()[:12])}
	t.Cleanup(func() {
		if err := keyring.DeleteAll(k.Service); err != nil {
			t.Errorf("cleanup: delete service %s: %v", k.Service, err)
		}
	})
	return k
}

// requireOSKeychain skips (or fails, see requireEnv) unless the OS keychain
// answers.
func requireOSKeychain(t *testing.T) {
	t.Helper()
	if runtime.GOOS == "linux" && os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		// Without an address go-keyring would fall back to
		// $XDG_RUNTIME_DIR/bus, then to dbus-launch, which starts a bus
		// that outlives the test. Only the first is acceptable.
		if _, err := os.Stat(filepath.Join(os.Getenv("XDG_RUNTIME_DIR"), "bus")); os.Getenv("XDG_RUNTIME_DIR") == "" || err != nil {
			keychainUnavailable(t, errors.New("no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is unset and there is no $XDG_RUNTIME_DIR/bus"))
		}
	}
	if err := (OS{}).Check(); err != nil {
		keychainUnavailable(t, err)
	}
}

func TestOSService(t *testing.T) {
	if got := (OS{}).service(); got != "keypool" {
		t.Errorf("OS{}.service() = %q, want %q", got, "keypool")
	}
	for _, c := range []struct {
		o    Owner
		want string
	}{
		{Account("acct-1"), "account:acct-1/refresh_token"},
		{ClientKey("key-1"), "client-key:key-1/refresh_token"},
		{legacyAccount("acct-1"), "acct-1/refresh_token"},
		{legacyClientKey("key-1"), "client-key-1/refresh_token"},
	} {
		if got := c.o.entry(RefreshToken); got != c.want {
			t.Errorf("entry = %q, want %q", got, c.want)
		}
	}
}

// TestOSKeyScheme checks where OS puts an entry: service, "<kind>:<id>/<field>".
func TestOSKeyScheme(t *testing.T) {
	k := osKeychain(t)
	if err := k.Set(Account("acct-1"), IDToken, New("eyJ.id.token")); err != nil {
		t.Fatal(err)
	}
	got, err := keyring.Get(k.Service, "account:acct-1/id_token")
	if err != nil || got != "eyJ.id.token" {
		t.Errorf("keyring.Get(%s, account:acct-1/id_token) = %q, %v; want the stored value", k.Service, got, err)
	}
}

// TestKeychain runs the same behaviour table against the real keychain and
// against Memory.
func TestKeychain(t *testing.T) {
	impls := []struct {
		name string
		new  func(t *testing.T) Keychain
	}{
		{"Memory", func(*testing.T) Keychain { return NewMemory() }},
		{"Memory_zero_value", func(*testing.T) Keychain { return &Memory{} }},
		{"OS", func(t *testing.T) Keychain { return osKeychain(t) }},
	}
	for _, impl := range impls {
		t.Run(impl.name, func(t *testing.T) {
			if impl.name == "OS" {
				requireOSKeychain(t) // skip once, not in every subtest
			}
			testKeychain(t, impl.new)
		})
	}
}

func testKeychain(t *testing.T, newKeychain func(t *testing.T) Keychain) {
	t.Run("round_trip_each_field", func(t *testing.T) {
		k := newKeychain(t)
		for _, f := range AllFields {
			if err := k.Set(Account("acct-1"), f, New("value-of-"+string(f))); err != nil {
				t.Fatalf("Set %s: %v", f, err)
			}
		}
		for _, f := range AllFields {
			got, err := k.Get(Account("acct-1"), f)
			if err != nil {
				t.Fatalf("Get %s: %v", f, err)
			}
			if want := "value-of-" + string(f); got.Reveal() != want {
				t.Errorf("Get %s = %q, want %q", f, got.Reveal(), want)
			}
		}
	})

	t.Run("round_trip_values", func(t *testing.T) {
		k := newKeychain(t)
		values := []struct{ name, v string }{
			{"api_key", "sk-ant-api03-abcdefghijklmnopqrstuvwxyz0123456789"},
			{"jwt", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl"},
			{"unicode", "pässwörd ✓ 🔑"},
			{"quotes_and_spaces", `a'b"c d\e $HOME`},
			{"multiline", "line one\nline two\n"},
			{"exactly_max_size", strings.Repeat("x", MaxSize)},
		}
		for _, tc := range values {
			t.Run(tc.name, func(t *testing.T) {
				if err := k.Set(Account("acct-1"), APIKey, New(tc.v)); err != nil {
					t.Fatalf("Set: %v", err)
				}
				got, err := k.Get(Account("acct-1"), APIKey)
				if err != nil {
					t.Fatalf("Get: %v", err)
				}
				if got.Reveal() != tc.v {
					t.Errorf("Get = %q (%d bytes), want %q (%d bytes)", got.Reveal(), len(got.Reveal()), tc.v, len(tc.v))
				}
			})
		}
	})

	t.Run("overwrite", func(t *testing.T) {
		k := newKeychain(t)
		for _, v := range []string{"first", "second", "third-and-longer"} {
			if err := k.Set(Account("acct-1"), RefreshToken, New(v)); err != nil {
				t.Fatalf("Set %q: %v", v, err)
			}
		}
		got, err := k.Get(Account("acct-1"), RefreshToken)
		if err != nil || got.Reveal() != "third-and-longer" {
			t.Errorf("Get = %q, %v; want %q, nil", got.Reveal(), err, "third-and-longer")
		}
	})

	t.Run("get_missing_is_not_found", func(t *testing.T) {
		k := newKeychain(t)
		if err := k.Set(Account("acct-1"), APIKey, New("x")); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			account string
			f       Field
		}{{"acct-1", AccessToken}, {"acct-2", APIKey}} {
			got, err := k.Get(Account(c.account), c.f)
			if !errors.Is(err, ErrNotFound) || !errors.Is(err, keyring.ErrNotFound) {
				t.Errorf("Get %s/%s err = %v, want ErrNotFound (and keyring.ErrNotFound)", c.account, c.f, err)
			}
			if errors.Is(err, ErrUnavailable) {
				t.Errorf("Get %s/%s err = %v, must not be ErrUnavailable", c.account, c.f, err)
			}
			if want := fmt.Sprintf("keychain get account:%s/%s", c.account, c.f); err != nil && !strings.Contains(err.Error(), want) {
				t.Errorf("err = %q, want it to name %q", err, want)
			}
			if !got.IsZero() {
				t.Errorf("Get %s/%s returned a non-zero secret with the error, want the zero Secret", c.account, c.f)
			}
		}
	})

	t.Run("delete", func(t *testing.T) {
		k := newKeychain(t)
		if err := k.Delete(Account("acct-1"), APIKey); err != nil {
			t.Errorf("Delete of a missing entry = %v, want nil", err)
		}
		if err := k.Set(Account("acct-1"), APIKey, New("x")); err != nil {
			t.Fatal(err)
		}
		if err := k.Set(Account("acct-1"), ProxyPassword, New("y")); err != nil {
			t.Fatal(err)
		}
		if err := k.Delete(Account("acct-1"), APIKey); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, err := k.Get(Account("acct-1"), APIKey); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get after Delete err = %v, want ErrNotFound", err)
		}
		if got, err := k.Get(Account("acct-1"), ProxyPassword); err != nil || got.Reveal() != "y" {
			t.Errorf("other field after Delete = %q, %v; want %q, nil", got.Reveal(), err, "y")
		}
		if err := k.Delete(Account("acct-1"), APIKey); err != nil {
			t.Errorf("second Delete = %v, want nil", err)
		}
	})

	t.Run("delete_all_removes_every_field_only_of_that_owner", func(t *testing.T) {
		k := newKeychain(t)
		for _, a := range []string{"acct-a", "acct-b"} {
			for _, f := range AllFields {
				if err := k.Set(Account(a), f, New(a+"-"+string(f))); err != nil {
					t.Fatalf("Set %s/%s: %v", a, f, err)
				}
			}
		}
		if err := k.DeleteAll(Account("acct-a")); err != nil {
			t.Fatalf("DeleteAccount: %v", err)
		}
		for _, f := range AllFields {
			if _, err := k.Get(Account("acct-a"), f); !errors.Is(err, ErrNotFound) {
				t.Errorf("acct-a/%s after DeleteAccount: err = %v, want ErrNotFound", f, err)
			}
			got, err := k.Get(Account("acct-b"), f)
			if want := "acct-b-" + string(f); err != nil || got.Reveal() != want {
				t.Errorf("acct-b/%s = %q, %v; want %q, nil", f, got.Reveal(), err, want)
			}
		}
		if err := k.DeleteAll(Account("acct-a")); err != nil {
			t.Errorf("DeleteAccount of an empty account = %v, want nil", err)
		}
	})

	t.Run("owners_of_different_kinds_never_share_an_entry", func(t *testing.T) {
		// The first layout stored client key key-71db9c2b where account
		// client-key-71db9c2b keeps its API key.
		k := newKeychain(t)
		acct, ck := Account("client-key-71db9c2b"), ClientKey("key-71db9c2b")
		if err := k.Set(ck, APIKey, New("kp-local-client-value")); err != nil {
			t.Fatal(err)
		}
		if err := k.Set(acct, APIKey, New("sk-ant-upstream-value")); err != nil {
			t.Fatal(err)
		}
		if got, err := k.Get(ck, APIKey); err != nil || got.Reveal() != "kp-local-client-value" {
			t.Fatalf("client key after the account's Set = %q, %v; want its own value", got.Reveal(), err)
		}
		if err := k.DeleteAll(acct); err != nil {
			t.Fatal(err)
		}
		if got, err := k.Get(ck, APIKey); err != nil || got.Reveal() != "kp-local-client-value" {
			t.Errorf("client key after the account's DeleteAll = %q, %v; want it kept", got.Reveal(), err)
		}
	})

	t.Run("too_large_refused_before_set", func(t *testing.T) {
		k := newKeychain(t)
		if err := k.Set(Account("acct-1"), AccessToken, New("small")); err != nil {
			t.Fatal(err)
		}
		big := "BIG" + strings.Repeat("y", MaxSize-2) // MaxSize+1 bytes
		err := k.Set(Account("acct-1"), AccessToken, New(big))
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("Set of %d bytes err = %v, want ErrTooLarge", len(big), err)
		}
		if strings.Contains(err.Error(), "BIGyyy") {
			t.Errorf("err = %q, want it without the value", err)
		}
		if !strings.Contains(err.Error(), "keychain set account:acct-1/access_token") {
			t.Errorf("err = %q, want it to name the entry", err)
		}
		if got, err := k.Get(Account("acct-1"), AccessToken); err != nil || got.Reveal() != "small" {
			t.Errorf("after a refused Set: %q, %v; want the old value", got.Reveal(), err)
		}
	})

	t.Run("bad_keys", func(t *testing.T) {
		k := newKeychain(t)
		for _, c := range []struct {
			name    string
			account string
			f       Field
		}{
			{"empty_account", "", APIKey},
			{"unknown_field", "acct-1", Field("password")},
			{"long_account", strings.Repeat("a", maxIDLen+1), APIKey},
			{"slash_in_id", "a/api_key", APIKey},
			{"colon_in_id", "account:a", APIKey},
		} {
			t.Run(c.name, func(t *testing.T) {
				if err := k.Set(Account(c.account), c.f, New("sk-bad-key-value")); err == nil {
					t.Error("Set: err = nil, want a key error")
				} else if strings.Contains(err.Error(), "sk-bad-key-value") {
					t.Errorf("Set err = %q, want it without the value", err)
				}
				if _, err := k.Get(Account(c.account), c.f); err == nil || errors.Is(err, ErrNotFound) {
					t.Errorf("Get err = %v, want a key error", err)
				}
				if err := k.Delete(Account(c.account), c.f); err == nil {
					t.Error("Delete: err = nil, want a key error")
				}
			})
		}
		if err := k.DeleteAll(Account("")); err == nil {
			t.Error("DeleteAll(Account(\"\")): err = nil, want a key error")
		}
	})

	t.Run("empty_value", func(t *testing.T) {
		k := newKeychain(t)
		if err := k.Set(Account("acct-1"), IDToken, Secret{}); err != nil {
			t.Fatalf("Set: %v", err)
		}
		got, err := k.Get(Account("acct-1"), IDToken)
		if err != nil || !got.IsZero() {
			t.Errorf("Get = %q, %v; want an empty secret, nil", got.Reveal(), err)
		}
	})

	t.Run("concurrent_accounts", func(t *testing.T) {
		k := newKeychain(t)
		const workers, rounds = 8, 3
		errc := make(chan error, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				errc <- func() error {
					account := fmt.Sprintf("acct-%d", w)
					for r := range rounds {
						for _, f := range AllFields {
							want := fmt.Sprintf("%s-%s-%d", account, f, r)
							if err := k.Set(Account(account), f, New(want)); err != nil {
								return err
							}
							got, err := k.Get(Account(account), f)
							if err != nil {
								return err
							}
							if got.Reveal() != want {
								return fmt.Errorf("%s/%s = %q, want %q", account, f, got.Reveal(), want)
							}
						}
					}
					return k.DeleteAll(Account(account))
				}()
			})
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			if err != nil {
				t.Error(err)
			}
		}
	})
}

func TestSecretReveal(t *testing.T) {
	if s := New("v"); s.Reveal() != "v" || s.IsZero() {
		t.Errorf("New(v): Reveal %q, IsZero %v; want v, false", s.Reveal(), s.IsZero())
	}
	for _, s := range []Secret{{}, New("")} {
		if s.Reveal() != "" || !s.IsZero() {
			t.Errorf("empty secret: Reveal %q, IsZero %v; want \"\", true", s.Reveal(), s.IsZero())
		}
	}
}

// TestSecretRedacted prints, logs and marshals a Secret every way we could
// think of; the value must never come out.
func TestSecretRedacted(t *testing.T) {
	const value = "sk-ant-api03-TOPSECRET-4242"
	s := New(value)
	type holder struct {
		Key    Secret  `json:"key"`
		Ptr    *Secret `json:"ptr"`
		hidden Secret  // fmt prints unexported fields by reflection, without methods
	}
	h := holder{Key: s, Ptr: &s, hidden: s}

	slogged := func(newHandler func(w *bytes.Buffer) slog.Handler) string {
		var buf bytes.Buffer
		log := slog.New(newHandler(&buf))
		log.Info("secret", "key", s, "ptr", &s, "holder", h, slog.Group("g", "key", s), slog.Any("any", s))
		log.With("with", s).Info("again")
		return buf.String()
	}
	jsonOf := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal(%T): %v", v, err)
		}
		return string(b)
	}

	cases := []struct {
		name     string
		got      string
		redacted bool // the output must also say REDACTED
	}{
		{"v", fmt.Sprintf("%v", s), true},
		{"s", fmt.Sprintf("%s", s), true},
		{"q", fmt.Sprintf("%q", s), true},
		{"sharp_v", fmt.Sprintf("%#v", s), true},
		{"plus_v", fmt.Sprintf("%+v", s), true},
		{"x", fmt.Sprintf("%x", s), true},
		{"X", fmt.Sprintf("%X", s), true},
		{"d", fmt.Sprintf("%d", s), true},
		{"width", fmt.Sprintf("%40s|%-40v", s, s), true},
		{"pointer_v", fmt.Sprintf("%v %s %+v %#v", &s, &s, &s, &s), true},
		{"Sprint", fmt.Sprint(s, &s), true},
		{"Sprintln", fmt.Sprintln(s), true},
		{"String", s.String(), true},
		{"GoString", s.GoString(), true},
		{"struct_v", fmt.Sprintf("%v", h), true},
		{"struct_plus_v", fmt.Sprintf("%+v", h), true},
		{"struct_sharp_v", fmt.Sprintf("%#v", h), true},
		{"slice_map", fmt.Sprintf("%v %v", []Secret{s}, map[string]Secret{"k": s}), true},
		{"errorf", fmt.Errorf("refresh acct-1 with %v: %w", s, errors.New("boom")).Error(), true},
		{"slog_text", slogged(func(w *bytes.Buffer) slog.Handler { return slog.NewTextHandler(w, nil) }), true},
		{"slog_json", slogged(func(w *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(w, nil) }), true},
		{"json_struct", jsonOf(h), true},
		{"json_value", jsonOf(s), true},
		{"json_map_value_and_key", jsonOf(map[Secret]Secret{s: s}), true},
		{"MarshalText", func() string { b, _ := s.MarshalText(); return string(b) }(), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if strings.Contains(c.got, value) || strings.Contains(c.got, "TOPSECRET") {
				t.Errorf("printed %s, want it without the value", c.got)
			}
			if c.redacted && !strings.Contains(c.got, "REDACTED") {
				t.Errorf("printed %s, want REDACTED in it", c.got)
			}
		})
	}
	if got := fmt.Sprintf("%q", s); got != `"REDACTED"` {
		t.Errorf("%%q = %s, want %q", got, "REDACTED")
	}
	if got, want := jsonOf(h), `{"key":"REDACTED","ptr":"REDACTED"}`; got != want {
		t.Errorf("json = %s, want %s", got, want)
	}
}

// TestClassify maps go-keyring's errors as seen on each OS. The Linux texts
// are the real ones from gnome-keyring 42 and godbus.
func TestClassify(t *testing.T) {
	cases := []struct {
		name   string
		goos   string
		err    error
		want   error  // sentinel
		advice string // for ErrUnavailable
	}{
		{"not_found", "linux", keyring.ErrNotFound, ErrNotFound, ""},
		{"not_found_wrapped", "darwin", fmt.Errorf("x: %w", keyring.ErrNotFound), ErrNotFound, ""},
		{"too_big", "windows", keyring.ErrSetDataTooBig, ErrTooLarge, ""},
		{"linux_locked_login", "linux",
			errors.New("failed to unlock correct collection '/org/freedesktop/secrets/collection/login'"),
			ErrUnavailable, adviceLinuxLocked},
		{"linux_no_default_keyring", "linux",
			errors.New("failed to unlock correct collection '/org/freedesktop/secrets/aliases/default'"),
			ErrUnavailable, adviceLinuxLocked},
		{"linux_is_locked", "freebsd", errors.New("org.freedesktop.Secret.Error.IsLocked: Cannot get secret of a locked object"),
			ErrUnavailable, adviceLinuxLocked},
		{"linux_no_secret_service", "linux",
			errors.New("The name org.freedesktop.secrets was not provided by any .service files"),
			ErrUnavailable, adviceLinuxNoService},
		{"linux_no_dbus_launch", "linux", errors.New(`exec: "dbus-launch": executable file not found in $PATH`),
			ErrUnavailable, adviceLinuxNoBus},
		{"linux_dead_bus", "linux", errors.New("dial unix /nonexistent: connect: no such file or directory"),
			ErrUnavailable, adviceLinuxNoBus},
		{"linux_other", "linux", errors.New("org.freedesktop.DBus.Error.NoReply: Did not receive a reply"),
			ErrUnavailable, adviceLinuxNoService},
		{"darwin_locked", "darwin", errors.New("exit status 36"), ErrUnavailable, adviceMacLocked},
		{"darwin_denied", "darwin", errors.New("exit status 51"), ErrUnavailable, adviceMacDenied},
		{"darwin_canceled", "darwin", errors.New("exit status 128"), ErrUnavailable, adviceMacDenied},
		{"darwin_other", "darwin", errors.New("exit status 1"), ErrUnavailable, adviceMac},
		{"windows", "windows", errors.New("The stub received bad data."), ErrUnavailable, adviceWindows},
		{"unsupported", "plan9", keyring.ErrUnsupportedPlatform, ErrUnavailable, "no keychain support on plan9"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := classify(c.goos, c.err)
			if !errors.Is(got, c.want) {
				t.Fatalf("classify(%q, %q) = %v, want %v", c.goos, c.err, got, c.want)
			}
			for _, other := range []error{ErrNotFound, ErrTooLarge, ErrUnavailable} {
				if other != c.want && errors.Is(got, other) {
					t.Errorf("classify(%q, %q) = %v, also matches %v", c.goos, c.err, got, other)
				}
			}
			if c.want != ErrUnavailable {
				return
			}
			if !errors.Is(got, c.err) {
				t.Errorf("classify = %v, want it to wrap the cause %v", got, c.err)
			}
			if !strings.Contains(got.Error(), c.advice) {
				t.Errorf("got %q\nwant advice %q", got, c.advice)
			}
		})
	}
	if got := classify("linux", nil); got != nil {
		t.Errorf("classify(nil) = %v, want nil", got)
	}
	if !errors.Is(ErrNotFound, keyring.ErrNotFound) || !errors.Is(ErrTooLarge, keyring.ErrSetDataTooBig) {
		t.Errorf("errors.Is(ErrNotFound, keyring's) %v, errors.Is(ErrTooLarge, keyring's) %v; want both true",
			errors.Is(ErrNotFound, keyring.ErrNotFound), errors.Is(ErrTooLarge, keyring.ErrSetDataTooBig))
	}
}

// childEnv names the failure a TestOSUnavailable child process checks.
const childEnv = "KEYPOOL_SECRETS_UNAVAILABLE_CHILD"

// TestOSUnavailable runs OS against a session bus that is not there, and
// against one without a Secret Service, and checks that every method says
// so with the right advice. Each case runs in a child process: godbus keeps
// one session bus connection per process, so once another test has
// connected, changing DBUS_SESSION_BUS_ADDRESS with t.Setenv has no effect.
func TestOSUnavailable(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the Secret Service over D-Bus is Linux's keychain")
	}
	if mode := os.Getenv(childEnv); mode != "" {
		checkUnavailable(t, mode)
		return
	}
	t.Run("no_session_bus", func(t *testing.T) {
		runUnavailableChild(t, "no_session_bus", "unix:path=/nonexistent")
	})
	t.Run("no_secret_service", func(t *testing.T) {
		runUnavailableChild(t, "no_secret_service", emptyBus(t))
	})
}

func runUnavailableChild(t *testing.T, mode, busAddress string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestOSUnavailable$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+mode, "DBUS_SESSION_BUS_ADDRESS="+busAddress)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child (%s): %v\n%s", mode, err, out)
	}
	if !bytes.Contains(out, []byte("--- PASS: TestOSUnavailable")) {
		t.Fatalf("child (%s) output:\n%s\nwant --- PASS: TestOSUnavailable", mode, out)
	}
	t.Logf("child output:\n%s", out)
}

// checkUnavailable runs in the child, with DBUS_SESSION_BUS_ADDRESS set by
// the parent.
func checkUnavailable(t *testing.T, mode string) {
	advice := map[string]string{
		"no_session_bus":    adviceLinuxNoBus,
		"no_secret_service": adviceLinuxNoService,
	}[mode]
	if advice == "" {
		t.Fatalf("unknown mode %q", mode)
	}
	const value = "sk-must-never-be-in-an-error"
	k := OS{Service: "keypool-test-unavailable"}
	_, getErr := k.Get(Account("acct-1"), APIKey)
	for _, c := range []struct {
		op  string
		err error
	}{
		{"Check", k.Check()},
		{"Get", getErr},
		{"Set", k.Set(Account("acct-1"), APIKey, New(value))},
		{"Delete", k.Delete(Account("acct-1"), APIKey)},
		{"DeleteAccount", k.DeleteAll(Account("acct-1"))},
	} {
		op, err := c.op, c.err
		t.Logf("%s: %v", op, err)
		if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrNotFound) {
			t.Errorf("%s err = %v, want ErrUnavailable", op, err)
			continue
		}
		if !strings.Contains(err.Error(), advice) {
			t.Errorf("%s err = %q\nwant advice %q", op, err, advice)
		}
		if strings.Contains(err.Error(), value) {
			t.Errorf("%s err = %q, want it without the secret", op, err)
		}
	}
}

// emptyBus starts a private dbus-daemon with no services to activate, stopped
// when the test ends, and returns its address.
func emptyBus(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("dbus-daemon"); err != nil {
		if os.Getenv(requireEnv) == "1" {
			t.Fatalf("%s=1 but dbus-daemon is not installed (Debian: dbus-daemon)", requireEnv)
		}
		t.Skip("dbus-daemon is not installed (Debian: dbus-daemon)")
	}
	dir := dirtest.New(t)
	conf := filepath.Join(dir, "bus.conf")
	err := os.WriteFile(conf, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=`+filepath.Join(dir, "bus")+`</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("dbus-daemon", "--config-file="+conf, "--nofork", "--print-address=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start dbus-daemon: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait() // "signal: killed"
	})
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("dbus-daemon printed no address: %v\n%s", err, stderr.String())
	}
	return strings.TrimSpace(addr)
}
