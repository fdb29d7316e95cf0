package relay_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine the relay starts (a request's, a stream's, a usage
// sink's, a fake upstream's) has ended when the tests have. Not a leak: the
// view worker that go.opencensus.io starts at init, for the process,
// imported by the Gemini SDK (google.golang.org/genai) the tests check
// the relay with.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("go.opencensus.io/stats/view.(*worker).start"))
}
