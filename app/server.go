package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"keypool/relay"
)

// shutdownGrace is how long stopping lets running requests finish before
// their connections are closed.
const shutdownGrace = 5 * time.Second

// relayServer serves the relay over HTTP on its listener, and notes the
// address in the data dir's run file for keypool status and env.
type relayServer struct {
	relay   *relay.Server
	srv     *http.Server
	ln      net.Listener
	runFile string
}

// listenRelay serves h on ln, or on a listener bound to addr when ln is
// nil, and writes the address to runFile.
func listenRelay(ln net.Listener, addr string, h *relay.Server, runFile string, log *slog.Logger) (*relayServer, error) {
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", addr); err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return nil, fmt.Errorf("%w: %s is already taken (another Keypool or another program?): choose another with --port N or [server] port in the config", ErrPortInUse, addr)
			}
			return nil, fmt.Errorf("listen on %s: %w", addr, err)
		}
	}
	s := &relayServer{relay: h, ln: ln, runFile: runFile, srv: &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}}
	if err := writeRunFile(runFile, s.Addr()); err != nil {
		log.Warn("cannot note the relay address for `keypool status`", "err", err)
	}
	return s, nil
}

// Addr is the address the relay listens on.
func (s *relayServer) Addr() string { return s.ln.Addr().String() }

// Run serves until ctx is done or serving fails, then shuts the server down:
// running requests get shutdownGrace to finish, and streams still open
// after it are cut.
func (s *relayServer) Run(ctx context.Context) error {
	served := make(chan error, 1)
	go func() { served <- s.srv.Serve(s.ln) }()
	var err error
	ended := false
	select {
	case <-ctx.Done():
	case err = <-served:
		ended = true
	}
	shut, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if serr := s.srv.Shutdown(shut); serr != nil && err == nil && !errors.Is(serr, context.DeadlineExceeded) {
		err = serr
	}
	s.srv.Close()
	s.relay.Close()
	if !ended {
		<-served // ErrServerClosed, at once after Shutdown
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// close gives back the listener and removes the run file.
func (s *relayServer) close() {
	s.ln.Close()
	os.Remove(s.runFile)
}

// RunFile is the run file next to the database at dbPath.
func RunFile(dbPath string) string { return filepath.Join(filepath.Dir(dbPath), "relay.json") }

// RunInfo is the content of the run file.
type RunInfo struct {
	PID     int       `json:"pid"`
	Addr    string    `json:"addr"`
	Started time.Time `json:"started"`
}

func writeRunFile(path, addr string) error {
	b, err := json.Marshal(RunInfo{PID: os.Getpid(), Addr: addr, Started: time.Now()})
	if err != nil {
		return err
	}
	tmp := path + ".tmp" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
