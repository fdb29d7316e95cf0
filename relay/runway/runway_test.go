package runway_test

import (
	"math"
	"testing"
	"time"

	"keypool/relay/pool"
	"keypool/relay/runway"
)

var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// at is t0 plus minutes.
func at(min float64) time.Time { return t0.Add(time.Duration(min * float64(time.Minute))) }

// feed observes window w rising from util by step every 10 minutes, n times
// (the first at t0), each reading resetting at reset.
func feed(tr *runway.Tracker, w string, util, step float64, n int, reset time.Time) {
	for i := range n {
		tr.Observe(at(float64(10*i)), []pool.Quota{{Window: w, Utilization: util + step*float64(i), ResetsAt: reset}})
	}
}

func within(t *testing.T, what string, got, want time.Time, slack time.Duration) {
	t.Helper()
	if d := got.Sub(want); math.Abs(float64(d)) > float64(slack) {
		t.Errorf("%s = %s, want %s ± %s (off by %s)", what, got.Format(time.Kitchen), want.Format(time.Kitchen), slack, d)
	}
}

func TestForecastWindow(t *testing.T) {
	reset := at(240) // four hours after the first reading
	tests := []struct {
		name    string
		feed    func(*runway.Tracker)
		now     time.Time
		want    runway.State
		runsOut time.Time // for RunsOut and Out
	}{
		{name: "no reading", feed: func(*runway.Tracker) {}, now: at(60), want: runway.Unknown},
		{name: "one reading says nothing of the pace",
			feed: func(tr *runway.Tracker) { feed(tr, "5h", 0.2, 0, 1, reset) }, now: at(30), want: runway.Unknown},
		{name: "readings a minute apart are too little history",
			feed: func(tr *runway.Tracker) {
				tr.Observe(at(0), []pool.Quota{{Window: "5h", Utilization: 0.2, ResetsAt: reset}})
				tr.Observe(at(1), []pool.Quota{{Window: "5h", Utilization: 0.3, ResetsAt: reset}})
			}, now: at(10), want: runway.Unknown},
		{name: "one reading, then idle for a whole look-back: nothing used",
			feed: func(tr *runway.Tracker) { feed(tr, "5h", 0.2, 0, 1, reset) }, now: at(61), want: runway.Lasts},
		// 5% every 10 minutes from 20%: 50% at 60 min, 30%/h, so the other
		// half lasts 1 h 40 min: out at 160 min, before the reset at 240.
		{name: "steady pace runs out before the reset",
			feed: func(tr *runway.Tracker) { feed(tr, "5h", 0.2, 0.05, 7, reset) }, now: at(60), want: runway.RunsOut, runsOut: at(160)},
		// 1% every 10 minutes: 6%/h from 26% lasts past the reset.
		{name: "slow pace lasts until the reset",
			feed: func(tr *runway.Tracker) { feed(tr, "5h", 0.2, 0.01, 7, reset) }, now: at(60), want: runway.Lasts},
		// The same burst, then an idle hour: the pace read over the last
		// hour is nothing.
		{name: "an idle look-back lasts",
			feed: func(tr *runway.Tracker) { feed(tr, "5h", 0.2, 0.05, 7, reset) }, now: at(125), want: runway.Lasts},
		{name: "rejected is out until the reset",
			feed: func(tr *runway.Tracker) {
				tr.Observe(at(0), []pool.Quota{{Window: "5h", Utilization: 0.98, ResetsAt: reset, Status: "rejected"}})
			}, now: at(5), want: runway.Out, runsOut: at(0)},
		{name: "full is out",
			feed: func(tr *runway.Tracker) { feed(tr, "5h", 0.9, 0.05, 3, reset) }, now: at(25), want: runway.Out, runsOut: at(20)},
		{name: "a reading from before its reset says nothing of the new period",
			feed: func(tr *runway.Tracker) { feed(tr, "5h", 0.2, 0.05, 7, reset) }, now: at(241), want: runway.Unknown},
		{name: "a new period starts the history again",
			feed: func(tr *runway.Tracker) {
				feed(tr, "5h", 0.2, 0.05, 7, reset)
				tr.Observe(at(70), []pool.Quota{{Window: "5h", Utilization: 0.01, ResetsAt: at(70 + 300)}})
			}, now: at(72), want: runway.Unknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tr runway.Tracker
			tt.feed(&tr)
			got := tr.For(tt.now, "opus")
			if got.State != tt.want {
				t.Fatalf("state = %s, want %s (%+v)", got.State, tt.want, got)
			}
			if !tt.runsOut.IsZero() {
				within(t, "runs out", got.RunsOut, tt.runsOut, 2*time.Minute)
			}
			if tt.want == runway.RunsOut || tt.want == runway.Out {
				if got.Window != "5h" || !got.ResetsAt.Equal(reset) {
					t.Errorf("decided by %s resetting %s, want 5h at %s", got.Window, got.ResetsAt, reset)
				}
			}
		})
	}
}

