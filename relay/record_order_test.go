package relay_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"keypool/relay"
)

// gatedSink holds each Record until released, so a test can see whether the
// client already has the whole answer while the record is being written.
type gatedSink struct {
	called  chan struct{}
	release chan struct{}
}

func (g *gatedSink) Record(relay.UsageRecord) {
	g.called <- struct{}{}
	<-g.release
}

// The answer must end only after Record returns: that is what lets a usage
// store promise that every request a client saw complete survives a crash.
func TestAnswerEndsAfterRecord(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run(map[bool]string{false: "json", true: "stream"}[stream], func(t *testing.T) {
			g := &gatedSink{called: make(chan struct{}, 1), release: make(chan struct{})}
			h := newHarness(t, []acct{{id: "a", prio: 10}}, func(c *relay.Config) { c.Usage = g })
			body := `{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`
			if stream {
				body = strings.Replace(body, `{"model"`, `{"stream":true,"model"`, 1)
			}
			req, err := http.NewRequest("POST", h.http.URL+"/v1/messages", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("x-api-key", "local-key")
			req.Header.Set("anthropic-version", "2023-06-01")
			done := make(chan error, 1)
			go func() {
				resp, err := http.DefaultClient.Do(req)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				done <- err
			}()

			<-g.called
			select {
			case err := <-done:
				close(g.release)
				t.Fatalf("the client had the whole answer (err %v) while its usage record was still being written", err)
			case <-time.After(300 * time.Millisecond):
			}
			close(g.release)
			if err := <-done; err != nil {
				t.Fatalf("answer: %v", err)
			}
		})
	}
}
