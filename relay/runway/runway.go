// Package runway forecasts when an account's plan windows and budgets run
// out at the recent pace. It learns from the utilisation a provider reports
// with each answer (and the spend Keypool records against a budget), and
// from what each answer cost, how much one percent of a window is worth per
// model family. It reads time only from its arguments, so every forecast can
// be replayed in a test.
package runway

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"keypool/relay/pool"
)

const (
	// minSpan is the least history a pace is read from: two answers a
	// second apart say nothing about the next hour.
	minSpan = 5 * time.Minute
	// maxSamples bounds one window's history; older readings are thinned.
	maxSamples = 64
	// percentWeight is how much a new reading moves the learned worth of
	// one percent (an exponential average).
	percentWeight = 0.3
)

// Window budgets are named like plan windows, so one history serves both.
const (
	WindowDailyBudget   = "budget_day"
	WindowMonthlyBudget = "budget_month"
)

// State says what a forecast knows.
type State string

const (
	// Unknown: too little history yet (or none since the window reset).
	Unknown State = "unknown"
	// Lasts: at this pace the window resets before it runs out.
	Lasts State = "lasts"
	// RunsOut: at this pace the window is used up at RunsOut, before its
	// reset.
	RunsOut State = "runs_out"
	// Out: the window is used up now; it returns at ResetsAt.
	Out State = "out"
)

// Forecast is one window's (or an account's, or the pool's) outlook.
type Forecast struct {
	State State `json:"state"`
	// RunsOut is when the window is used up (RunsOut), or was (Out).
	RunsOut time.Time `json:"runs_out,omitzero"`
	// ResetsAt is when the window that decides the forecast resets.
	ResetsAt time.Time `json:"resets_at,omitzero"`
	// Window names the window that decides it ("5h", "7d", "budget_day").
	Window string `json:"window,omitempty"`
}

// Window is one plan window or budget with its history's outlook.
type Window struct {
	pool.Quota
	Family   pool.Family `json:"family,omitempty"` // absent: every model
	Forecast Forecast    `json:"forecast"`
	// PerHour is the pace: utilisation (0..1) gained per hour, when known.
	PerHour float64 `json:"per_hour,omitempty"`
	// PercentUSD is what one percent of the window was worth at API prices
	// per model family, as learned from recorded answers.
	PercentUSD map[pool.Family]float64 `json:"percent_usd,omitempty"`
}

type sample struct {
	at   time.Time
	util float64
}

// series is one window's history in its current period.
type series struct {
	last    pool.Quota
	samples []sample
	// spent is the cost recorded, by family, since the use stood at from:
	// it is learned from once the use has grown by half a percent.
	spent map[pool.Family]float64
	from  float64
	worth map[pool.Family]float64
}

// Tracker keeps one account's window histories. It is safe for concurrent
// use; the zero value is ready.
type Tracker struct {
	mu     sync.Mutex
	series map[string]*series
	order  []string // windows in the order first seen
	// seen is len(series) > 0, read without the lock: the picker asks it
	// of every candidate on every request.
	seen atomic.Bool
}

// Observe records the windows an answer (or a spend) reports at now.
func (t *Tracker) Observe(now time.Time, qs []pool.Quota) {
	if len(qs) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.series == nil {
		t.series = make(map[string]*series, len(qs))
	}
	for _, q := range qs {
		s := t.series[q.Window]
		if s == nil {
			s = &series{}
			t.series[q.Window] = s
			t.order = append(t.order, q.Window)
			t.seen.Store(true)
		}
		s.observe(now, q)
	}
}

// Spent counts an answer's cost (USD at API prices) for model family f
// against every window, to learn what one percent is worth.
func (t *Tracker) Spent(f pool.Family, usd float64) {
	if usd <= 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.series {
		if s.spent == nil {
			s.spent = make(map[pool.Family]float64, 2)
		}
		s.spent[f] += usd
	}
}

// Forget drops every window's history: the user said the account may
// serve again, so what it last reported no longer stands.
func (t *Tracker) Forget() {
	t.mu.Lock()
	t.series, t.order = nil, nil
	t.seen.Store(false)
	t.mu.Unlock()
}

// Has reports whether any window has been seen.
func (t *Tracker) Has() bool { return t.seen.Load() }

