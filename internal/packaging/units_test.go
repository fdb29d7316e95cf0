package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"keypool/app/autostart"
	"keypool/internal/systemdtest"
)

// The packaged units run the relay as keypool service install's units do
// (the same restart, stop and hardening lines), from /usr/bin.
func TestUnitsMatchServiceInstall(t *testing.T) {
	for _, tt := range []struct {
		file   string
		system bool
		exec   string
	}{
		{"keypool.service", true, "ExecStart=/usr/bin/keypool-headless serve --config %d/config.toml --data-dir /var/lib/keypool"},
		{"keypool-user.service", false, "ExecStart=/usr/bin/keypool-headless serve"},
	} {
		unit := read(t, filepath.Join("../../packaging", tt.file))
		installed := autostart.Service{Exe: "/usr/bin/keypool-headless", System: tt.system, User: "someone", StateDirectory: "keypool"}.Unit()
		for _, line := range strings.Split(installed, "\n") {
			if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "ExecStart=") || strings.HasPrefix(line, "User=") {
				continue
			}
			if !strings.Contains(unit, line+"\n") {
				t.Errorf("packaging/%s has no line %q, which keypool service install writes", tt.file, line)
			}
		}
		if !strings.Contains(unit, "\n"+tt.exec+"\n") {
			t.Errorf("packaging/%s: want %s", tt.file, tt.exec)
		}
	}
}

// The units pass systemd-analyze verify (systemd, installed by make test),
// with ExecStart's program at a path of the test's own. The package test
// verifies them again where they are installed.
func TestUnitsVerify(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("systemd units are for Linux")
	}
	dir := t.TempDir()
	exe := filepath.Join(dir, "keypool-headless")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		file   string
		system bool
	}{{"keypool.service", true}, {"keypool-user.service", false}} {
		unit := strings.ReplaceAll(read(t, filepath.Join("../../packaging", tt.file)), "/usr/bin/keypool-headless", exe)
		path := filepath.Join(dir, tt.file, "keypool.service")
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
			t.Fatal(err)
		}
		systemdtest.Verify(t, path, tt.system)
	}
}
