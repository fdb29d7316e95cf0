package app

import "time"

// SetKeychainRetry shortens the keychain wait's retry interval for a test.
func SetKeychainRetry(d time.Duration) (restore func()) {
	old := keychainRetry
	keychainRetry = d
	return func() { keychainRetry = old }
}

// SetUnitDir makes InstallService write its units in dir, user and system
// alike, for a test.
func SetUnitDir(dir string) (restore func()) {
	old := unitDir
	unitDir = dir
	return func() { unitDir = old }
}
