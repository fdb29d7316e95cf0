package app_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"keypool/app"
	"keypool/app/secrets"
	"keypool/app/store"
	"keypool/app/tokens"
	"keypool/internal/dirtest"
	"keypool/relay"
	"keypool/relay/pool"
	"keypool/relay/relaytest"
)

// The keychain's D-Bus session connection is shared and lives for the
// process (go-keyring through godbus): not a leak.
func TestMain(m *testing.M) {
	if cfg := os.Getenv("KEYPOOL_TEST_CHILD_CONFIG"); cfg != "" {
		serveChild(cfg, os.Getenv("KEYPOOL_TEST_CHILD_DATA"))
		return
	}
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/godbus/dbus/v5.(*Conn).inWorker"),
		goleak.IgnoreAnyFunction("github.com/godbus/dbus/v5.newConn.func1"))
}

// writeConfig writes a seed-format config with accounts a (priority 100) and
// b (50) pointing at the given upstreams; the relay's listener is handed over
// (newListener), so the config names no port.
func writeConfig(t testing.TB, dir, urlA, urlB string) string {
	t.Helper()
	cfg := fmt.Sprintf(`api_keys = ["local-key"]
[server]
host = "127.0.0.1"
log_level = "error"
[session]
sticky_ttl_seconds = 3600
[[accounts]]
type = "claude-api"
id = "a"
name = "A"
priority = 100
api_key = "sk-ant-secret-a"
api_url = "%s"
[[accounts]]
type = "claude-api"
id = "b"
priority = 50
api_key = "sk-ant-secret-b"
api_url = "%s"
[[accounts]]
type = "gemini"
id = "g"
refresh_token = "google-refresh-secret"
`, urlA, urlB)
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// newListener is a listener on 127.0.0.1:0 to hand the relay
// (Params.Listener): the kernel picks the port, and nothing can take it
// before the relay serves there. Open takes it over; the cleanup closes it
// when Open never did.
func newListener(t testing.TB) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// hangingUpPort is a port on 127.0.0.1 where every connection is closed at
// once: a dead server that nothing else can start listening on, as it
// could on a port that was free a moment ago.
func hangingUpPort(t testing.TB) int {
	l := newListener(t)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return // closed by the cleanup
			}
			c.Close()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// running is an App serving in the background.
type running struct {
	*app.App
	stop func()                          // halt, reporting errors to the test
	halt func() (runErr, closeErr error) // stop it and close it, once
}

// offlineRefresh stands in for the providers' token endpoints, so that no
// test reaches beyond the machine (the configs have a Google login).
func offlineRefresh(context.Context, pool.Kind, *http.Client, string) (tokens.Token, error) {
	return tokens.Token{}, errors.New("token endpoints are not reached from tests")
}

// start opens and runs an App on a listener of its own (newListener, unless
// p has one); without a Logger in p its logs are dropped, and without a
// RefreshToken no token endpoint is called.
func start(t *testing.T, p app.Params) *running {
	t.Helper()
	if p.Logger == nil {
		p.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if p.RefreshToken == nil {
		p.RefreshToken = offlineRefresh
	}
	if p.Listener == nil {
		p.Listener = newListener(t)
	}
	a, err := app.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	r := &running{App: a}
	var once sync.Once
	var runErr, closeErr error
	halted := false
	r.halt = func() (error, error) {
		once.Do(func() {
			halted = true
			cancel()
			runErr = <-done
			closeErr = a.Close()
		})
		return runErr, closeErr
	}
	r.stop = func() {
		if halted {
			return // whoever stopped it has its errors
		}
		runErr, closeErr := r.halt()
		if runErr != nil {
			t.Errorf("run: %v", runErr)
		}
		if closeErr != nil {
			t.Errorf("close: %v", closeErr)
		}
	}
	t.Cleanup(r.stop)
	return r
}

// post sends a small Messages request with the local key in session.
func (r *running) post(t *testing.T, session string) (int, string) {
	t.Helper()
	return r.send(t, map[string]string{"Authorization": "Bearer local-key", "X-Claude-Code-Session-Id": session})
}

// send posts a small Messages request with the given headers.
func (r *running) send(t *testing.T, hdr map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", r.URL()+"/v1/messages",
		strings.NewReader(`{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	// A restarted relay listens on the same port: never reuse a connection
	// the previous one closed.
	req.Close = true
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// requestsToday sums today's requests in r's store.
func requestsToday(t *testing.T, r *running) int64 {
	t.Helper()
	days, err := r.Store().Day(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, d := range days {
		n += d.Requests
	}
	return n
}

// A session bound to an account stays there across a restart of the relay
// on the same data dir, even though the preferred account is healthy again;
// usage recorded before the restart is still there.
func TestStickinessSurvivesRestart(t *testing.T) {
	upA, upB := relaytest.New(), relaytest.New()
	defer upA.Close()
	defer upB.Close()
	dir := dirtest.New(t)
	p := app.Params{ConfigPath: writeConfig(t, dir, upA.URL, upB.URL), DataDir: filepath.Join(dir, "data")}

	upA.Push(relaytest.Reply{Status: 529, Body: relaytest.Error("overloaded_error", "Overloaded")})
	r := start(t, p)
	const sess = "5e55a0e0-0000-4000-8000-000000000001"
	if code, b := r.post(t, sess); code != 200 {
		t.Fatalf("first request: %d %s", code, b)
	}
	if upB.Count() != 1 {
		t.Fatalf("b served %d", upB.Count())
	}
	r.stop()

	r2 := start(t, p)
	for i := 0; i < 3; i++ {
		if code, _ := r2.post(t, sess); code != 200 {
			t.Fatalf("after restart: %d", code)
		}
	}
	if upB.Count() != 4 || upA.Count() != 1 {
		t.Errorf("after restart a=%d b=%d, want the session kept on b", upA.Count(), upB.Count())
	}
	// A new session prefers a.
	r2.post(t, "5e55a0e0-0000-4000-8000-000000000002")
	if upA.Count() != 2 {
		t.Errorf("new session did not go to a")
	}
	if err := r2.Store().Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Five requests, and a's 529 before the first: every attempt counts.
	if total := requestsToday(t, r2); total != 6 {
		t.Errorf("attempts recorded today = %d, want 6", total)
	}
	r2.stop()
	assertNoSecrets(t, filepath.Join(dir, "data", "keypool.db"))
}

// assertNoSecrets fails if any test secret is in the file.
func assertNoSecrets(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"sk-ant-secret", "local-key", "google-refresh-secret"} {
		if bytes.Contains(b, []byte(s)) {
			t.Errorf("%s contains the secret %q", path, s)
		}
	}
}

func TestPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	_, err = app.Open(app.Params{DataDir: dirtest.New(t), Port: port, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if !errors.Is(err, app.ErrPortInUse) || !strings.Contains(err.Error(), "--port") || !strings.Contains(err.Error(), fmt.Sprint(port)) {
		t.Fatalf("err = %v", err)
	}
}

// A second relay on the same data dir says so at once instead of hanging.
func TestSecondInstanceSameDataDir(t *testing.T) {
	dir := dirtest.New(t)
	start(t, app.Params{DataDir: dir})
	began := time.Now()
	_, err := app.Open(app.Params{DataDir: dir, Listener: newListener(t), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if !errors.Is(err, store.ErrLocked) || !strings.Contains(err.Error(), "another Keypool") {
		t.Fatalf("err = %v", err)
	}
	if time.Since(began) > 5*time.Second {
		t.Errorf("took %v", time.Since(began))
	}
}

// Without a config Keypool starts with no accounts and answers /health.
func TestServeWithoutAccounts(t *testing.T) {
	r := start(t, app.Params{DataDir: dirtest.New(t)})
	resp, err := http.Get(r.URL() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"accounts": []`) {
		t.Errorf("health: %d %s", resp.StatusCode, b)
	}
}

// keypool status asks the running relay, and reads the file when none runs.
func TestStatus(t *testing.T) {
	up := relaytest.New()
	defer up.Close()
	dir := dirtest.New(t)
	p := app.Params{ConfigPath: writeConfig(t, dir, up.URL, up.URL), DataDir: filepath.Join(dir, "data")}
	r := start(t, p)
	r.post(t, "s1")
	r.post(t, "s2")
	r.Store().Flush(context.Background())

	var out bytes.Buffer
	if err := app.Status(context.Background(), p, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"running at " + r.URL(), "claude-api", "gemini", "ready"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, out.String())
		}
	}
	if !hasRow(out.String(), "a", "2") {
		t.Errorf("status does not show 2 requests for a:\n%s", out.String())
	}
	r.stop()

	out.Reset()
	if err := app.Status(context.Background(), p, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "not running") || !hasRow(out.String(), "a", "2") {
		t.Errorf("offline status:\n%s", out.String())
	}
	if strings.Contains(out.String(), "secret") {
		t.Error("status shows a secret")
	}
}

