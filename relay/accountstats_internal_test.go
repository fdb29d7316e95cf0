package relay

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"testing"
)

// unreachable names each way a call can get no answer, without the URL.
func TestUnreachable(t *testing.T) {
	wrap := func(err error) error {
		return &url.Error{Op: "Post", URL: "https://api.example.com/v1/messages?key=secret", Err: err}
	}
	dial := func(err error) error {
		return wrap(&net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: err}})
	}
	tests := []struct {
		name    string
		err     error
		why     string
		timeout bool
	}{
		{"refused", dial(errConnRefused), "connection refused", false},
		{"reset", wrap(&net.OpError{Op: "read", Net: "tcp", Err: &os.SyscallError{Syscall: "read", Err: errConnReset}}), "connection reset", false},
		{"unreachable", dial(errHostUnreach), "host unreachable", false},
		{"no_such_host", wrap(&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "api.example.invalid", IsNotFound: true}}),
			"host api.example.invalid not found (DNS)", false},
		{"dns_timeout", wrap(&net.DNSError{Err: "i/o timeout", Name: "api.example.com", IsTimeout: true}), "DNS lookup of api.example.com timed out", true},
		{"dns_other", wrap(&net.DNSError{Err: "server misbehaving", Name: "api.example.com"}), "DNS lookup of api.example.com failed: server misbehaving", false},
		{"untrusted_cert", wrap(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}),
			"TLS certificate refused: x509: certificate signed by unknown authority", false},
		{"not_tls", wrap(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}), "TLS handshake failed: the server does not speak TLS", false},
		{"dial_timeout", dial(timeoutErr{}), "connect timed out", true},
		{"closed_early", wrap(io.EOF), "connection closed before an answer", false},
		{"proxy", wrap(&net.OpError{Op: "proxyconnect", Net: "tcp", Err: errors.New("socks5 said no")}), "proxy failed: proxyconnect tcp: socks5 said no", false},
		{"refused_on_windows", dial(errors.New("connectex: No connection could be made because the target machine actively refused it.")), "connection refused", false},
		{"other", wrap(fmt.Errorf("something odd")), "no connection: something odd", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			why, timeout := unreachable(tt.err)
			if why != tt.why || timeout != tt.timeout {
				t.Errorf("unreachable = %q, %v; want %q, %v", why, timeout, tt.why, tt.timeout)
			}
		})
	}
	if why, _ := unreachable(context.DeadlineExceeded); why != "connect timed out" {
		t.Errorf("deadline exceeded: %q", why)
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }
