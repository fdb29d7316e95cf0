package app

import (
	"context"
	"crypto/tls"
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

// relayServer serves the relay over HTTP, or HTTPS, on its listener, and
// notes the address in the data dir's run file for keypool status and env.
type relayServer struct {
	relay   *relay.Server
	srv     *http.Server
	ln      net.Listener
	runFile string
	tls     bool
}

// serverTLS is what the relay serves HTTPS with: the PEM certificate (with
// its chain) and key files; empty: plain HTTP.
type serverTLS struct{ cert, key string }

// config loads the files, so that a wrong path or a key that does not
// match stops the start with a message instead of failing every handshake.
func (t serverTLS) config() (*tls.Config, error) {
	if t.cert == "" {
		return nil, nil
	}
	pair, err := tls.LoadX509KeyPair(t.cert, t.key)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s with key %s: %w (check [server] tls_cert and tls_key, or --tls-cert and --tls-key)", t.cert, t.key, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

// listenRelay serves h on ln, or on a listener bound to addr when ln is
// nil, over HTTPS when t names a certificate, and writes the address to
// runFile.
func listenRelay(ln net.Listener, addr string, h *relay.Server, t serverTLS, runFile string, log *slog.Logger) (*relayServer, error) {
	tlsConfig, err := t.config()
	if err != nil {
		return nil, err
	}
	if ln == nil {
		if ln, err = net.Listen("tcp", addr); err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return nil, fmt.Errorf("%w: %s is already taken (another Keypool or another program?): choose another with --port N or [server] port in the config", ErrPortInUse, addr)
			}
			return nil, fmt.Errorf("listen on %s: %w", addr, err)
		}
	}
	s := &relayServer{relay: h, ln: ln, runFile: runFile, tls: tlsConfig != nil, srv: &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		TLSConfig:         tlsConfig,
	}}
	if err := writeRunFile(runFile, RunInfo{Addr: s.Addr(), TLSCert: t.cert}); err != nil {
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
	go func() {
		if s.tls {
			served <- s.srv.ServeTLS(s.ln, "", "") // the certificate is in TLSConfig
			return
		}
		served <- s.srv.Serve(s.ln)
	}()
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
	// TLSCert is the certificate file the relay serves HTTPS with; empty:
	// plain HTTP.
	TLSCert string `json:"tls_cert,omitempty"`
}

// writeRunFile notes ri, with this process and the time, at path.
func writeRunFile(path string, ri RunInfo) error {
	ri.PID, ri.Started = os.Getpid(), time.Now()
	b, err := json.Marshal(ri)
	if err != nil {
		return err
	}
	tmp := path + ".tmp" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
