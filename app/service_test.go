package app_test

import (
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"keypool/app"
	"keypool/internal/dirtest"
)

// A service must be able to write its database. A system unit, which
// ProtectSystem=full keeps out of /usr and /etc, keeps it in
// /var/lib/keypool (StateDirectory) unless --data-dir says otherwise, so a
// config in /etc/keypool with a relative database_path works; a data dir
// under /etc or /usr, or one the service's user cannot write, is refused
// at install, with what to do.
func TestInstallServiceDataDir(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("systemd units are for Linux")
	}
	dir := dirtest.New(t)
	defer app.SetUnitDir(filepath.Join(dir, "units"))()
	cfg := filepath.Join(dir, "config.toml")
	must(t, os.WriteFile(cfg, []byte("api_keys = [\"k\"]\n[server]\ndatabase_path = \"data/keypool.db\"\n"), 0o600))
	readOnly := filepath.Join(dir, "read-only")
	must(t, os.Mkdir(readOnly, 0o500))
	tests := []struct {
		name     string
		system   bool
		dataDir  string
		want     []string // lines in the unit
		wantNone []string
		wantDir  string // the data dir it reports
		wantErr  string
		notRoot  bool // root writes anywhere: skipped as root
		sudoUser string
	}{
		{name: "system_default", system: true, wantDir: "/var/lib/keypool",
			want: []string{"StateDirectory=keypool", "ProtectSystem=full", " --data-dir /var/lib/keypool"}},
		{name: "system_data_dir", system: true, dataDir: filepath.Join(dir, "data"), wantDir: filepath.Join(dir, "data"),
			want: []string{" --data-dir " + filepath.Join(dir, "data")}, wantNone: []string{"StateDirectory"}},
		{name: "system_under_etc", system: true, dataDir: "/etc/keypool", wantErr: "ProtectSystem=full keeps /etc read-only"},
		{name: "system_under_usr", system: true, dataDir: "/usr/local/lib/keypool", wantErr: "leave out --data-dir"},
		{name: "system_read_only", system: true, dataDir: filepath.Join(readOnly, "data"), wantErr: "cannot be written", notRoot: true},
		{name: "user_config_database_path", wantDir: filepath.Join(dir, "data"), wantNone: []string{"StateDirectory", "--data-dir"}},
		{name: "user_read_only", dataDir: readOnly, wantErr: "cannot be written", notRoot: true},
		// sudo keypool service install --system: the unit runs as the user
		// who ran sudo, who must be able to write the folder root can.
		{name: "system_for_the_sudo_user", system: true, dataDir: filepath.Join(dir, "roots"), sudoUser: "nobody", wantErr: "nobody cannot write"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.notRoot && os.Geteuid() == 0 {
				t.Skip("root can write a read-only folder")
			}
			if tt.sudoUser != "" {
				if _, err := user.Lookup(tt.sudoUser); err != nil || os.Geteuid() != 0 {
					t.Skipf("needs root and a user %s (%v)", tt.sudoUser, err)
				}
				t.Setenv("SUDO_USER", tt.sudoUser)
				must(t, os.Mkdir(tt.dataDir, 0o755))
			}
			u, err := app.InstallService(app.Params{ConfigPath: cfg, DataDir: tt.dataDir}, tt.system)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("InstallService: %v, want an error saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(u.Path)
			must(t, err)
			unit := string(b)
			for _, w := range tt.want {
				if !strings.Contains(unit, w) {
					t.Errorf("unit:\n%s\nwant %q in it", unit, w)
				}
			}
			for _, w := range tt.wantNone {
				if strings.Contains(unit, w) {
					t.Errorf("unit:\n%s\nwant no %q", unit, w)
				}
			}
			if u.DataDir != tt.wantDir {
				t.Errorf("data dir = %s, want %s", u.DataDir, tt.wantDir)
			}
		})
	}
}