// A per-model weekly window decides for its family only; the account-wide
// windows decide for every family.
func TestForecastByFamily(t *testing.T) {
	var tr runway.Tracker
	for i := range 7 {
		tr.Observe(at(float64(10*i)), []pool.Quota{
			{Window: "5h", Utilization: 0.10 + 0.01*float64(i), ResetsAt: at(200)},
			{Window: "7d", Utilization: 0.30 + 0.005*float64(i), ResetsAt: at(3 * 24 * 60)},
			// 1% every 10 minutes from 90%: 96% at 60 min, out at 100 min.
			{Window: "7d_opus", Utilization: 0.90 + 0.01*float64(i), ResetsAt: at(3 * 24 * 60)},
		})
	}
	opus := tr.For(at(60), "opus")
	if opus.State != runway.RunsOut || opus.Window != "7d_opus" {
		t.Fatalf("opus = %+v, want 7d_opus running out", opus)
	}
	within(t, "opus runs out", opus.RunsOut, at(100), 2*time.Minute)
	// Sonnet: 5h grows 6%/h from 16% (lasts past 200 min); 7d 3%/h from
	// 33%: out after ≈22 h, long before its reset in three days.
	sonnet := tr.For(at(60), "sonnet")
	if sonnet.State != runway.RunsOut || sonnet.Window != "7d" {
		t.Fatalf("sonnet = %+v, want 7d running out", sonnet)
	}
	within(t, "sonnet runs out", sonnet.RunsOut, at(60+0.67/0.03*60), 10*time.Minute)

	ws := tr.Windows(at(60))
	if len(ws) != 3 || ws[0].Window != "5h" || ws[2].Family != "opus" || ws[0].Family != pool.FamilyAll {
		t.Fatalf("windows = %+v", ws)
	}
	if got := ws[1].PerHour; math.Abs(got-0.03) > 0.001 {
		t.Errorf("7d pace = %.4f/h, want 0.03", got)
	}
}

// One percent's worth is learned per family from answers of one family,
// and not from a mix.
func TestPercentWorth(t *testing.T) {
	var tr runway.Tracker
	q := func(u float64) []pool.Quota { return []pool.Quota{{Window: "5h", Utilization: u, ResetsAt: at(300)}} }
	tr.Observe(at(0), q(0.10))
	tr.Spent("opus", 0.80) // 2% for $0.80: $0.40 a percent
	tr.Observe(at(1), q(0.12))
	tr.Spent("opus", 0.50)
	tr.Spent("sonnet", 0.50) // a mix teaches nothing
	tr.Observe(at(2), q(0.14))
	tr.Spent("sonnet", 0.10) // 1% for $0.10
	tr.Observe(at(3), q(0.15))
	w := tr.Windows(at(3))[0]
	if got := w.PercentUSD["opus"]; math.Abs(got-0.40) > 1e-9 {
		t.Errorf("opus 1%% = $%.4f, want $0.40", got)
	}
	if got := w.PercentUSD["sonnet"]; math.Abs(got-0.10) > 1e-9 {
		t.Errorf("sonnet 1%% = $%.4f, want $0.10", got)
	}
	// A second opus reading moves the worth part of the way.
	tr.Spent("opus", 1.00)
	tr.Observe(at(4), q(0.17)) // $0.50 a percent
	if got := tr.Windows(at(4))[0].PercentUSD["opus"]; got <= 0.40 || got >= 0.50 {
		t.Errorf("opus 1%% after a dearer reading = $%.4f, want between $0.40 and $0.50", got)
	}
}

