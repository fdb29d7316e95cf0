package update

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
)

// ReleaseKey is the public half of the key Keypool's releases are signed
// with. Its private half is kept outside the repository (make
// release-manifest reads it from a file).
var ReleaseKey = ed25519.PublicKey(mustBase64("QJDbQm7Ro7GZ9H5BbZ05Z8vsst7wz00InG5fnu+iAvA="))

func mustBase64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// ReadPrivateKey reads a release signing key: its 32-byte seed, base64, on
// one line.
func ReadPrivateKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("release key: %w", err)
	}
	seed, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("release key %s: want a base64 ed25519 seed of %d bytes", path, ed25519.SeedSize)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}
