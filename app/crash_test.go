package app_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"keypool/app"
	"keypool/internal/dirtest"
	"keypool/relay/relaytest"
)

// serveChild runs the relay as a separate process for TestKillUnderLoad: it
// listens on a port the kernel picks, prints the relay's URL and serves
// until it is killed.
func serveChild(config, data string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	a, err := app.Open(app.Params{ConfigPath: config, DataDir: data, RefreshToken: offlineRefresh, Listener: ln,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("ready", a.URL())
	_ = a.Run(context.Background())
	os.Exit(0)
}

// TestKillUnderLoad kills `keypool serve` with SIGKILL while requests are in
// flight, then opens the same data dir again: the bbolt file opens, the
// records and sticky bindings of requests that completed before the kill
// are there.
func TestKillUnderLoad(t *testing.T) {
	up := relaytest.New()
	defer up.Close()
	dir := dirtest.New(t)
	p := app.Params{ConfigPath: writeConfig(t, dir, up.URL, relaytest.DeadAddr()), DataDir: filepath.Join(dir, "data")}

	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), "KEYPOOL_TEST_CHILD_CONFIG="+p.ConfigPath, "KEYPOOL_TEST_CHILD_DATA="+p.DataDir)
	out, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "ready ")
	if err != nil || !ok {
		t.Fatalf("child's first line: %q, %v; want \"ready <url>\"", line, err)
	}

	const workers = 8
	done := make([]int, workers) // per worker, requests whose answer arrived in full
	var served atomic.Int64      // all workers' done, as it grows
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			for i := 0; i < 100000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequestWithContext(ctx, "POST", url+"/v1/messages",
					strings.NewReader(`{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`))
				req.Header.Set("Authorization", "Bearer local-key")
				req.Header.Set("X-Claude-Code-Session-Id", killSession(w))
				resp, err := client.Do(req)
				if err != nil {
					return // the relay is gone
				}
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					return
				}
				done[w]++
				served.Add(1)
			}
		}()
	}
	// Kill it once it has served a good number of requests: the workers
	// keep going, so others are in flight then.
	const enough = 200
	if !waitFor(10*time.Second, func() bool { return served.Load() >= enough }) {
		t.Fatalf("%d requests served in 10 s before the kill, want %d", served.Load(), enough)
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	close(stop)
	wg.Wait()

	var completed int
	for w := range done {
		completed += done[w]
	}
	if completed < enough {
		t.Fatalf("%d requests completed before the kill, want at least %d", completed, enough)
	}

	r := start(t, p) // the file opens: no corruption, no stale lock
	recorded := int(requestsToday(t, r))
	t.Logf("%d requests completed before the kill, %d recorded", completed, recorded)
	if recorded < completed {
		t.Errorf("recorded %d requests, want all %d that completed before the kill", recorded, completed)
	}
	if recorded > completed+workers {
		t.Errorf("recorded %d requests, want at most %d completed + %d in flight", recorded, completed, workers)
	}
	// The relay keys a Claude Code session as "cc:<id>".
	for w := range workers {
		if done[w] == 0 {
			continue
		}
		if b, ok := r.Store().Get("cc:" + killSession(w)); !ok || b.Account != "a" {
			t.Errorf("session %d after the kill: binding %+v, %v; want account a, true", w, b, ok)
		}
	}
	r.stop()
	assertNoSecrets(t, filepath.Join(p.DataDir, "keypool.db"))
}

func killSession(w int) string { return fmt.Sprintf("6b111a00-0000-4000-8000-%012d", w) }
