package app

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"keypool/app/store"
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
		if len(keys) == 0 {
			return fmt.Errorf("host %s is reachable from other machines: add a client key first", host)
		}
	}
	if err := a.store.PutSetting("listen_host", host); err != nil {
		return err
	}
	return a.store.PutSetting("listen_port", strconv.Itoa(port))
}

// savedListen reads the saved host and port, if any.
func savedListen(a *App) (string, int) { return savedListenOf(a.store) }

func savedListenOf(st *store.Store) (string, int) {
	host, _ := st.Setting("listen_host")
	p, _ := st.Setting("listen_port")
	port, _ := strconv.Atoi(p)
	return host, port
}

func joinHostPort(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }

const timeMillisecond = time.Millisecond

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
