package relay

import (
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"keypool/relay/pool"
)

// metrics are the relay's Prometheus series. Label values are account ids,
// routes and reasons: never a key or a client's header.
type metrics struct {
	requests  *prometheus.CounterVec
	attempts  *prometheus.CounterVec
	failovers *prometheus.CounterVec
	refused   *prometheus.CounterVec
	tokens    *prometheus.CounterVec
	cost      *prometheus.CounterVec
	ttfb      *prometheus.HistogramVec

	// refusalLogged is when deny last logged a refusal (Unix nanoseconds):
	// the log line comes at most once a second, refused counts each one.
	refusalLogged atomic.Int64
}

func newMetrics(reg *prometheus.Registry, s *Server) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keypool_requests_total", Help: "Requests answered, by route and status code.",
		}, []string{"route", "code"}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keypool_upstream_answers_total", Help: "Upstream answers passed to clients, by account and status class.",
		}, []string{"account", "class"}),
		failovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keypool_failovers_total", Help: "Accounts left for another, by account and reason.",
		}, []string{"account", "reason"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keypool_refused_total", Help: "Requests refused by the access checks, by reason.",
		}, []string{"reason"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keypool_tokens_total", Help: "Tokens reported by upstreams, by account and kind.",
		}, []string{"account", "kind"}),
		cost: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "keypool_cost_usd_total", Help: "Price of the requests served (API-equivalent for subscriptions), by account.",
		}, []string{"account"}),
		ttfb: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "keypool_time_to_first_byte_seconds", Help: "Time from request to the first byte sent back.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10),
		}, []string{"route"}),
	}
	usable := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "keypool_accounts_ready", Help: "Accounts that can take a request now.",
	}, func() float64 {
		n := 0
		for _, a := range s.Health().Accounts {
			if a.State == pool.StateReady {
				n++
			}
		}
		return float64(n)
	})
	quota := quotaCollector{s: s, desc: prometheus.NewDesc("keypool_quota_utilization",
		"Plan window utilisation (0..1) as the provider last reported it, by account and window.", []string{"account", "window"}, nil),
		overage: prometheus.NewDesc("keypool_overage_in_use",
			"1 while a subscription's plan is spent and it answers (or would answer) on paid extra usage, else 0; by account.", []string{"account"}, nil),
		overageUtil: prometheus.NewDesc("keypool_overage_utilization",
			"How much of a subscription's extra-usage allowance is spent (0..1), as it last reported it.", []string{"account"}, nil)}
	cooling := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "keypool_accounts_cooling", Help: "Accounts resting after a rate limit, quota or failure.",
	}, func() float64 {
		n := 0
		for _, a := range s.Health().Accounts {
			if a.State.Rests() {
				n++
			}
		}
		return float64(n)
	})
	for _, c := range []prometheus.Collector{m.requests, m.attempts, m.failovers, m.refused, m.tokens, m.cost, m.ttfb, usable, cooling, quota, newRunwayCollector(s)} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// observe counts a finished request.
func (m *metrics) observe(r *UsageRecord) {
	m.requests.WithLabelValues(r.Route, strconv.Itoa(r.Status)).Inc()
	if r.TTFB > 0 {
		m.ttfb.WithLabelValues(r.Route).Observe(r.TTFB.Seconds())
	}
	if r.Account == "" {
		return
	}
	if r.CostUSD > 0 {
		m.cost.WithLabelValues(r.Account).Add(r.CostUSD)
	}
	u := r.Usage
	for _, t := range [...]struct {
		kind string
		n    int64
	}{{"input", u.InputTokens}, {"output", u.OutputTokens}, {"cache_write", u.CacheWriteTokens}, {"cache_read", u.CacheReadTokens}} {
		if t.n > 0 {
			m.tokens.WithLabelValues(r.Account, t.kind).Add(float64(t.n))
		}
	}
}

// quotaCollector reports each account's plan windows and extra usage at
// scrape time.
type quotaCollector struct {
	s                          *Server
	desc, overage, overageUtil *prometheus.Desc
}

func (q quotaCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- q.desc
	ch <- q.overage
	ch <- q.overageUtil
}

func (q quotaCollector) Collect(ch chan<- prometheus.Metric) {
	now := q.s.now()
	for _, e := range q.s.accounts.Load().all {
		for _, w := range e.state.Quota() {
			ch <- prometheus.MustNewConstMetric(q.desc, prometheus.GaugeValue, w.Utilization, e.acct.ID, w.Window)
		}
		if o := e.state.Overage(); o != nil {
			in := 0.0
			if o.Paid(now) {
				in = 1
			}
			ch <- prometheus.MustNewConstMetric(q.overage, prometheus.GaugeValue, in, e.acct.ID)
			ch <- prometheus.MustNewConstMetric(q.overageUtil, prometheus.GaugeValue, o.Utilization, e.acct.ID)
		}
	}
}
