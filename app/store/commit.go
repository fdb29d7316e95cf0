package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"keypool/app/store/journal"
	"keypool/relay/record"
)

// write commits batch in one db.Update. Usage records already in the file
// (replayed from the journal after a commit that did land) are skipped, and
// per-day totals are summed from the rest and added to the stored ones in the
// same transaction, so a record and its share of the totals land together.
func (w *writer) write(batch []op) error {
	has := false
	for _, o := range batch {
		if !o.isFlush() {
			has = true
			break
		}
	}
	if !has {
		return nil
	}
	return w.db.Update(func(tx *bolt.Tx) error {
		ub := tx.Bucket(bucketUsage)
		bb := tx.Bucket(bucketBindings)
		var daily map[string]*DayTotal
		var maxSeq uint64
		for i := range batch {
			o := &batch[i]
			switch o.Kind {
			case journal.Usage:
				if ub.Get(o.Key[:]) != nil {
					continue
				}
				if err := ub.Put(o.Key[:], o.Value); err != nil {
					return fmt.Errorf("put usage record: %w", err)
				}
				maxSeq = max(maxSeq, binary.BigEndian.Uint64(o.Key[8:]))
				if daily == nil {
					daily = make(map[string]*DayTotal)
				}
				// Every attempt counts on the account it went to: the
				// accounts left on the way, then the last one.
				for _, step := range o.rec.Failover {
					if step.Account != "" {
						dayTotal(daily, &o.rec, step.Account).Count(step.Outcome())
					}
				}
				if o.rec.Account != "" {
					dayTotal(daily, &o.rec, o.rec.Account).add(&o.rec)
				}
			case journal.BindingPut, journal.BindingDrop:
				if o.Session == "" || len(o.Session) > bolt.MaxKeySize {
					w.log.Warn("skip binding with unusable session key", "path", w.path, "session_len", len(o.Session))
					continue
				}
				var err error
				if o.Kind == journal.BindingPut {
					err = bb.Put([]byte(o.Session), o.Value)
				} else {
					err = bb.Delete([]byte(o.Session))
				}
				if err != nil {
					return fmt.Errorf("write binding: %w", err)
				}
			}
		}
		if maxSeq > ub.Sequence() {
			if err := ub.SetSequence(maxSeq); err != nil {
				return fmt.Errorf("usage sequence: %w", err)
			}
		}

		dayKeys := make([]string, 0, len(daily))
		for k := range daily {
			dayKeys = append(dayKeys, k)
		}
		slices.Sort(dayKeys)
		days := tx.Bucket(bucketDaily)
		for _, k := range dayKeys {
			total := *daily[k]
			if v := days.Get([]byte(k)); v != nil {
				var prev DayTotal
				if err := json.Unmarshal(v, &prev); err != nil {
					return fmt.Errorf("decode daily total %q: %w", k, err)
				}
				prev.merge(total)
				total = prev
			}
			v, err := json.Marshal(total)
			if err != nil {
				return fmt.Errorf("encode daily total %q: %w", k, err)
			}
			if err := days.Put([]byte(k), v); err != nil {
				return fmt.Errorf("put daily total %q: %w", k, err)
			}
		}
		return nil
	})
}

// dayTotal is the running total of r's day and model for account, made
// on first use.
func dayTotal(daily map[string]*DayTotal, r *record.UsageRecord, account string) *DayTotal {
	k := dailyKey(r.Time, account, r.Model)
	t := daily[k]
	if t == nil {
		t = &DayTotal{Day: r.Time.Format(dayLayout), Account: account, Model: r.Model}
		daily[k] = t
	}
	return t
}
