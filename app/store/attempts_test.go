package store

import (
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"keypool/relay/record"
)

// TestDayCountsEveryAttempt: the daily totals count each attempt on the
// account it went to, failed-over ones included, with errors by kind; a
// request that reached no account is in no account's totals, and a blank
// row left by an older version is not shown.
func TestDayCountsEveryAttempt(t *testing.T) {
	verifyNoLeaks(t)
	s := open(t, dbPath(t), Options{})
	startRun(t, s)
	const model = "claude-sonnet-4-5"

	refused := record.FailoverStep{Account: "work", Reason: "connection refused", Kind: record.ErrorConnection}
	failed := record.FailoverStep{Account: "spare", Status: 503, Reason: "503 upstream overloaded or failing", Kind: record.ErrorServer}
	records := []struct {
		name   string
		mod    func(r *record.UsageRecord)
		status int
		acct   string
	}{
		{"work_refused_spare_answered", func(r *record.UsageRecord) { r.Failover = []record.FailoverStep{refused} }, 200, "spare"},
		{"spare_failed_then_work_refused_last", func(r *record.UsageRecord) {
			r.Failover = []record.FailoverStep{failed}
			r.ErrorKind, r.Error = record.ErrorConnection, "account spare: 503 …; connection refused by account work; …"
		}, 502, "work"},
		{"reached_no_account", func(r *record.UsageRecord) { r.Error = "no enabled account can serve this request" }, 503, ""},
		{"spare_429_passed_through", nil, 429, "spare"},
		{"spare_went_idle_mid_answer", func(r *record.UsageRecord) {
			r.ErrorKind, r.Error = record.ErrorTimeout, "upstream idle mid-answer: no data for 5m0s"
		}, 200, "spare"},
		{"client_left", nil, 499, "work"},
	}
	for i, tt := range records {
		r := rec(t0.Add(time.Duration(i)*time.Second), tt.acct, model, tt.status, 0, 0)
		if tt.mod != nil {
			tt.mod(&r)
		}
		s.Record(r)
	}
	flush(t, s)
	// What a version that kept requests with no account under a blank one
	// left behind.
	err := s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDaily).Put([]byte(dailyKey(t0, "", model)), []byte(`{"day":"2025-03-10","account":"","model":"`+model+`","requests":4,"errors":4}`))
	})
	if err != nil {
		t.Fatal(err)
	}

	got, err := s.Day(t0)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]record.Counts{
		"spare": {Requests: 4, Errors: 3, RateLimited: 1, Server: 1, Timeout: 1},
		"work":  {Requests: 3, Errors: 2, Connection: 2},
	}
	if len(got) != len(want) {
		t.Fatalf("Day: %d rows %+v, want %d (no blank account)", len(got), got, len(want))
	}
	for _, d := range got {
		if d.Counts != want[d.Account] {
			t.Errorf("%q: counts %+v, want %+v", d.Account, d.Counts, want[d.Account])
		}
	}
}