// hasRow reports a table row for account id whose REQUESTS column is n.
func hasRow(out, id, n string) bool {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 6 && f[0] == id {
			for _, v := range f[4:6] {
				if v == n {
					return true
				}
			}
		}
	}
	return false
}

// A seed relay's SQLite file at database_path is left alone: Keypool keeps
// its own file beside it.
func TestSeedSQLiteDatabaseLeftAlone(t *testing.T) {
	dir := dirtest.New(t)
	os.MkdirAll(filepath.Join(dir, "data"), 0o700)
	sqlite := append([]byte("SQLite format 3\x00"), make([]byte, 100)...)
	seedDB := filepath.Join(dir, "data", "relay.db")
	os.WriteFile(seedDB, sqlite, 0o600)
	cfg := filepath.Join(dir, "config.toml")
	os.WriteFile(cfg, []byte("api_keys = []\n[server]\ndatabase_path = \"data/relay.db\"\n"), 0o600)
	r := start(t, app.Params{ConfigPath: cfg})
	if got, want := r.Store().Path(), filepath.Join(dir, "data", "relay.keypool.db"); got != want {
		t.Errorf("database = %s, want %s", got, want)
	}
	r.stop()
	if b, _ := os.ReadFile(seedDB); !bytes.Equal(b, sqlite) {
		t.Error("the seed's SQLite file was changed")
	}
}

