package app_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	ooption "github.com/openai/openai-go/v3/option"

	"keypool/app"
	"keypool/internal/dirtest"
	"keypool/relay/relaytest"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 and localhost,
// and its key, as PEM files in dir, and returns their paths and a pool
// that trusts the certificate.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "keypool test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots = x509.NewCertPool()
	roots.AddCert(cert)
	return certFile, keyFile, roots
}

// With [server] tls_cert and tls_key the relay serves HTTPS: the official
// Anthropic and OpenAI SDKs, trusting the certificate, are answered through
// it; a client that does not trust it, or speaks plain HTTP, is not.
// keypool status still reads the running relay, and env's base URL is
// https.
func TestTLSWithOfficialSDKs(t *testing.T) {
	dir := dirtest.New(t)
	certFile, _, roots := selfSigned(t, dir)
	up := relaytest.New()
	t.Cleanup(up.Close)
	cfg := filepath.Join(dir, "config.toml")
	doc := fmt.Sprintf(`api_keys = ["local-key"]
[server]
log_level = "error"
tls_cert = %q
tls_key = "key.pem" # beside the config file
[[accounts]]
type = "claude-api"
id = "a"
api_key = "sk-ant-secret-a"
api_url = %q
`, certFile, up.URL)
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	p := app.Params{ConfigPath: cfg, DataDir: filepath.Join(dir, "data")}
	r := start(t, p)
	if !strings.HasPrefix(r.URL(), "https://127.0.0.1:") {
		t.Fatalf("URL = %s, want https://127.0.0.1:PORT", r.URL())
	}
	trusting := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	t.Cleanup(trusting.CloseIdleConnections)
	ctx := context.Background()

	t.Run("anthropic_sdk", func(t *testing.T) {
		up.Push(relaytest.Reply{Body: relaytest.Message("claude-sonnet-4-5", "hello over tls", 9, 3)})
		c := anthropic.NewClient(aoption.WithBaseURL(r.URL()), aoption.WithAuthToken("local-key"),
			aoption.WithHTTPClient(trusting), aoption.WithMaxRetries(0))
		msg, err := c.Messages.New(ctx, anthropic.MessageNewParams{
			Model: "claude-sonnet-4-5", MaxTokens: 10,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(msg.Content) != 1 || msg.Content[0].Text != "hello over tls" {
			t.Errorf("message = %+v, want the upstream's text", msg)
		}
	})

	t.Run("openai_sdk_streaming", func(t *testing.T) {
		up.Push(relaytest.Reply{Events: relaytest.Stream("claude-sonnet-4-5", []string{"a", "b", "c"}, 9, 3, 0, 0)})
		c := openai.NewClient(ooption.WithBaseURL(r.URL()+"/openai/v1"), ooption.WithAPIKey("local-key"),
			ooption.WithHTTPClient(trusting), ooption.WithMaxRetries(0))
		stream := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model:    "claude-sonnet-4-5",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")},
		})
		acc := openai.ChatCompletionAccumulator{}
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		if len(acc.Choices) != 1 || acc.Choices[0].Message.Content != "abc" {
			t.Errorf("accumulated = %+v, want abc", acc.ChatCompletion)
		}
	})

	t.Run("untrusted_or_plain_refused", func(t *testing.T) {
		n := up.Count()
		c := anthropic.NewClient(aoption.WithBaseURL(r.URL()), aoption.WithAuthToken("local-key"), aoption.WithMaxRetries(0))
		_, err := c.Messages.New(ctx, anthropic.MessageNewParams{
			Model: "claude-sonnet-4-5", MaxTokens: 10,
			Messages: []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("hi"))},
		})
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("a client without the certificate: %v, want a certificate error", err)
		}
		resp, err := http.Get("http://" + strings.TrimPrefix(r.URL(), "https://") + "/health")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Errorf("plain HTTP /health = %s %s, want no answer over plain HTTP", resp.Status, b)
			}
		}
		if up.Count() != n {
			t.Error("a refused client reached the upstream")
		}
	})

	t.Run("status_and_env", func(t *testing.T) {
		var out bytes.Buffer
		if err := app.Status(ctx, p, &out); err != nil {
			t.Fatalf("status: %v", err)
		}
		if !strings.Contains(out.String(), "running at "+r.URL()) || !strings.Contains(out.String(), "a ") {
			t.Errorf("status:\n%s\nwant it running at %s, with account a", out.String(), r.URL())
		}
		acc, err := app.Access(p, nil)
		if err != nil || acc.Base != r.URL() {
			t.Errorf("Access = %+v, %v; want base %s", acc, err, r.URL())
		}
	})
}

