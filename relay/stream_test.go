package relay_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"keypool/internal/waittest"
	"keypool/relay"
	"keypool/relay/relaytest"
)

func streamReq(t *testing.T, h *harness, ctx context.Context) *http.Response {
	t.Helper()
	return postRaw(t, h, ctx, "/v1/messages?beta=true",
		`{"model":"claude-sonnet-4-5","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"hi"}]}`)
}

// postRaw posts body to path with the local key and returns the answer
// unread.
func postRaw(t *testing.T, h *harness, ctx context.Context, path, body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "POST", h.http.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer local-key")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// What the client reads is byte for byte what the upstream wrote, and usage
// is read from the stream on the way.
func TestStreamByteForByte(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 1}}, nil)
	evs := relaytest.Stream("claude-sonnet-4-5", relaytest.Pieces(200), 12, 345, 7, 1000)
	// Mixed line endings and a comment: the relay must not normalise them.
	evs = append(evs[:3], append([]string{": keep-alive comment", "event: ping\r\ndata: {\"type\":\"ping\"}\r"}, evs[3:]...)...)
	h.ups["a"].Push(relaytest.Reply{Events: evs, Gap: 0})
	resp := streamReq(t, h, context.Background())
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if want := relaytest.Joined(evs); string(got) != want {
		t.Fatalf("stream altered: got %d bytes, want %d", len(got), len(want))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("content-type = %q", ct)
	}
	recs := h.sink.all()
	if len(recs) != 1 {
		t.Fatalf("records = %d", len(recs))
	}
	want := relay.Usage{InputTokens: 12, OutputTokens: 345, CacheWriteTokens: 7, CacheReadTokens: 1000, RawInputTokens: 12}
	if r := recs[0]; r.Usage != want || !r.Stream || r.Model != "claude-sonnet-4-5" || r.Status != 200 || r.ClientID != "key-"+keyHash("local-key") {
		t.Errorf("record = %+v, want usage %+v", r, want)
	}
	// The upstream got the query string and the account's key, not the client's.
	up := h.ups["a"].Requests()[0]
	if up.Query != "beta=true" || up.Header.Get("X-Api-Key") != "sk-ant-test-a" || up.Header.Get("Authorization") != "" {
		t.Errorf("upstream saw query %q x-api-key %q authorization %q", up.Query, up.Header.Get("X-Api-Key"), up.Header.Get("Authorization"))
	}
}

// Each event reaches the client before the upstream sends the next one: the
// relay neither buffers nor waits for more bytes. Only the opening
// (message_start) waits for the first content event, so that a stream that
// fails before it can still move to another account.
func TestStreamFlushesEachEvent(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 1}}, nil)
	evs := relaytest.Stream("claude-sonnet-4-5", relaytest.Pieces(20), 1, 1, 0, 0)
	step := relaytest.StallAfterFirstWord() // content_block_start follows message_start at once
	h.ups["a"].Push(relaytest.Reply{Events: evs, Step: step})
	resp := streamReq(t, h, context.Background())
	defer resp.Body.Close()
	readStepped(t, bufio.NewReader(resp.Body), evs, step, 2)
}

// readStepped reads evs one by one, releasing the upstream's next event
// (step) only once the client has the current one; the first opening
// events are already on their way.
func readStepped(t *testing.T, br *bufio.Reader, evs []string, step chan<- struct{}, opening int) {
	t.Helper()
	for i, ev := range evs {
		if got := readEvent(t, br); got != ev {
			t.Fatalf("event %d = %q, want %q", i, got, ev)
		}
		if i < len(evs)-1 && i+1 >= opening {
			select {
			case step <- struct{}{}:
			case <-time.After(5 * time.Second):
				t.Fatalf("upstream not waiting for event %d", i+1)
			}
		}
	}
}

// readEvent reads one event (up to its blank line) without the blank line.
func readEvent(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	done := make(chan string, 1)
	go func() {
		var sb strings.Builder
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				done <- sb.String()
				return
			}
			if line == "\n" {
				done <- strings.TrimSuffix(sb.String(), "\n")
				return
			}
			sb.WriteString(line)
		}
	}()
	select {
	case ev := <-done:
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("event did not arrive: the relay is holding it")
		return ""
	}
}

// A client that goes away mid-stream cancels the upstream request, and the
// account is not cooled for it.
func TestClientDisconnectCancelsUpstream(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 1}}, nil)
	evs := relaytest.Stream("claude-sonnet-4-5", relaytest.Pieces(1000), 1, 1, 0, 0)
	h.ups["a"].Push(relaytest.Reply{Events: evs, Gap: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	resp := streamReq(t, h, ctx)
	br := bufio.NewReader(resp.Body)
	readEvent(t, br)
	cancel()
	resp.Body.Close()
	select {
	case <-h.ups["a"].Cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("upstream request still running after the client left")
	}
	if st := h.account("a"); st.State != "ready" {
		t.Errorf("account state = %s, want ready", st.State)
	}
}

// A stream that lasts many idle timeouts lives as long as events keep
// coming: the relay has no total timeout. (Stands in for a 12-minute stream
// with a 300 ms idle timeout.)
func TestLongStreamOutlivesIdleTimeout(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 1}}, func(c *relay.Config) { c.IdleTimeout = 300 * time.Millisecond })
	evs := relaytest.Stream("claude-sonnet-4-5", relaytest.Pieces(40), 1, 40, 0, 0)
	h.ups["a"].Push(relaytest.Reply{Events: evs, Gap: 50 * time.Millisecond}) // ~2.3 s in all
	resp := streamReq(t, h, context.Background())
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(got) != relaytest.Joined(evs) {
		t.Fatalf("stream broken: err %v, %d bytes", err, len(got))
	}
}

