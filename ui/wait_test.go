package ui

import "keypool/internal/waittest"

// waitFor is shared with the other packages' tests.
var waitFor = waittest.Until
