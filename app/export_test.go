package app

import "time"

// SetKeychainRetry shortens the keychain wait's retry interval for a test.
func SetKeychainRetry(d time.Duration) (restore func()) {
	old := keychainRetry
	keychainRetry = d
	return func() { keychainRetry = old }
}
