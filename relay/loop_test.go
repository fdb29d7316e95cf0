package relay_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"keypool/relay"
	"keypool/relay/relaytest"
)

// slowKeys hands out keys as keys does, and each hand-out moves the clock
// on by step: every attempt costs that much time.
type slowKeys struct {
	clock *clock
	step  time.Duration
}

func (k slowKeys) Credential(ctx context.Context, id string) (relay.Credential, error) {
	k.clock.Add(k.step)
	return keys{}.Credential(ctx, id)
}

// failingAccounts is n accounts, best first, named a0, a1, ….
func failingAccounts(n int) []acct {
	var out []acct
	for i := range n {
		out = append(out, acct{id: fmt.Sprintf("a%d", i), prio: 100 - i})
	}
	return out
}

func overloaded() relaytest.Reply {
	return relaytest.Reply{Status: 529, Body: relaytest.Error("overloaded_error", "Overloaded")}
}

// The account loop stops starting attempts once the failover budget (twice
// the header timeout) is spent, however many accounts are left: here each
// attempt takes 45s of a 2m budget, so three of ten accounts are tried.
func TestFailoverStopsWhenItsTimeIsSpent(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	h := newHarness(t, failingAccounts(10), func(c *relay.Config) {
		c.Now = clk.Now
		c.Credentials = slowKeys{clock: clk, step: 45 * time.Second}
		c.HeaderTimeout = time.Minute
	})
	for _, u := range h.ups {
		u.Push(overloaded())
	}
	resp, got := h.post(simple, nil)
	if resp.StatusCode != 529 {
		t.Fatalf("status = %d, want 529; body %s", resp.StatusCode, got)
	}
	if want := "no account answered within 2m0s"; !strings.Contains(got, want) {
		t.Errorf("client's error %s\n lacks %q", got, want)
	}
	for id, u := range h.ups {
		want := 0
		if id == "a0" || id == "a1" || id == "a2" {
			want = 1
		}
		if n := u.Count(); n != want {
			t.Errorf("account %s called %d times, want %d", id, n, want)
		}
	}
	recs := h.sink.all()
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	rec := recs[0]
	if rec.Account != "a2" || len(rec.Failover) != 2 || rec.Status != 529 || rec.ErrorKind != relay.ErrorServer {
		t.Errorf("record: account %q, %d failover steps, status %d, kind %q; want a2, 2, 529, %q",
			rec.Account, len(rec.Failover), rec.Status, rec.ErrorKind, relay.ErrorServer)
	}
}

// With time to spare, every failing account is tried exactly once, more of
// them than the loop keeps on its stack included.
func TestFailoverTriesEachAccountOnce(t *testing.T) {
	h := newHarness(t, failingAccounts(20), nil)
	for _, u := range h.ups {
		u.Push(overloaded())
	}
	resp, got := h.post(simple, nil)
	if resp.StatusCode != 529 {
		t.Fatalf("status = %d, want 529; body %s", resp.StatusCode, got)
	}
	for id, u := range h.ups {
		if n := u.Count(); n != 1 {
			t.Errorf("account %s called %d times, want 1", id, n)
		}
	}
	recs := h.sink.all()
	if len(recs) != 1 || recs[0].Account != "a19" || len(recs[0].Failover) != 19 {
		t.Fatalf("records %+v, want one on a19 after 19 failover steps", recs)
	}
}