func TestFirst(t *testing.T) {
	out := func(reset float64) runway.Forecast { return runway.Forecast{State: runway.Out, ResetsAt: at(reset)} }
	runs := func(m float64) runway.Forecast { return runway.Forecast{State: runway.RunsOut, RunsOut: at(m)} }
	lasts, unknown := runway.Forecast{State: runway.Lasts}, runway.Forecast{State: runway.Unknown}
	tests := []struct {
		name string
		in   []runway.Forecast
		want runway.Forecast
	}{
		{"none", nil, unknown},
		{"all last", []runway.Forecast{lasts, lasts}, lasts},
		{"one unknown", []runway.Forecast{lasts, unknown}, unknown},
		{"earliest run-out wins over unknown", []runway.Forecast{runs(90), unknown, runs(30), lasts}, runs(30)},
		{"out wins, until the last return", []runway.Forecast{runs(5), out(60), out(120)}, out(120)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := runway.First(tt.in); got != tt.want {
				t.Errorf("First = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLength(t *testing.T) {
	for w, want := range map[string]time.Duration{
		"5h": 5 * time.Hour, "7d": 7 * 24 * time.Hour, "7d_opus": 7 * 24 * time.Hour, "1d": 24 * time.Hour,
		"primary": 5 * time.Hour, "secondary": 7 * 24 * time.Hour, runway.WindowDailyBudget: 24 * time.Hour,
	} {
		if got := runway.Length(w); got != want {
			t.Errorf("Length(%q) = %s, want %s", w, got, want)
		}
	}
}

func TestText(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 55, 0, 0, time.UTC)
	tests := []struct {
		f    runway.Forecast
		want string
	}{
		{runway.Forecast{State: runway.Unknown}, "no forecast yet"},
		{runway.Forecast{State: runway.Lasts}, "lasts at this pace"},
		{runway.Forecast{State: runway.RunsOut, RunsOut: now.Add(3*time.Hour + 10*time.Minute), ResetsAt: now.Add(4 * time.Hour)},
			"≈3 h 10 min at this pace; resets 14:55"},
		{runway.Forecast{State: runway.Out, ResetsAt: now.Add(26 * time.Hour)}, "used up; back Fri 12:55"},
	}
	for _, tt := range tests {
		if got := tt.f.Text(now, time.UTC); got != tt.want {
			t.Errorf("Text(%+v) = %q, want %q", tt.f, got, tt.want)
		}
	}
	for d, want := range map[time.Duration]string{
		20 * time.Second: "<1 min", 45 * time.Minute: "45 min", 2 * time.Hour: "2 h", 50 * time.Hour: "2 d 2 h",
	} {
		if got := runway.Duration(d); got != want {
			t.Errorf("Duration(%s) = %q, want %q", d, got, want)
		}
	}
}

// A provider that reports use finer than a percent: the cost adds up over
// the small steps and is learned once half a percent has gone.
func TestPercentWorthOverSmallSteps(t *testing.T) {
	var tr runway.Tracker
	u := 0.10
	tr.Observe(at(0), []pool.Quota{{Window: "5h", Utilization: u, ResetsAt: at(300)}})
	for i := range 10 {
		tr.Spent("sonnet", 0.04) // 0.4% for $0.04: $0.10 a percent
		u += 0.004
		tr.Observe(at(float64(i+1)), []pool.Quota{{Window: "5h", Utilization: u, ResetsAt: at(300)}})
	}
	if got := tr.Windows(at(11))[0].PercentUSD["sonnet"]; math.Abs(got-0.10) > 1e-6 {
		t.Errorf("1%% = $%.4f, want $0.10", got)
	}
}