// A second launch on the same data dir asks the running one to come
// forward, through the control socket.
func TestShowRunning(t *testing.T) {
	dir := dirtest.New(t)
	r := start(t, app.Params{DataDir: dir, Keychain: secretsMemory()})
	shown := make(chan struct{}, 1)
	r.OnShow(func() { shown <- struct{}{} })
	if err := app.ShowRunning(filepath.Join(dir, "keypool.db")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-shown:
	case <-time.After(5 * time.Second):
		t.Fatal("the running app was not asked to show itself")
	}
}

func secretsMemory() secrets.Keychain { return secrets.NewMemory() }

// The listen address saved in settings is used from the next start; a
// non-loopback host needs a client key first.
func TestSavedListen(t *testing.T) {
	dir := dirtest.New(t)
	keys := secretsMemory()
	r := start(t, app.Params{DataDir: dir, Keychain: keys})
	if err := r.SetListen("0.0.0.0", 4000); err == nil {
		t.Error("a non-loopback host without client keys was saved")
	}
	// The saved port is one this test holds: the next start must try to
	// listen there, and find it taken (no other program can take a port
	// that is free a moment).
	port := newListener(t).Addr().(*net.TCPAddr).Port
	must(t, r.SetListen("127.0.0.1", port))
	r.stop()
	a, err := app.Open(app.Params{DataDir: dir, Keychain: keys, Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		a.Close()
	}
	if want := fmt.Sprintf("127.0.0.1:%d", port); !errors.Is(err, app.ErrPortInUse) || !strings.Contains(err.Error(), want) {
		t.Errorf("next start: %v, want %v naming %s", err, app.ErrPortInUse, want)
	}
}

// keypool env finds the running relay's address and its first client key,
// through the control socket while the relay holds the store, and from the
// file otherwise.
func TestAccess(t *testing.T) {
	dir := dirtest.New(t)
	keys := secretsMemory()
	p := app.Params{DataDir: dir, Keychain: keys}
	r := start(t, app.Params{DataDir: dir, Keychain: keys})
	k, err := r.AddClientKey("cli")
	must(t, err)
	want, _ := r.ClientKeySecret(k.ID)
	acc, err := app.Access(p, keys)
	if err != nil || acc.Base != r.URL() || acc.Key != want.Reveal() {
		t.Fatalf("running: %+v %v (want %s)", acc, err, r.URL())
	}
	const port = 4123 // saved, never listened on: Access only reads it
	must(t, r.SetListen("127.0.0.1", port))
	r.stop()
	acc, err = app.Access(p, keys)
	if err != nil || acc.Base != fmt.Sprintf("http://127.0.0.1:%d", port) || acc.Key != want.Reveal() {
		t.Fatalf("stopped: %+v %v", acc, err)
	}
}

// Usage export round trip: records written through the relay come back in
// JSON equal to the store's, and in CSV with a row each; from the running
// relay's socket and from the file.
func TestUsageExport(t *testing.T) {
	up := relaytest.New()
	defer up.Close()
	dir := dirtest.New(t)
	p := app.Params{ConfigPath: writeConfig(t, dir, up.URL, up.URL), DataDir: filepath.Join(dir, "data")}
	r := start(t, p)
	r.post(t, "u1")
	r.post(t, "u2")
	since := time.Now().Add(-time.Hour)
	live, err := app.UsageRecords(p, since)
	if err != nil || len(live) != 2 {
		t.Fatalf("from the running relay: %d records, %v", len(live), err)
	}
	r.stop()
	recs, err := app.UsageRecords(p, since)
	if err != nil || len(recs) != 2 {
		t.Fatalf("from the file: %d, %v", len(recs), err)
	}
	var buf bytes.Buffer
	must(t, app.WriteUsage(&buf, recs, "json"))
	var back []relay.UsageRecord
	must(t, json.Unmarshal(buf.Bytes(), &back))
	if !reflect.DeepEqual(normalize(back), normalize(recs)) {
		t.Errorf("json round trip differs:\n%+v\n%+v", back, recs)
	}
	buf.Reset()
	must(t, app.WriteUsage(&buf, recs, "csv"))
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(rows) != 3 || rows[0][0] != "time" || rows[1][3] != "a" || rows[1][11] == "" {
		t.Errorf("csv: %v %v", rows, err)
	}
	if strings.Contains(buf.String(), "secret") {
		t.Error("a secret in the export")
	}
	sum, err := app.Summarize(recs, "client")
	if err != nil || len(sum) != 1 || sum[0].Requests != 2 || sum[0].Key != recs[0].ClientID || sum[0].CostUSD <= 0 {
		t.Errorf("per client: %+v %v", sum, err)
	}
}

// normalize drops monotonic clock readings so times compare by value.
func normalize(rs []relay.UsageRecord) []relay.UsageRecord {
	out := append([]relay.UsageRecord(nil), rs...)
	for i := range out {
		out[i].Time = out[i].Time.Round(0).UTC()
	}
	return out
}

// A daily budget spent before a restart still counts after it: the spend
// comes back from the recorded costs.
func TestBudgetAcrossRestart(t *testing.T) {
	up := relaytest.New()
	defer up.Close()
	dir := dirtest.New(t)
	cfg := filepath.Join(dir, "config.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("api_keys = [\"local-key\"]\n[[accounts]]\ntype = \"claude-api\"\nid = \"a\"\napi_key = \"sk-ant-secret\"\napi_url = %q\ndaily_budget_usd = 0.0001\n", up.URL)), 0o600)
	p := app.Params{ConfigPath: cfg, DataDir: filepath.Join(dir, "data")}
	r := start(t, p)
	if code, _ := r.post(t, "b1"); code != 200 { // 10 in + 5 out of Sonnet 4.5 = $0.000105
		t.Fatalf("first: %d", code)
	}
	waitFor(3*time.Second, func() bool { return stateOf(r, "a") == "cooling" })
	if code, b := r.post(t, "b2"); code != 429 || !strings.Contains(b, "cooling") {
		t.Fatalf("over budget: %d %s", code, b)
	}
	r.stop()
	r2 := start(t, p)
	if code, _ := r2.post(t, "b3"); code != 429 || up.Count() != 1 {
		t.Errorf("after restart: %d, upstream calls %d", code, up.Count())
	}
}

