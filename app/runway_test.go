package app_test

import (
	"os"
	"path/filepath"
	"testing"

	"keypool/app"
	"keypool/internal/dirtest"
)

// avoid_runout_minutes comes from the config until the window sets it; the
// window's choice holds across restarts and a bad value is refused.
func TestAvoidRunoutSetting(t *testing.T) {
	dir := dirtest.New(t)
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte("[scheduler]\navoid_runout_minutes = 30\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keys := secretsMemory()
	r := start(t, app.Params{DataDir: dir, ConfigPath: cfg, Keychain: keys})
	if got := r.AvoidRunout(); got != 30 {
		t.Errorf("AvoidRunout = %d, want the config's 30", got)
	}
	for _, bad := range []int{-1, 7*24*60 + 1} {
		if err := r.SetAvoidRunout(bad); err == nil {
			t.Errorf("SetAvoidRunout(%d) was accepted", bad)
		}
	}
	must(t, r.SetAvoidRunout(45))
	if got := r.AvoidRunout(); got != 45 {
		t.Errorf("AvoidRunout after setting 45 = %d", got)
	}
	r.stop()
	r = start(t, app.Params{DataDir: dir, ConfigPath: cfg, Keychain: keys})
	if got := r.AvoidRunout(); got != 45 {
		t.Errorf("AvoidRunout after a restart = %d, want the saved 45", got)
	}
}
