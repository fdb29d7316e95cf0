package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"keypool/internal/dirtest"
)

// keypool env --url points a CLI at a Keypool on another machine, with the
// client key read from standard input; a plain-HTTP address beyond
// loopback is said to carry the key in the clear.
func TestEnvURL(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		stdin    string
		wantOut  []string
		wantWarn bool
		wantErr  string
	}{
		{"https", []string{"claude", "--url", "https://kp.example.com:8443/"}, "kp-remote-key\n",
			[]string{"export ANTHROPIC_BASE_URL='https://kp.example.com:8443'", "export ANTHROPIC_AUTH_TOKEN='kp-remote-key'"}, false, ""},
		{"behind_a_path", []string{"codex", "--url", "https://proxy.example.com/keypool"}, "kp-remote-key\n",
			[]string{`base_url = "https://proxy.example.com/keypool/openai/v1"`, "export KEYPOOL_API_KEY='kp-remote-key'"}, false, ""},
		{"plain_http_lan", []string{"gemini", "--url", "http://192.0.2.5:3000", "--shell", "fish"}, "kp-remote-key\n",
			[]string{"set -gx GOOGLE_GEMINI_BASE_URL 'http://192.0.2.5:3000/gemini'"}, true, ""},
		{"plain_http_loopback", []string{"claude", "--url", "http://127.0.0.1:3000"}, "kp-remote-key\n",
			[]string{"export ANTHROPIC_BASE_URL='http://127.0.0.1:3000'"}, false, ""},
		{"no_scheme", []string{"claude", "--url", "kp.example.com"}, "kp-remote-key\n", nil, false, "want https://host[:port]"},
		{"other_scheme", []string{"claude", "--url", "ftp://kp.example.com"}, "kp-remote-key\n", nil, false, "want https://host[:port]"},
		{"credentials_in_url", []string{"claude", "--url", "https://me:kp-remote-key@kp.example.com"}, "", nil, false, "want https://host[:port]"},
		{"credentials_and_bad_port", []string{"claude", "--url", "https://me:kp-remote-key@kp.example.com:44x3"}, "", nil, false, "want https://host[:port]"},
		{"space_in_host", []string{"claude", "--url", "https://kp.example.com kp-remote-key"}, "", nil, false, "want https://host[:port]"},
		{"key_in_query", []string{"claude", "--url", "https://kp.example.com/?key=kp-remote-key"}, "", nil, false, "want https://host[:port]"},
		{"no_key_given", []string{"claude", "--url", "https://kp.example.com"}, "", nil, false, "read the client key for https://kp.example.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), append([]string{"env"}, tt.args...), strings.NewReader(tt.stdin), &out, &errOut)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "kp-remote-key") {
					t.Errorf("err = %v, want no key in it", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v, want nil\n%s", err, errOut.String())
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout:\n%s\nwant %s", out.String(), w)
				}
			}
			if warned := strings.Contains(errOut.String(), "in the clear"); warned != tt.wantWarn {
				t.Errorf("stderr = %q, want a warning about the clear: %v", errOut.String(), tt.wantWarn)
			}
		})
	}
	err := run(context.Background(), []string{"connect", "claude", "--statusline", "--url", "https://kp.example.com"}, strings.NewReader("k\n"), &bytes.Buffer{}, &bytes.Buffer{})
	if !errors.Is(err, errUsage) {
		t.Errorf("connect --statusline --url: %v, want a usage error", err)
	}
}