// Windows returns each window's latest reading and outlook at now, in the
// order they were first seen.
func (t *Tracker) Windows(now time.Time) []Window {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]Window, 0, len(t.order))
	for _, name := range t.order {
		s := t.series[name]
		f, pace := s.forecast(now)
		w := Window{Quota: s.last, Family: FamilyOf(name), Forecast: f, PerHour: pace * float64(time.Hour)}
		if len(s.worth) > 0 {
			w.PercentUSD = make(map[pool.Family]float64, len(s.worth))
			for k, v := range s.worth {
				w.PercentUSD[k] = v
			}
		}
		out = append(out, w)
	}
	return out
}

// For is the outlook for family f at now: the first wall among the windows
// that cover f. Unknown when no window covers it or one that could decide it
// has too little history.
func (t *Tracker) For(now time.Time, f pool.Family) Forecast {
	t.mu.Lock()
	defer t.mu.Unlock()
	var fs []Forecast
	for _, name := range t.order {
		if c := FamilyOf(name); c == pool.FamilyAll || c == f {
			fc, _ := t.series[name].forecast(now)
			fs = append(fs, fc)
		}
	}
	return First(fs)
}

// First combines the outlooks of windows that must all have room: out if
// any is out (until the last of those returns), else the earliest run-out,
// else unknown if any is unknown, else lasts.
func First(fs []Forecast) Forecast {
	var out, soonest Forecast
	unknown, lasts := false, false
	for _, f := range fs {
		switch f.State {
		case Out:
			if out.State == "" || f.ResetsAt.After(out.ResetsAt) {
				out = f
			}
		case RunsOut:
			if soonest.State == "" || f.RunsOut.Before(soonest.RunsOut) {
				soonest = f
			}
		case Unknown:
			unknown = true
		case Lasts:
			lasts = true
		}
	}
	switch {
	case out.State != "":
		return out
	case soonest.State != "":
		return soonest
	case unknown || !lasts:
		return Forecast{State: Unknown}
	}
	return Forecast{State: Lasts}
}

// FamilyOf is the model family a window covers: a per-model weekly window
// ("7d_opus") its family, every other window the whole account.
func FamilyOf(window string) pool.Family {
	if f, ok := strings.CutPrefix(window, "7d_"); ok && (f == "opus" || f == "sonnet") {
		return pool.Family(f)
	}
	return pool.FamilyAll
}

func (s *series) observe(now time.Time, q pool.Quota) {
	n := len(s.samples)
	// A new period: the reset moved on, or the use fell back.
	if n > 0 && (movedOn(s.last.ResetsAt, q.ResetsAt) || q.Utilization < s.samples[n-1].util-0.02) {
		s.samples, n = s.samples[:0], 0
	}
	switch d := q.Utilization - s.from; {
	case n == 0:
		s.spent, s.from = nil, q.Utilization
	case d >= 0.005:
		s.learn(d)
		s.from = q.Utilization
	}
	s.last = q
	if n := len(s.samples); n > 0 && !now.After(s.samples[n-1].at) {
		s.samples[n-1].util = max(s.samples[n-1].util, q.Utilization)
		return
	}
	if len(s.samples) == maxSamples {
		// Keep the oldest (the anchor for a long look back) and drop every
		// second one after it.
		kept := s.samples[:1]
		for i := 2; i < len(s.samples); i += 2 {
			kept = append(kept, s.samples[i])
		}
		s.samples = kept
	}
	s.samples = append(s.samples, sample{at: now, util: q.Utilization})
}

// learn turns the cost recorded while the use grew by delta into the worth
// of one percent, when one family spent (nearly) all of it.
func (s *series) learn(delta float64) {
	var total, top float64
	var fam pool.Family
	for f, usd := range s.spent {
		total += usd
		if usd > top {
			top, fam = usd, f
		}
	}
	s.spent = nil
	if total <= 0 || top < 0.9*total {
		return
	}
	per := total / (delta * 100)
	if s.worth == nil {
		s.worth = make(map[pool.Family]float64, 2)
	}
	if old, ok := s.worth[fam]; ok {
		per = old + percentWeight*(per-old)
	}
	s.worth[fam] = per
}

// movedOn reports whether a window's reset time changed to a later period
// (providers round resets, so a minute's difference is the same period).
func movedOn(old, cur time.Time) bool {
	return !old.IsZero() && cur.Sub(old) > time.Minute
}

