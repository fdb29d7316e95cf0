package app_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"keypool/app"
	"keypool/internal/dirtest"
)

// The log file is private, appends across opens, and rotates to one backup
// so it never holds more than twice its limit.
func TestLogFileRotates(t *testing.T) {
	path := filepath.Join(dirtest.New(t), "data", "keypool.log")
	l, err := app.OpenLogFile(path, 1000)
	if err != nil {
		t.Fatal(err)
	}
	line := []byte(strings.Repeat("x", 99) + "\n")
	for range 5 {
		l.Write(line)
	}
	l.Close()
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("log file: %v, %v; want mode 0600", info, err)
	}
	l, err = app.OpenLogFile(path, 1000) // appends
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for range 25 {
		if _, err := l.Write(line); err != nil {
			t.Fatal(err)
		}
	}
	cur, _ := os.ReadFile(path)
	old, _ := os.ReadFile(path + ".1")
	if len(cur) > 1000 || len(old) > 1000 || len(old) == 0 {
		t.Errorf("current %d bytes, backup %d; want each at most 1000 and a backup", len(cur), len(old))
	}
	if got := bytes.Count(cur, line) + bytes.Count(old, line); got < 10 || got > 30 {
		t.Errorf("%d lines kept over both files, want 10–30", got)
	}
	if _, err := os.Stat(path + ".2"); err == nil {
		t.Errorf("%s.2 exists, want one backup only", path)
	}
}

// A rotation that fails (the backup name is taken by something that cannot
// be replaced) costs nothing but the limit: logging goes on in the file.
func TestLogFileRotationFails(t *testing.T) {
	path := filepath.Join(dirtest.New(t), "keypool.log")
	if err := os.Mkdir(path+".1", 0o700); err != nil { // rename onto a directory fails
		t.Fatal(err)
	}
	l, err := app.OpenLogFile(path, 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	line := []byte(strings.Repeat("y", 99) + "\n")
	for i := range 30 {
		if _, err := l.Write(line); err != nil {
			t.Fatalf("write %d after a failed rotation: %v, want nil", i, err)
		}
	}
	if b, _ := os.ReadFile(path); bytes.Count(b, line) != 30 {
		t.Errorf("the file holds %d lines, want all 30", bytes.Count(b, line))
	}
}
