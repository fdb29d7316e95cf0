package store

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/tidwall/gjson"
	bolt "go.etcd.io/bbolt"

	"keypool/relay/record"
)

// dayLayout formats the day part of a daily key and DayTotal.Day.
const dayLayout = "2006-01-02"

// DayTotal sums one day's attempts on one account for one model. The day is
// the local date of each record's time, in that time's own location. A
// request that failed over counts on every account it tried; one that
// reached no account counts nowhere here (its record says why).
type DayTotal struct {
	Day     string `json:"day"` // YYYY-MM-DD
	Account string `json:"account"`
	Model   string `json:"model"`
	record.Counts
	Usage record.Usage `json:"usage"`
	// TTFBTotal and DurationTotal sum over the requests this account
	// finished (answered, or failed last), not over failed-over attempts.
	TTFBTotal     time.Duration `json:"ttfb_total_ns"`
	DurationTotal time.Duration `json:"duration_total_ns"`
	CostUSD       float64       `json:"cost_usd,omitempty"` // priced requests only
}

// add counts a record's last attempt, on the record's account.
func (d *DayTotal) add(r *record.UsageRecord) {
	d.Count(r.Outcome())
	d.Usage = d.Usage.Add(r.Usage)
	d.TTFBTotal += r.TTFB
	d.DurationTotal += r.Duration
	d.CostUSD += r.CostUSD
}

func (d *DayTotal) merge(o DayTotal) {
	d.Counts = d.Counts.Plus(o.Counts)
	d.Usage = d.Usage.Add(o.Usage)
	d.TTFBTotal += o.TTFBTotal
	d.DurationTotal += o.DurationTotal
	d.CostUSD += o.CostUSD
}

// dailyKey is "YYYY-MM-DD\x00account\x00model".
func dailyKey(t time.Time, account, model string) string {
	return t.Format(dayLayout) + "\x00" + account + "\x00" + model
}

// Day returns every account's and model's totals for the local date of day (in
// day's location), sorted by account, then model.
func (s *Store) Day(day time.Time) ([]DayTotal, error) {
	prefix := []byte(day.Format(dayLayout) + "\x00")
	var out []DayTotal
	err := s.scan(bucketDaily, func(c *bolt.Cursor) error {
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			var t DayTotal
			if err := json.Unmarshal(v, &t); err != nil {
				return fmt.Errorf("decode daily total %q: %w", k, err)
			}
			if t.Account == "" {
				// Written by a version that summed requests that reached
				// no account under a blank one; they are no account's.
				continue
			}
			out = append(out, t)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b DayTotal) int {
		return cmp.Or(cmp.Compare(a.Account, b.Account), cmp.Compare(a.Model, b.Model))
	})
	return out, nil
}

// Records returns the usage records with since <= Time < until, oldest first,
// at most limit of them. A zero since or until leaves that end open; limit <= 0
// means no limit.
func (s *Store) Records(since, until time.Time, limit int) ([]record.UsageRecord, error) {
	var end []byte
	if !until.IsZero() {
		end = timeKey(until)
	}
	var out []record.UsageRecord
	err := s.scan(bucketUsage, func(c *bolt.Cursor) error {
		var k, v []byte
		if since.IsZero() {
			k, v = c.First()
		} else {
			k, v = c.Seek(timeKey(since))
		}
		for ; k != nil; k, v = c.Next() {
			if limit > 0 && len(out) >= limit {
				break
			}
			if end != nil && bytes.Compare(k[:min(len(k), 8)], end) >= 0 {
				break
			}
			r, err := decodeRecord(k, v)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Hour is one hour's traffic: its requests and what they cost.
type Hour struct {
	Requests int64
	CostUSD  float64 // priced requests only
}

// Hourly totals n hours from start, one Hour per hour by each record's
// time. It decodes no record: the count comes from the keys and the cost is
// picked out of each value, cheap enough with a busy day in the file.
func (s *Store) Hourly(start time.Time, n int) ([]Hour, error) {
	hours := make([]Hour, n)
	from := uint64(start.UnixNano())
	err := s.scan(bucketUsage, func(c *bolt.Cursor) error {
		for k, v := c.Seek(timeKey(start)); len(k) >= 8; k, v = c.Next() {
			h := (binary.BigEndian.Uint64(k[:8]) - from) / uint64(time.Hour)
			if h >= uint64(n) {
				break
			}
			hours[h].Requests++
			hours[h].CostUSD += gjson.GetBytes(v, "cost_usd").Float()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return hours, nil
}

// Latest returns the n newest usage records, newest first.
func (s *Store) Latest(n int) ([]record.UsageRecord, error) {
	var out []record.UsageRecord
	err := s.scan(bucketUsage, func(c *bolt.Cursor) error {
		for k, v := c.Last(); k != nil && len(out) < n; k, v = c.Prev() {
			r, err := decodeRecord(k, v)
			if err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func decodeRecord(k, v []byte) (record.UsageRecord, error) {
	var r record.UsageRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return r, fmt.Errorf("decode usage record %x: %w", k, err)
	}
	return r, nil
}

// scan runs fn on a cursor over bucket in a read transaction; a missing
// bucket is empty. Errors name the file.
func (s *Store) scan(bucket []byte, fn func(c *bolt.Cursor) error) error {
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil
		}
		return fn(b.Cursor())
	})
	if err != nil {
		return fmt.Errorf("read %s: %w", s.path, err)
	}
	return nil
}

// timeKey is the 8-byte big-endian prefix of a usage key.
func timeKey(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(t.UnixNano()))
}
