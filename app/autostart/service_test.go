package autostart

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"keypool/internal/dirtest"
	"keypool/internal/systemdtest"
)

// The user and system units pass systemd-analyze verify (systemd, installed
// by make test), with paths that need quoting; uninstalling removes the
// unit and the link systemctl enable makes.
func TestServiceUnit(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("systemd units are for Linux")
	}
	dir := dirtest.New(t)
	// ExecStart must name a program that exists, here under a name with a
	// space.
	exe := filepath.Join(dir, "Key Pool", "keypool")
	os.MkdirAll(filepath.Dir(exe), 0o755)
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	args := []string{"--config", "/etc/keypool/config.toml", "--data-dir", "/srv/key pool/100%"}
	tests := []struct {
		name     string
		system   bool
		state    string // StateDirectory
		want     []string
		wantNone []string
	}{
		{"user", false, "",
			[]string{`ExecStart="` + exe + `" serve --config /etc/keypool/config.toml --data-dir "/srv/key pool/100%%"`, "WantedBy=default.target"},
			[]string{"User=", "network-online", "StateDirectory"}},
		{"system", true, "",
			[]string{"User=keypool-test", "After=network-online.target", "WantedBy=multi-user.target", "ProtectSystem=full"},
			[]string{"StateDirectory"}},
		{"system_state_directory", true, "keypool",
			[]string{"ProtectSystem=full", "StateDirectory=keypool"},
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			config := filepath.Join(dir, tt.name)
			path := UnitPath(tt.system, config)
			if tt.system {
				if path != "/etc/systemd/system/keypool.service" {
					t.Errorf("UnitPath(system) = %s, want /etc/systemd/system/keypool.service", path)
				}
				path = filepath.Join(config, "system", UnitName) // tests write nothing in /etc
			} else if want := filepath.Join(config, "systemd", "user", "keypool.service"); path != want {
				t.Errorf("UnitPath(user) = %s, want %s", path, want)
			}
			s := Service{Exe: exe, Args: args, System: tt.system, User: "keypool-test", StateDirectory: tt.state}
			if err := InstallService(path, s); err != nil {
				t.Fatal(err)
			}
			unit, _ := os.ReadFile(path)
			for _, w := range tt.want {
				if !strings.Contains(string(unit), w+"\n") {
					t.Errorf("unit:\n%s\nwant the line %s", unit, w)
				}
			}
			for _, w := range tt.wantNone {
				if strings.Contains(string(unit), w) {
					t.Errorf("unit:\n%s\nwant no %s", unit, w)
				}
			}
			systemdtest.Verify(t, path, tt.system)

			// systemctl enable's link, then uninstall, twice.
			wants := filepath.Join(filepath.Dir(path), "default.target.wants")
			os.MkdirAll(wants, 0o755)
			if err := os.Symlink(path, filepath.Join(wants, UnitName)); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if err := UninstallService(path); err != nil {
					t.Fatalf("UninstallService: %v, want nil", err)
				}
			}
			for _, p := range []string{path, filepath.Join(wants, UnitName)} {
				if _, err := os.Lstat(p); !os.IsNotExist(err) {
					t.Errorf("%s after uninstall: %v, want it gone", p, err)
				}
			}
		})
	}
}