// An account's plan readings are kept in the store across a restart and
// shown by keypool status.
func TestQuotaKeptAcrossRestart(t *testing.T) {
	up := relaytest.New()
	defer up.Close()
	up.Default = relaytest.Reply{Body: relaytest.Message("claude-sonnet-4-5", "ok", 1, 1), Header: map[string]string{
		"Anthropic-Ratelimit-Unified-Status": "allowed", "Anthropic-Ratelimit-Unified-7d-Utilization": "0.61", "Anthropic-Ratelimit-Unified-7d-Reset": "1764547200"}}
	dir := dirtest.New(t)
	p := app.Params{ConfigPath: writeConfig(t, dir, up.URL, up.URL), DataDir: filepath.Join(dir, "data")}
	r := start(t, p)
	r.post(t, "q1")
	r.stop()
	r2 := start(t, p)
	var out bytes.Buffer
	if err := app.Status(context.Background(), p, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "7d 61%") {
		t.Errorf("status after restart:\n%s", out.String())
	}
	r2.stop()
}

// A subscription found on paid extra usage stays out of the pool across a
// restart until its plan resets: the saved reading rests it at start, so
// it gets no request; keypool status says so.
func TestOverageKeptAcrossRestart(t *testing.T) {
	sub, key := relaytest.New(), relaytest.New()
	defer sub.Close()
	defer key.Close()
	reset := time.Now().Add(3 * time.Hour).Truncate(time.Second)
	sub.Default = relaytest.Reply{Body: relaytest.Message("claude-sonnet-4-5", "paid", 1, 1), Header: map[string]string{
		"Anthropic-Ratelimit-Unified-Status": "allowed", "Anthropic-Ratelimit-Unified-Representative-Claim": "overage",
		"Anthropic-Ratelimit-Unified-Overage-In-Use": "true", "Anthropic-Ratelimit-Unified-Overage-Status": "allowed",
		"Anthropic-Ratelimit-Unified-Reset": strconv.FormatInt(reset.Unix(), 10)}}
	dir := dirtest.New(t)
	cfg := filepath.Join(dir, "config.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`api_keys = ["local-key"]
[[accounts]]
type = "claude-oauth"
id = "sub"
priority = 100
refresh_token = "rt-secret-0"
api_url = %q
[[accounts]]
type = "claude-api"
id = "key"
api_key = "sk-ant-secret-key"
api_url = %q
`, sub.URL, key.URL)), 0o600)
	ts := &tokenServer{current: "rt-secret-0"}
	p := app.Params{ConfigPath: cfg, DataDir: filepath.Join(dir, "data"), RefreshToken: ts.refresh}
	r := start(t, p)
	if code, b := r.post(t, "o1"); code != 200 || sub.Count() != 1 || key.Count() != 1 {
		t.Fatalf("first: %d %s; sub %d key %d, want the key to serve after sub showed extra usage", code, b, sub.Count(), key.Count())
	}
	r.stop()
	r2 := start(t, p)
	defer r2.stop()
	if code, _ := r2.post(t, "o2"); code != 200 || sub.Count() != 1 {
		t.Errorf("after restart: %d, sub asked %d times, want no new request to it", code, sub.Count())
	}
	var out bytes.Buffer
	if err := app.Status(context.Background(), p, &out); err != nil {
		t.Fatal(err)
	}
	want := (&pool.Overage{InUse: true, Until: reset}).Text(time.Now(), time.Local)
	if !strings.Contains(out.String(), want) || !strings.Contains(out.String(), "not used (allow_overage is off)") {
		t.Errorf("status lacks %q:\n%s", want, out.String())
	}
}