// A certificate that cannot be loaded stops the start with a message that
// names the files, instead of failing every handshake later.
func TestTLSBadFiles(t *testing.T) {
	dir := dirtest.New(t)
	_, keyFile, _ := selfSigned(t, dir)
	_, err := app.Open(app.Params{DataDir: dir, TLSCert: filepath.Join(dir, "missing.pem"), TLSKey: keyFile,
		Listener: newListener(t), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil || !strings.Contains(err.Error(), "missing.pem") || !strings.Contains(err.Error(), "--tls-cert") {
		t.Errorf("Open with a missing certificate: %v, want an error naming it and the flags", err)
	}
	_, err = app.Open(app.Params{DataDir: dir, TLSCert: filepath.Join(dir, "cert.pem"), Listener: newListener(t)})
	if err == nil || !strings.Contains(err.Error(), "go together") {
		t.Errorf("Open with --tls-cert alone: %v, want both asked for", err)
	}
}

// Listening beyond loopback without TLS is allowed, with a warning that the
// client keys travel in the clear; with TLS there is none.
func TestWarningWithoutTLS(t *testing.T) {
	dir := dirtest.New(t)
	certFile, keyFile, _ := selfSigned(t, dir)
	cfg := writeConfig(t, dir, "http://127.0.0.1:1", "http://127.0.0.1:1")
	tests := []struct {
		name     string
		host     string
		tls      bool
		wantWarn bool
	}{
		{"loopback", "127.0.0.1", false, false},
		{"all_interfaces_plain", "0.0.0.0", false, true},
		{"all_interfaces_tls", "0.0.0.0", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			p := app.Params{ConfigPath: cfg, DataDir: filepath.Join(dir, tt.name), Host: tt.host,
				Listener: newListener(t), Logger: slog.New(slog.NewTextHandler(&logs, nil))}
			if tt.tls {
				p.TLSCert, p.TLSKey = certFile, keyFile
			}
			a, err := app.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			w := a.Warning()
			if got := w != ""; got != tt.wantWarn {
				t.Fatalf("Warning() = %q, want one: %v", w, tt.wantWarn)
			}
			if tt.wantWarn && (!strings.Contains(w, "in the clear") || !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "in the clear")) {
				t.Errorf("warning %q, log:\n%s\nwant it to say keys travel in the clear, logged as a warning", w, logs.String())
			}
		})
	}
}

// --tls-cert and --tls-key relative to where serve runs are kept as
// absolute paths, so keypool status run from another directory still
// trusts the certificate the run file names.
func TestTLSRelativeFlags(t *testing.T) {
	dir := dirtest.New(t)
	selfSigned(t, dir)
	t.Chdir(dir)
	p := app.Params{DataDir: filepath.Join(dir, "data"), TLSCert: "cert.pem", TLSKey: "key.pem", Keychain: testKeychain(t)}
	r := start(t, p)
	elsewhere := filepath.Join(dir, "elsewhere")
	os.Mkdir(elsewhere, 0o755)
	t.Chdir(elsewhere)
	var out bytes.Buffer
	if err := app.Status(context.Background(), p, &out); err != nil {
		t.Fatalf("status from another directory: %v", err)
	}
	if !strings.Contains(out.String(), "running at "+r.URL()) {
		t.Errorf("status:\n%s\nwant it running at %s", out.String(), r.URL())
	}
}