// keypool service install writes a user unit that runs this binary's serve
// with the config and data dir as absolute paths, and says what to run
// next; uninstall removes it. (app/autostart checks the unit with
// systemd-analyze verify.)
func TestServiceCmd(t *testing.T) {
	dir := dirtest.New(t)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "xdg"))
	t.Chdir(dir)
	os.WriteFile("config.toml", []byte("api_keys = [\"k\"]\n"), 0o600)
	exe, _ := os.Executable()
	exe, _ = filepath.EvalSymlinks(exe)
	unit := filepath.Join(dir, "xdg", "systemd", "user", "keypool.service")

	cli := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"service"}, args...), strings.NewReader(""), &out, &out)
		return out.String(), err
	}
	out, err := cli("install", "--config", "config.toml", "--data-dir", "data")
	if err != nil {
		t.Fatalf("service install: %v\n%s", err, out)
	}
	for _, w := range []string{unit, "systemctl --user daemon-reload && systemctl --user enable --now keypool", "journalctl --user -u keypool"} {
		if !strings.Contains(out, w) {
			t.Errorf("service install said:\n%s\nwant %s", out, w)
		}
	}
	b, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	exec := "ExecStart=" + exe + " serve --config " + filepath.Join(dir, "config.toml") + " --data-dir " + filepath.Join(dir, "data") + "\n"
	// A test dir that needs quoting is quoted in the unit (autostart's
	// tests cover that): only this comparison is left out then.
	if !strings.ContainsAny(dir, " %$\\\"'") && !strings.Contains(string(b), exec) {
		t.Errorf("unit:\n%s\nwant %s", b, exec)
	}

	if _, err := cli("install", "--config", filepath.Join(dir, "missing.toml")); err == nil || !strings.Contains(err.Error(), "missing.toml") {
		t.Errorf("install with a missing config: %v, want it named", err)
	}
	for _, bad := range [][]string{{"install", "--user", "--system"}, {"start"}, {}} {
		if _, err := cli(bad...); !errors.Is(err, errUsage) {
			t.Errorf("service %q: %v, want a usage error", bad, err)
		}
	}

	out, err = cli("uninstall", "--user")
	if err != nil || !strings.Contains(out, "systemctl --user stop keypool && systemctl --user daemon-reload") {
		t.Errorf("service uninstall: %v\n%s\nwant the systemctl commands", err, out)
	}
	if _, err := os.Stat(unit); !os.IsNotExist(err) {
		t.Errorf("unit after uninstall: %v, want it gone", err)
	}
}

// keypool serve on a non-loopback host without TLS starts, and says once
// on standard error that client keys travel in the clear: in the log, or
// in words when the log level hides warnings. (It listens on 0.0.0.0 for a
// moment, on a port the system picks.)
func TestServeWarnsWithoutTLS(t *testing.T) {
	tests := []struct {
		name     string
		logLevel string
		want     string
	}{
		{"in_the_log", "info", "level=WARN msg=\"Keypool listens on 0.0.0.0 without TLS: client keys travel in the clear."},
		{"log_hides_warnings", "error", "Warning: Keypool listens on 0.0.0.0 without TLS: client keys travel in the clear."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := dirtest.New(t)
			cfg := filepath.Join(dir, "config.toml")
			os.WriteFile(cfg, []byte("api_keys = [\"kp-warn-key\"]\n[server]\nlog_level = \""+tt.logLevel+"\"\n"), 0o600)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			var out, errOut bytes.Buffer
			go func() {
				done <- run(ctx, []string{"serve", "--config", cfg, "--data-dir", dir, "--host", "0.0.0.0", "--port", "0"}, strings.NewReader(""), &out, &errOut)
			}()
			served := waitFor(10*time.Second, func() bool {
				var ri struct{ Addr string }
				b, err := os.ReadFile(filepath.Join(dir, "relay.json"))
				if err != nil || json.Unmarshal(b, &ri) != nil {
					return false
				}
				_, port, err := net.SplitHostPort(ri.Addr)
				if err != nil {
					return false
				}
				resp, err := http.Get("http://127.0.0.1:" + port + "/health")
				if err != nil {
					return false
				}
				resp.Body.Close()
				return true
			})
			cancel()
			if err := <-done; err != nil || !served {
				t.Fatalf("serve --host 0.0.0.0: served %v, err %v, want it serving\n%s", served, err, errOut.String())
			}
			if n := strings.Count(errOut.String(), "in the clear"); n != 1 || !strings.Contains(errOut.String(), tt.want) {
				t.Errorf("stderr:\n%s\nwant %q, and the warning once (got %d)", errOut.String(), tt.want, n)
			}
		})
	}
}