// forecast is the window's outlook at now and its pace (utilisation per
// nanosecond; 0 when unknown).
func (s *series) forecast(now time.Time) (Forecast, float64) {
	q := s.last
	f := Forecast{Window: q.Window, ResetsAt: q.ResetsAt}
	if !q.ResetsAt.IsZero() && !q.ResetsAt.After(now) {
		// Reset since the last reading: nothing is known of the new period.
		f.State = Unknown
		return f, 0
	}
	if q.Utilization >= 1 || strings.EqualFold(q.Status, "rejected") {
		f.State = Out
		if n := len(s.samples); n > 0 {
			f.RunsOut = s.samples[n-1].at
		}
		return f, 0
	}
	last := s.samples[len(s.samples)-1]
	back := now.Add(-lookBack(q.Window))
	if !last.at.After(back) {
		// Nothing read for a whole look-back: at this pace nothing is used.
		f.State = Lasts
		return f, 0
	}
	// Readings over less than minSpan say nothing of the next hour.
	if last.at.Sub(s.samples[0].at) < minSpan {
		f.State = Unknown
		return f, 0
	}
	anchor := s.samples[0]
	for _, x := range s.samples[1:] {
		if x.at.After(back) {
			break
		}
		anchor = x
	}
	pace := (last.util - anchor.util) / float64(now.Sub(anchor.at))
	if pace <= 0 {
		f.State = Lasts
		return f, 0
	}
	left := time.Duration((1 - last.util) / pace)
	at := now.Add(left)
	if !q.ResetsAt.IsZero() && !at.Before(q.ResetsAt) {
		f.State = Lasts
		return f, pace
	}
	f.State, f.RunsOut = RunsOut, at
	return f, pace
}

// lookBack is how far back a window's pace is read: a fifth of its length,
// between half an hour and six hours.
func lookBack(window string) time.Duration {
	return min(max(Length(window)/5, 30*time.Minute), 6*time.Hour)
}

// Length is a window's length from its name ("5h", "7d_opus",
// "budget_day"); five hours when the name does not say.
func Length(window string) time.Duration {
	switch window {
	case WindowDailyBudget:
		return 24 * time.Hour
	case WindowMonthlyBudget:
		return 30 * 24 * time.Hour
	case "secondary":
		return 7 * 24 * time.Hour
	}
	head, _, _ := strings.Cut(window, "_")
	if len(head) >= 2 {
		n, err := strconv.Atoi(head[:len(head)-1])
		if err == nil && n > 0 {
			switch head[len(head)-1] {
			case 'h':
				return time.Duration(n) * time.Hour
			case 'd':
				return time.Duration(n) * 24 * time.Hour
			}
		}
	}
	return 5 * time.Hour
}

// Text is the outlook in words for people, times in loc: "≈3 h 10 min at
// this pace; resets 14:05", "used up; back Fri 12:55".
func (f Forecast) Text(now time.Time, loc *time.Location) string {
	clock := func(t time.Time) string { return Clock(t, now, loc) }
	switch f.State {
	case Out:
		if f.ResetsAt.IsZero() {
			return "used up"
		}
		return "used up; back " + clock(f.ResetsAt)
	case RunsOut:
		s := "≈" + Duration(f.RunsOut.Sub(now)) + " at this pace"
		if !f.ResetsAt.IsZero() {
			s += "; resets " + clock(f.ResetsAt)
		}
		return s
	case Lasts:
		return "lasts at this pace"
	}
	return "no forecast yet"
}

// Duration is d in hours and minutes for people: "3 h 10 min", "45 min",
// "2 d 4 h".
func Duration(d time.Duration) string {
	d = d.Round(time.Minute)
	switch {
	case d < time.Minute:
		return "<1 min"
	case d < time.Hour:
		return fmt.Sprintf("%d min", d/time.Minute)
	case d < 24*time.Hour:
		h, m := d/time.Hour, (d%time.Hour)/time.Minute
		if m == 0 {
			return fmt.Sprintf("%d h", h)
		}
		return fmt.Sprintf("%d h %d min", h, m)
	}
	days, h := d/(24*time.Hour), (d%(24*time.Hour))/time.Hour
	if h == 0 {
		return fmt.Sprintf("%d d", days)
	}
	return fmt.Sprintf("%d d %d h", days, h)
}

// Clock is a time of day for people in loc: "14:05" today, "Fri 14:05"
// another day.
func Clock(t, now time.Time, loc *time.Location) string {
	t, now = t.In(loc), now.In(loc)
	if y, m, d := t.Date(); y == now.Year() && m == now.Month() && d == now.Day() {
		return t.Format("15:04")
	}
	return t.Format("Mon 15:04")
}
