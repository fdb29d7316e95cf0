package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"keypool/app/store"
	"keypool/relay"
	"keypool/relay/pool"
)

// SetListen saves the host and port the relay listens on from the next
// start (the app's own store; flags and a config file still win).
func (a *App) SetListen(host string, port int) error {
	if port < 1 || port > 65535 {
		return fmt.Errorf("port %d: use 1 to 65535", port)
	}
	if net.ParseIP(host) == nil && host != "localhost" {
		return fmt.Errorf("host %q: use an IP address such as 127.0.0.1", host)
	}
	if !isLoopback(host) {
		keys, err := a.store.ClientKeys()
		if err != nil {
			return err
		}
		if len(poolKeys(keys)) == 0 { // a profile's key does not close the relay
			return fmt.Errorf("host %s is reachable from other machines: add a client key first", host)
		}
	}
	if err := a.store.PutSetting("listen_host", host); err != nil {
		return err
	}
	return a.store.PutSetting("listen_port", strconv.Itoa(port))
}

// savedListen reads the saved host and port, if any.
func savedListen(st *store.Store) (string, int) {
	host, _ := st.Setting("listen_host")
	p, _ := st.Setting("listen_port")
	port, _ := strconv.Atoi(p)
	return host, port
}

func joinHostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

// SetStrategy saves how accounts of equal priority share work (priority,
// fill-first or spread), from the next start.
func (a *App) SetStrategy(s string) error {
	switch s {
	case "priority", "fill-first", "spread":
		return a.store.PutSetting("strategy", s)
	}
	return fmt.Errorf("strategy %q: use priority, fill-first or spread", s)
}

// Strategy is the saved strategy ("priority" when none).
func (a *App) Strategy() string {
	if s, _ := a.store.Setting("strategy"); s != "" {
		return s
	}
	return a.cfg.Scheduler.Strategy
}

// quotaSaver keeps each account's latest plan readings in the store, so
// that status and the window show them after a restart.
type quotaSaver struct {
	relay *relay.Server
	store *store.Store
	log   *slog.Logger
}

// quotaEvery is how often the readings are saved while the relay runs.
const quotaEvery = 30 * time.Second

// Run saves the readings every quotaEvery, and a last time once ctx is
// done.
func (q quotaSaver) Run(ctx context.Context) error {
	t := time.NewTicker(quotaEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			q.save()
			return nil
		case <-t.C:
			q.save()
		}
	}
}

func (q quotaSaver) save() {
	for _, acct := range q.relay.Health().Accounts {
		q.saveOverage(acct)
		if len(acct.Quota) == 0 {
			continue
		}
		b, err := json.Marshal(acct.Quota)
		if err == nil {
			err = q.store.PutSetting("quota:"+acct.ID, string(b))
		}
		if err != nil {
			q.log.Warn("save plan quota", "account", acct.ID, "err", err)
		}
	}
}

// saveOverage keeps an account's paid extra usage while it lasts, so that
// after a restart an account on it gets no request until its plan resets;
// once it is over, the saved reading goes.
func (q quotaSaver) saveOverage(acct relay.AccountHealth) {
	key := "overage:" + acct.ID
	v := ""
	if acct.Overage != nil {
		b, err := json.Marshal(acct.Overage)
		if err != nil {
			return
		}
		v = string(b)
	}
	if old, _ := q.store.Setting(key); old == v {
		return
	}
	if err := q.store.PutSetting(key, v); err != nil {
		q.log.Warn("save extra usage", "account", acct.ID, "err", err)
	}
}

// load hands the relay the plan readings saved by the last run.
func (q quotaSaver) load() {
	for _, acct := range q.relay.Health().Accounts {
		if v, _ := q.store.Setting("overage:" + acct.ID); v != "" {
			var o pool.Overage
			if json.Unmarshal([]byte(v), &o) == nil {
				q.relay.SetOverage(acct.ID, o)
			}
		}
		v, err := q.store.Setting("quota:" + acct.ID)
		if err != nil || v == "" {
			continue
		}
		var qs []pool.Quota
		if json.Unmarshal([]byte(v), &qs) == nil {
			q.relay.SetQuota(acct.ID, qs)
		}
	}
}
