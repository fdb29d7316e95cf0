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
	if err := run([]string{"-key", filepath.Join(dir, "missing.key"), "-version", "1.4.0", "-base", "x", "linux/amd64=" + archive}, io.Discard); err == nil {
		t.Error("a missing key file: nil error")
	}
}
