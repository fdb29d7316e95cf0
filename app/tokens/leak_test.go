package tokens

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine a Manager starts (a refresh's flight, the refresher) has
// ended when the tests have.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