// An upstream that stalls mid-stream past the idle timeout ends the client's
// stream with an error event and then as broken (not as a clean end), with
// the usage so far recorded.
func TestStalledStreamIsAbortedNotTruncated(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 1}}, func(c *relay.Config) { c.IdleTimeout = 200 * time.Millisecond })
	evs := relaytest.Stream("claude-sonnet-4-5", relaytest.Pieces(3), 11, 3, 0, 0)
	h.ups["a"].Push(relaytest.Reply{Events: evs, Step: relaytest.StallAfterFirstWord()})
	resp := streamReq(t, h, context.Background())
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	splitBroken(t, evs, got, err, "event: error\n")
	recs := waitRecords(t, h.sink, 1)
	if recs[0].Usage.InputTokens != 11 || !strings.Contains(recs[0].Error, "idle") {
		t.Errorf("record = %+v", recs[0])
	}
}

func waitRecords(t *testing.T, s *sink, n int) []relay.UsageRecord {
	t.Helper()
	var r []relay.UsageRecord
	if !waittest.Until(5*time.Second, func() bool { r = s.all(); return len(r) >= n }) {
		t.Fatalf("want %d records, have %d", n, len(r))
	}
	return r
}

// The relay asks for uncompressed answers; an upstream that compresses
// anyway still reaches the client intact and event by event.
func TestCompressedUpstream(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 1}}, nil)
	evs := relaytest.Stream("claude-sonnet-4-5", relaytest.Pieces(5), 1, 5, 0, 0)
	step := make(chan struct{})
	h.ups["a"].Push(relaytest.Reply{Events: evs, Step: step, Gzip: true})
	resp := streamReq(t, h, context.Background()) // Go's client asks for gzip and decodes it
	defer resp.Body.Close()
	readStepped(t, bufio.NewReader(resp.Body), evs, step, 0)
	if ae := h.ups["a"].Requests()[0].Header.Get("Accept-Encoding"); ae != "identity" {
		t.Errorf("upstream asked for %q, want identity", ae)
	}
}

// A client that leaves before the upstream answers is recorded as such and
// does not move its session.
func TestClientLeavesBeforeHeaders(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 1}}, nil)
	h.ups["a"].Push(relaytest.Reply{Hang: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", h.http.URL+"/v1/messages", strings.NewReader(simple))
	req.Header.Set("x-api-key", "local-key")
	req.Header.Set("X-Claude-Code-Session-Id", "c0ffee00-0000-0000-0000-000000000000")
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("want the client's own timeout")
	}
	r := waitRecords(t, h.sink, 1)[0]
	if r.Status != 499 || r.Error == "" {
		t.Errorf("record = %+v, want status 499", r)
	}
	if _, ok := h.binds.Get("cc:c0ffee00-0000-0000-0000-000000000000"); ok {
		t.Error("an unanswered request bound its session")
	}
	if st := h.account("a").State; st != "ready" {
		t.Errorf("account state = %s", st)
	}
}

// A client that stops reading is dropped once a write to it has waited the
// idle timeout; the account is not blamed for it: no cooldown, the upstream
// request is cancelled, and the record says the client went away.
func TestStalledClientDoesNotPunishAccount(t *testing.T) {
	h := newHarness(t, []acct{{id: "a", prio: 1}}, func(c *relay.Config) { c.IdleTimeout = 300 * time.Millisecond })
	pieces := make([]string, 20000) // ~20 MB: more than the sockets buffer
	for i := range pieces {
		pieces[i] = strings.Repeat("x", 1000)
	}
	h.ups["a"].Push(relaytest.Reply{Events: relaytest.Stream("claude-sonnet-4-5", pieces, 1, 1, 0, 0)})
	resp := streamReq(t, h, context.Background())
	defer resp.Body.Close()
	readEvent(t, bufio.NewReader(resp.Body))
	select { // stop reading
	case <-h.ups["a"].Cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("upstream request still running after the client stopped reading")
	}
	recs := waitRecords(t, h.sink, 1)
	if !strings.Contains(recs[0].Error, "client") {
		t.Errorf("record error = %q, want the client blamed", recs[0].Error)
	}
	if st := h.account("a"); st.State != "ready" || len(st.Cooldowns) != 0 {
		t.Errorf("account after a stalled client: %s %+v", st.State, st.Cooldowns)
	}
}
