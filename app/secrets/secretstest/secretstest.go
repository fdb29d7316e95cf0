// Package secretstest gives tests the real OS keychain under a throwaway
// service name, or says it is missing (which fails the test under make
// test, where KEYPOOL_REQUIRE_KEYRING=1). It is imported only by tests.
package secretstest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"

	"keypool/app/secrets"
)

// OS returns the OS keychain under a fresh service name, and whether one is
// reachable. Where none is and the keychain is required, the test fails.
func OS(t testing.TB) (secrets.OS, bool) {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	k := secrets.OS{Service: "keypool-test-" + hex.EncodeToString(b)}
	if err := k.Check(); err != nil {
		if os.Getenv("KEYPOOL_REQUIRE_KEYRING") == "1" {
			t.Fatalf("keychain required but unavailable: %v", err)
		}
		t.Logf("no keychain here: %v", err)
		return k, false
	}
	return k, true
}

// Keychain is OS's keychain where one is reachable, else an in-memory one.
func Keychain(t testing.TB) secrets.Keychain {
	t.Helper()
	if k, ok := OS(t); ok {
		return k
	}
	return secrets.NewMemory()
}
