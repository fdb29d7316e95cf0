package app_test

import "keypool/internal/waittest"

// The waiting helpers are shared with the other packages' tests.
var (
	waitFor      = waittest.Until
	goroutinesIn = waittest.GoroutinesIn
)
