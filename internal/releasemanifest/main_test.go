package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"keypool/app/update"
)

// The manifest make release-manifest writes carries the version and each
// archive's SHA-256, and opens only with the key's public half.
func TestReleaseManifest(t *testing.T) {
	dir := t.TempDir()
	pub, key, _ := ed25519.GenerateKey(nil)
	keyFile := filepath.Join(dir, "release.key")
	os.WriteFile(keyFile, []byte(base64.StdEncoding.EncodeToString(key.Seed())+"\n"), 0o600)
	archive := filepath.Join(dir, "keypool-headless-linux-amd64.tar.xz")
	os.WriteFile(archive, []byte("an archive"), 0o644)
	out := filepath.Join(dir, "latest.json")

	err := run([]string{"-key", keyFile, "-version", "1.4.0", "-base", "https://example.com/v1.4.0/", "-notes", "https://example.com/n",
		"-o", out, "linux/amd64=" + archive}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := os.ReadFile(out)
	m, err := update.Open(doc, pub)
	if err != nil {
		t.Fatalf("open the written manifest with the key's public half: %v", err)
	}
	sum := sha256.Sum256([]byte("an archive"))
	a, err := m.For("linux", "amd64", update.Headless)
	if err != nil || m.Version != "1.4.0" || a.SHA256 != hex.EncodeToString(sum[:]) || a.URL != "https://example.com/v1.4.0/keypool-headless-linux-amd64.tar.xz" {
		t.Errorf("manifest = %+v (%v), want 1.4.0 with the archive's address and SHA-256", m, err)
	}
	other, _, _ := ed25519.GenerateKey(nil)
	if _, err := update.Open(doc, other); err == nil {
		t.Error("the manifest opens with another key")
	}
	if exp, err := time.Parse(time.RFC3339, m.Expires); err != nil || exp.Before(time.Now().Add(179*24*time.Hour)) {
		t.Errorf("expires %q (%v), want 180 days from now", m.Expires, err)
	}
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"missing_key", []string{"-key", filepath.Join(dir, "missing.key"), "-version", "1.4.0", "-base", "https://example.com/"}},
		{"between_tags", []string{"-key", keyFile, "-version", "1.4.0-3-g1a2b3c4", "-base", "https://example.com/"}},
		{"dirty", []string{"-key", keyFile, "-version", "1.4.0+dirty", "-base", "https://example.com/"}},
		{"no_tag", []string{"-key", keyFile, "-version", "0.0.0-dev+1a2b3c4", "-base", "https://example.com/"}},
		{"plain_http", []string{"-key", keyFile, "-version", "1.4.1", "-base", "http://example.com/"}},
		{"notes_not_https", []string{"-key", keyFile, "-version", "1.4.1", "-base", "https://example.com/", "-notes", "file:///etc"}},
	} {
		if err := run(append(tt.args, "-o", out, "linux/amd64="+archive), io.Discard); err == nil {
			t.Errorf("%s: nil error", tt.name)
		}
	}
	if again, _ := os.ReadFile(out); string(again) != string(doc) {
		t.Error("a refused run changed the manifest written before")
	}
}
