package secretstest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/godbus/dbus/v5"

	"keypool/internal/reruntest"
)

// KeyringPassword unlocks the login keyring scripts/with-keyring.sh makes.
const KeyringPassword = "keypool-test"

const envPrivate = "KEYPOOL_PRIVATE_KEYRING_TEST"

// RunPrivate runs body in a keyring session of its own: the test binary
// re-runs t (a top-level test) under scripts/with-keyring.sh, so body may
// lock the keyring without disturbing tests that run beside it.
func RunPrivate(t *testing.T, body func(t *testing.T)) {
	t.Helper()
	if os.Getenv(envPrivate) == t.Name() {
		body(t)
		return
	}
	if runtime.GOOS != "linux" {
		t.Skip("a private Secret Service session needs Linux")
	}
	script, err := withKeyring()
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"dbus-run-session", "gnome-keyring-daemon"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("KEYPOOL_REQUIRE_KEYRING") == "1" {
				t.Fatalf("%s is missing", tool)
			}
			t.Skipf("%s is missing (make deps installs it)", tool)
		}
	}
	cmd := exec.Command("sh", append([]string{script}, reruntest.Args(t)...)...)
	// No display: an unlock prompt must fail at once, not appear on the
	// screen of whoever runs the tests.
	cmd.Env = append(os.Environ(), envPrivate+"="+t.Name(), "DISPLAY=", "WAYLAND_DISPLAY=")
	out, err := cmd.CombinedOutput()
	reruntest.Report(t, "in a private keyring session", out, err)
}

// withKeyring finds scripts/with-keyring.sh above the test's package dir.
func withKeyring() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "scripts", "with-keyring.sh")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		up := filepath.Dir(dir)
		if up == dir {
			return "", os.ErrNotExist
		}
		dir = up
	}
}

const (
	secretsName  = "org.freedesktop.secrets"
	servicePath  = "/org/freedesktop/secrets"
	defaultAlias = "/org/freedesktop/secrets/aliases/default"
)

// Lock locks the session's default keyring, as a login that did not unlock
// it, or a user who locked it, leaves it.
func Lock(t testing.TB) {
	t.Helper()
	conn := session(t)
	var locked []dbus.ObjectPath
	var prompt dbus.ObjectPath
	err := conn.Object(secretsName, servicePath).Call("org.freedesktop.Secret.Service.Lock", 0,
		[]dbus.ObjectPath{defaultAlias}).Store(&locked, &prompt)
	if err != nil || len(locked) != 1 {
		t.Fatalf("lock the default keyring: %v (locked %v, prompt %s)", err, locked, prompt)
	}
}

// Unlock unlocks the session's default keyring with KeyringPassword,
// through GNOME Keyring's own interface, as typing the password into its
// prompt would.
func Unlock(t testing.TB) {
	t.Helper()
	conn := session(t)
	svc := conn.Object(secretsName, servicePath)
	var out dbus.Variant
	var sess dbus.ObjectPath
	if err := svc.Call("org.freedesktop.Secret.Service.OpenSession", 0, "plain", dbus.MakeVariant("")).Store(&out, &sess); err != nil {
		t.Fatalf("open a Secret Service session: %v", err)
	}
	var coll dbus.ObjectPath
	if err := svc.Call("org.freedesktop.Secret.Service.ReadAlias", 0, "default").Store(&coll); err != nil {
		t.Fatalf("find the default keyring: %v", err)
	}
	secret := struct {
		Session     dbus.ObjectPath
		Parameters  []byte
		Value       []byte
		ContentType string
	}{sess, nil, []byte(KeyringPassword), "text/plain"}
	err := svc.Call("org.gnome.keyring.InternalUnsupportedGuiltRiddenInterface.UnlockWithMasterPassword", 0, coll, secret).Err
	if err != nil {
		t.Fatalf("unlock the default keyring: %v", err)
	}
}

func session(t testing.TB) *dbus.Conn {
	t.Helper()
	conn, err := dbus.SessionBus()
	if err != nil {
		t.Fatalf("session bus: %v", err)
	}
	return conn
}
