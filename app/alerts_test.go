package app_test

import (
	"strings"
	"testing"
	"time"

	"keypool/app"
	"keypool/relay"
	"keypool/relay/pool"
	"keypool/relay/runway"
)

// Each alert is said once per episode, on a clock the test moves: the
// first paid answer after the plans ran out, the paid cap reached, and a
// pool runway under the threshold (a forecast that wavers near the mark
// does not warn again).
func TestAlertsOncePerEpisode(t *testing.T) {
	var al app.Alerts
	now := time.Date(2026, 12, 7, 14, 5, 0, 0, time.Local)
	titles := func(as []app.Alert) string {
		var s []string
		for _, a := range as {
			s = append(s, a.Title+": "+a.Text)
		}
		return strings.Join(s, " | ")
	}
	lasting := []relay.PoolRunway{{Protocol: pool.ProtocolAnthropic, Forecast: runway.Forecast{State: runway.Lasts}}}
	runsOut := func(in time.Duration) []relay.PoolRunway {
		return []relay.PoolRunway{{Protocol: pool.ProtocolAnthropic, Forecast: runway.Forecast{State: runway.RunsOut, RunsOut: now.Add(in)},
			NextReset: now.Add(2 * time.Hour)}}
	}
	episode := relay.PaidEpisode{Protocol: pool.ProtocolAnthropic, Plans: "Claude", Since: now, Until: now.Add(time.Hour),
		Account: "api-work", Name: "api-work", SpentUSD: 0.05}
	steps := []struct {
		name string
		h    relay.Health
		step time.Duration
		want string // the alerts' titles and texts, joined; "" for none
	}{
		{"start: runway fine", relay.Health{Runway: lasting}, 0, ""},
		{"runway drops under 30 min", relay.Health{Runway: runsOut(25 * time.Minute)}, 0,
			"Keypool: runway running short: Claude runway ≈25 min at this pace; first reset " + now.Add(2*time.Hour).Format("15:04")},
		{"still under", relay.Health{Runway: runsOut(20 * time.Minute)}, time.Minute, ""},
		{"wavers just above", relay.Health{Runway: runsOut(35 * time.Minute)}, time.Minute, ""},
		{"under again, same episode", relay.Health{Runway: runsOut(28 * time.Minute)}, time.Minute, ""},
		{"well clear", relay.Health{Runway: lasting}, time.Minute, ""},
		{"a new drop warns again", relay.Health{Runway: runsOut(10 * time.Minute)}, time.Minute, "Keypool: runway running short"},
		{"paid episode begins", relay.Health{Paying: []relay.PaidEpisode{episode}}, time.Minute,
			"Keypool: now paying per token: Claude plans are spent until 15:05 — now paying with api-work; $0.05 since 14:05"},
		{"same episode, more paid", relay.Health{Paying: []relay.PaidEpisode{func() relay.PaidEpisode { e := episode; e.SpentUSD = 0.4; return e }()}}, time.Minute, ""},
		{"plans back", relay.Health{}, time.Hour, ""},
		{"a new episode", relay.Health{Paying: []relay.PaidEpisode{func() relay.PaidEpisode { e := episode; e.Since = now.Add(2 * time.Hour); return e }()}},
			time.Minute, "Keypool: now paying per token"},
		{"cap reached", relay.Health{PaidCap: &relay.PaidCap{DailyUSD: 5, SpentUSD: 5.1, Reached: true}}, time.Minute,
			"Keypool: daily cap on paid answers reached: $5.10 paid today, the cap is $5.00"},
		{"cap still reached", relay.Health{PaidCap: &relay.PaidCap{DailyUSD: 5, SpentUSD: 5.1, Reached: true}}, time.Minute, ""},
	}
	for _, s := range steps {
		now = now.Add(s.step)
		got := titles(al.Check(s.h, now, 30))
		if s.want == "" && got != "" || s.want != "" && !strings.HasPrefix(got, s.want) {
			t.Errorf("%s: alerts %q, want %q", s.name, got, s.want)
		}
	}
	// Off: no runway warning at all.
	var off app.Alerts
	off.Check(relay.Health{Runway: lasting}, now, 0)
	if got := off.Check(relay.Health{Runway: runsOut(5 * time.Minute)}, now, 0); len(got) != 0 {
		t.Errorf("runway_minutes = 0: %q, want none", titles(got))
	}
}
