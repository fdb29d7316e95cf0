// Command bench measures what the relay costs: the same fast fake upstream
// is reached directly, through a plain httputil.ReverseProxy (the thin-proxy
// reference) and through `keypool serve`, and the figures are printed side
// by side. All traffic stays on 127.0.0.1 and every loop is bounded.
//
//	go run ./bench -keypool build/keypool [-headless build/keypool-headless] [-baseline OLD] [-hold 60s] [-mixed 60s]
//
// Stream figures are timed as their bytes reach the client's connection,
// read by the goroutine that sent the request, and the targets take turns
// round by round, so a shared host's drift falls on each alike.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-serve" {
		serveRole(os.Args[2]) // child process: upstream or reverseproxy
		return
	}
	bin := flag.String("keypool", "build/keypool", "the keypool binary to measure")
	headless := flag.String("headless", "", "a headless build (make build-headless) whose start, idle memory and latency to compare with -keypool's")
	baseline := flag.String("baseline", "", "another keypool build (before a change) measured beside -keypool, turn by turn, in the request and stream runs")
	dur := flag.Duration("dur", 5*time.Second, "length of each small-request run")
	hold := flag.Duration("hold", 60*time.Second, "how long the 1,000 streams are held open")
	holdN := flag.Int("streams", 1000, "concurrent streams held open")
	mixed := flag.Duration("mixed", 60*time.Second, "length of the mixed run with failover underneath (0: skip it)")
	flag.Parse()
	if err := run(*bin, *headless, *baseline, *dur, *hold, *holdN, *mixed); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// ---- the fake upstream and the reference proxy (child processes) ----

var small = []byte(`{"id":"msg_bench","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"text","text":"hello"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":5,"cache_creation_input_tokens":0,"cache_read_input_tokens":0}}`)

// transcript is the exact stream the upstream writes for n events.
func transcript(n int) []byte {
	var b bytes.Buffer
	b.WriteString("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-sonnet-4-5\",\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\n\n")
	for i := range n {
		fmt.Fprintf(&b, "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"w%d \"}}\n\n", i)
	}
	b.WriteString("event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":" + strconv.Itoa(n) + "}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")
	return b.Bytes()
}

// transcripts holds the upstream's transcripts by length, made once: the
// upstream should cost the machine as little as it can.
var transcripts sync.Map

func cachedTranscript(n int) []byte {
	if t, ok := transcripts.Load(n); ok {
		return t.([]byte)
	}
	t, _ := transcripts.LoadOrStore(n, transcript(n))
	return t.([]byte)
}

// serveRole serves role on the listener the parent handed over as fd 3
// (see serveChild).
func serveRole(role string) {
	l, err := net.FileListener(os.NewFile(3, "listener"))
	if err != nil {
		fmt.Fprintln(os.Stderr, role, err)
		os.Exit(1)
	}
	var h http.Handler
	switch role {
	case "upstream":
		h = http.HandlerFunc(upstream)
	case "revproxy":
		target, _ := url.Parse(os.Args[3])
		rp := &httputil.ReverseProxy{
			Rewrite: func(r *httputil.ProxyRequest) {
				r.SetURL(target)
				r.Out.Header.Set("X-Api-Key", "sk-bench")
			},
			FlushInterval: -1,
			Transport:     &http.Transport{MaxIdleConnsPerHost: 1024, DisableCompression: true},
		}
		h = rp
	}
	srv := &http.Server{Handler: h}
	if err := srv.Serve(l); err != nil {
		fmt.Fprintln(os.Stderr, role, err)
		os.Exit(1)
	}
}

// flakyCalls counts requests to the /flaky account of the mixed run.
var flakyCalls atomic.Int64

func upstream(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	if strings.HasPrefix(r.URL.Path, "/flaky/") {
		// Every 10th call is rate-limited for a second, every 25th
		// overloaded: the relay must move those requests to the steady
		// account without the client seeing it.
		switch n := flakyCalls.Add(1); {
		case n%10 == 0:
			w.Header().Set("Retry-After", "1")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"type":"error","error":{"type":"rate_limit_error","message":"Number of requests has exceeded your rate limit"}}`)
			return
		case n%25 == 0:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(529)
			io.WriteString(w, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`)
			return
		}
	}
	q := r.URL.Query()
	n, _ := strconv.Atoi(q.Get("events"))
	if n == 0 {
		w.Header().Set("Content-Type", "application/json")
		w.Write(small)
		return
	}
	gap, _ := time.ParseDuration(q.Get("gap"))
	w.Header().Set("Content-Type", "text/event-stream")
	rc := http.NewResponseController(w)
	full := cachedTranscript(n)
	pause := time.NewTimer(gap)
	pause.Stop()
	defer pause.Stop()
	// Write event by event, pausing between them.
	for len(full) > 0 {
		i := bytes.Index(full, []byte("\n\n")) + 2
		if _, err := w.Write(full[:i]); err != nil {
			return
		}
		rc.Flush()
		full = full[i:]
		if gap > 0 && len(full) > 0 {
			pause.Reset(gap)
			select {
			case <-pause.C:
			case <-r.Context().Done():
				return
			}
		}
	}
}

// ---- the driver ----

type target struct {
	name string
	url  string
	key  string
	pid  int
}

func run(bin, headless, baseline string, dur, hold time.Duration, holdN int, mixed time.Duration) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	up, upAddr, err := serveChild(ctx, self, "upstream")
	if err != nil {
		return err
	}
	defer stopProc(up)
	rp, rpAddr, err := serveChild(ctx, self, "revproxy", "http://"+upAddr)
	if err != nil {
		return err
	}
	defer stopProc(rp)

	dir, err := os.MkdirTemp("", "keypool-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := fmt.Sprintf("api_keys = [\"bench-key\"]\n[server]\nlog_level = \"error\"\n[[accounts]]\ntype = \"claude-api\"\nid = \"bench\"\napi_key = \"sk-bench\"\napi_url = \"http://%s\"\n", upAddr)
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}

	// Start-up: time to /health and idle RSS.
	began := time.Now()
	kp, kpAddr, err := startKeypool(ctx, bin, cfgPath, dir)
	if err != nil {
		return err
	}
	defer stopProc(kp)
	if err := waitHealth("http://"+kpAddr, 10*time.Second); err != nil {
		return err
	}
	ready := time.Since(began)
	time.Sleep(time.Second)
	idleRSS := rss(kp.Process.Pid)
	if err := waitHealth("http://"+rpAddr+"/missing", 10*time.Second); err != nil {
		return err
	}
	if err := waitHealth("http://"+upAddr, 10*time.Second); err != nil {
		return err
	}

	targets := []target{
		{"direct", "http://" + upAddr, "", up.Process.Pid},
		{"reverseproxy", "http://" + rpAddr, "", rp.Process.Pid},
		{"keypool", "http://" + kpAddr, "bench-key", kp.Process.Pid},
	}

	// The headless build and a baseline, when given, are measured beside
	// -keypool in the request and stream runs: the same relay in a smaller
	// binary, and the relay before a change.
	for _, o := range []struct{ name, bin string }{{"headless", headless}, {"baseline", baseline}} {
		if o.bin == "" {
			continue
		}
		odir := filepath.Join(dir, o.name)
		if err := os.MkdirAll(odir, 0o700); err != nil {
			return err
		}
		op, oAddr, err := startKeypool(ctx, o.bin, cfgPath, odir)
		if err != nil {
			return err
		}
		defer stopProc(op)
		if err := waitHealth("http://"+oAddr, 10*time.Second); err != nil {
			return err
		}
		targets = append(targets, target{o.name, "http://" + oAddr, "bench-key", op.Process.Pid})
	}

	fmt.Printf("Keypool relay benchmark — %s, %d CPUs\n\n", time.Now().Format("2006-01-02"), numCPU())
	fmt.Printf("start to /health answering: %v   idle RSS: %v\n\n", ready.Round(time.Millisecond), idleRSS)
	if headless != "" {
		if err := startups(ctx, []string{bin, headless}, cfgPath, dir, 5); err != nil {
			return err
		}
	}

	// Small non-streaming requests, 32 concurrent.
	fmt.Printf("Small requests, 32 concurrent clients, %v each\n", dur)
	fmt.Printf("  %-13s %10s %9s %9s %10s\n", "", "req/s", "p50", "p99", "vs direct")
	var direct, rpRate float64
	for _, t := range targets {
		rate, p50, p99, errs := smallRun(t, 32, dur)
		if t.name == "direct" {
			direct = rate
		}
		if t.name == "reverseproxy" {
			rpRate = rate
		}
		fmt.Printf("  %-13s %10.0f %9v %9v %9.2fx", t.name, rate, p50, p99, rate/direct)
		if t.name != "direct" && t.name != "reverseproxy" {
			fmt.Printf("   = %.2fx ReverseProxy", rate/rpRate)
		}
		if errs > 0 {
			fmt.Printf("   %d errors", errs)
		}
		fmt.Println()
	}

	// Streams: 200 events 5 ms apart, 50 concurrent; then one at a time.
	streamTable(targets, fmt.Sprintf("Streams, 200 events 5 ms apart, 50 concurrent (started 1 ms apart) × %d rounds", streamRounds), 50, streamRounds, 200)
	// One at a time: the relay's own latency, without 50 streams' worth of
	// work queued on the machine's cores ahead of it.
	streamTable(targets, "Streams one at a time, 10 events 5 ms apart × 200", 1, 200, 10)

	// Many long streams held open.
	fmt.Printf("\n%d concurrent streams held open for %v through keypool\n", holdN, hold)
	peak, broken := holdRun(targets[2], holdN, hold)
	fmt.Printf("  relay RSS peak: %v   broken or altered streams: %d\n", peak, broken)
	if mixed <= 0 {
		return nil
	}

	// Streams and small requests together through a second relay whose
	// preferred account fails now and then.
	mixCfg := fmt.Sprintf("api_keys = [\"bench-key\"]\n[server]\nlog_level = \"error\"\n"+
		"[[accounts]]\ntype = \"claude-api\"\nid = \"flaky\"\npriority = 100\napi_key = \"sk-bench\"\napi_url = \"http://%s/flaky\"\n"+
		"[[accounts]]\ntype = \"claude-api\"\nid = \"steady\"\npriority = 50\napi_key = \"sk-bench\"\napi_url = \"http://%s\"\n",
		upAddr, upAddr)
	mixDir := filepath.Join(dir, "mixed")
	if err := os.MkdirAll(mixDir, 0o700); err != nil {
		return err
	}
	mixPath := filepath.Join(mixDir, "config.toml")
	if err := os.WriteFile(mixPath, []byte(mixCfg), 0o600); err != nil {
		return err
	}
	mix, mixAddr, err := startKeypool(ctx, bin, mixPath, mixDir)
	if err != nil {
		return err
	}
	defer stopProc(mix)
	if err := waitHealth("http://"+mixAddr, 10*time.Second); err != nil {
		return err
	}
	mt := target{"keypool", "http://" + mixAddr, "bench-key", mix.Process.Pid}
	fmt.Printf("\nMixed, %v: 200 streams of 50 events 10 ms apart and 16 small-request clients, each request\n"+
		"a new conversation; the preferred account answers every 10th call 429 and every 25th 529\n", mixed)
	m := mixedRun(mt, 200, 16, mixed)
	fmt.Printf("  streams: %d complete, %d broken or altered   small requests: %d ok, %d failed   failovers: %d\n",
		m.streams, m.broken, m.small, m.failed, failovers(mt))
	return nil
}

type mixedResult struct{ streams, broken, small, failed int64 }

// mixedRun keeps streamers streams and smallers small-request clients busy
// through t for d; each request opens a new conversation, so none waits on
// a sticky account.
func mixedRun(t target, streamers, smallers int, d time.Duration) mixedResult {
	tr := &http.Transport{MaxIdleConnsPerHost: streamers + smallers, DisableCompression: true}
	defer tr.CloseIdleConnections()
	const events = 50
	want := transcript(events)
	var res [4]atomic.Int64 // streams, broken, small, failed
	var seq atomic.Int64
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for i := range streamers + smallers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := i < streamers
			for time.Now().Before(deadline) {
				n := seq.Add(1)
				var ok bool
				if stream {
					ok = mixedCall(tr, t, fmt.Sprintf("?events=%d&gap=10ms", events), n, true, want)
				} else {
					ok = mixedCall(tr, t, "", n, false, small)
				}
				k := 2
				if stream {
					k = 0
				}
				if !ok {
					k++
				}
				res[k].Add(1)
			}
		}()
	}
	wg.Wait()
	return mixedResult{res[0].Load(), res[1].Load(), res[2].Load(), res[3].Load()}
}

// mixedCall sends conversation n and checks the answer byte for byte.
func mixedCall(tr *http.Transport, t target, query string, n int64, stream bool, want []byte) bool {
	body := fmt.Sprintf(`{"model":"claude-sonnet-4-5","max_tokens":16,"stream":%t,"messages":[{"role":"user","content":"conversation %d"}]}`, stream, n)
	req, _ := http.NewRequest("POST", t.url+"/v1/messages"+query, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Api-Key", t.key)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	return err == nil && resp.StatusCode == 200 && bytes.Equal(got, want)
}

// failovers sums keypool_failovers_total from the relay's /metrics.
func failovers(t target) int64 {
	req, _ := http.NewRequest("GET", t.url+"/metrics", nil)
	req.Header.Set("X-Api-Key", t.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var total int64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "keypool_failovers_total{") {
			continue
		}
		if v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err == nil {
			total += int64(v)
		}
	}
	return total
}

func smallRun(t target, workers int, dur time.Duration) (rate float64, p50, p99 time.Duration, errs int64) {
	tr := &http.Transport{MaxIdleConnsPerHost: workers * 2, DisableCompression: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	body := []byte(`{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}`)
	var (
		mu   sync.Mutex
		lats []time.Duration
		n    atomic.Int64
		bad  atomic.Int64
		wg   sync.WaitGroup
	)
	deadline := time.Now().Add(dur)
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			for time.Now().Before(deadline) {
				req, _ := http.NewRequest("POST", t.url+"/v1/messages", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				if t.key != "" {
					req.Header.Set("X-Api-Key", t.key)
				}
				s := time.Now()
				resp, err := c.Do(req)
				if err != nil {
					bad.Add(1)
					continue
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || !bytes.Equal(b, small) {
					bad.Add(1)
					continue
				}
				local = append(local, time.Since(s))
				n.Add(1)
			}
			mu.Lock()
			lats = append(lats, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	el := time.Since(start)
	slices.Sort(lats)
	return float64(n.Load()) / el.Seconds(), pct(lats, 50), pct(lats, 99), bad.Load()
}

// streamRounds is how many rounds of 50 concurrent streams each target gets.
const streamRounds = 8

// streamTable runs streamRun and prints its figures, each target's added
// time against the first target's (direct).
func streamTable(targets []target, title string, conc, rounds, events int) {
	fmt.Printf("\n%s\n", title)
	fmt.Printf("  %-13s %12s %12s %14s %14s %8s %8s\n", "", "TTFB p50", "1st word p50", "added TTFB", "added 1st word", "broken", "CPU")
	figs := streamRun(targets, conc, rounds, events, 5*time.Millisecond)
	base := figs[0]
	for i, t := range targets {
		f := figs[i]
		fmt.Printf("  %-13s %12v %12v %14v %14v %8d %8v\n", t.name, f.ttfb, f.first, f.ttfb-base.ttfb, f.first-base.first, f.broken, f.cpu)
	}
}

// streamFigures are one target's stream figures: the medians of the time
// to the headers and to the first content event, and the streams that
// broke or came altered, and the CPU time the target's process used.
type streamFigures struct {
	ttfb, first time.Duration
	broken      int
	cpu         time.Duration // the target's process's CPU time over its turns
}

// streamRun sends rounds of conc streams of events events to each target.
// The targets take turns, round by round, in an order that rotates: the
// machine's speed drifts from one second to the next on a shared host, and
// so falls on every target alike.
func streamRun(targets []target, conc, rounds, events int, gap time.Duration) []streamFigures {
	want := transcript(events)
	ttfbs := make([][]time.Duration, len(targets))
	firsts := make([][]time.Duration, len(targets))
	figs := make([]streamFigures, len(targets))
	clients := make([][]wireClient, len(targets))
	for i, t := range targets {
		clients[i] = make([]wireClient, conc)
		for j := range clients[i] {
			clients[i][j].addr = strings.TrimPrefix(t.url, "http://")
			defer clients[i][j].close()
		}
	}
	var mu sync.Mutex
	for r := range rounds {
		for k := range targets {
			ti := (r + k) % len(targets)
			cpu0 := cpuTime(targets[ti].pid)
			var wg sync.WaitGroup
			for i := range conc {
				wg.Add(1)
				go func() {
					defer wg.Done()
					// Streams start 1 ms apart, so the figure is the
					// relay's latency, not the herd of simultaneous
					// connects.
					time.Sleep(time.Duration(i) * time.Millisecond)
					tb, fe, ok := clients[ti][i].stream(targets[ti], events, gap, want)
					mu.Lock()
					defer mu.Unlock()
					if !ok {
						figs[ti].broken++
						return
					}
					ttfbs[ti] = append(ttfbs[ti], tb)
					firsts[ti] = append(firsts[ti], fe)
				}()
			}
			wg.Wait()
			figs[ti].cpu += cpuTime(targets[ti].pid) - cpu0
		}
	}
	for i := range targets {
		slices.Sort(ttfbs[i])
		slices.Sort(firsts[i])
		figs[i].ttfb, figs[i].first = pct(ttfbs[i], 50), pct(firsts[i], 50)
	}
	return figs
}

// wireClient is one keep-alive connection, written and read by the
// goroutine that asks, as Node's HTTP client (Claude Code's) reads its. The
// first word is timed when its bytes reach the client; net/http's
// Transport would add a hand-over of the response from its reading
// goroutine to the caller's, a wait that grows with the machine's load and
// is the client's, not the relay's.
type wireClient struct {
	addr string
	conn net.Conn
	br   *bufio.Reader
}

func (c *wireClient) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// stream is oneStream on c's connection, dialled before the clock starts.
func (c *wireClient) stream(t target, events int, gap time.Duration, want []byte) (ttfb, first time.Duration, ok bool) {
	if c.conn == nil {
		conn, err := net.Dial("tcp", c.addr)
		if err != nil {
			return 0, 0, false
		}
		c.conn, c.br = conn, bufio.NewReaderSize(conn, 64<<10)
	}
	req := streamRequest(t, events, gap)
	s := time.Now()
	if err := req.Write(c.conn); err != nil {
		c.close()
		return 0, 0, false
	}
	resp, err := http.ReadResponse(c.br, req)
	if err != nil {
		c.close()
		return 0, 0, false
	}
	ttfb = time.Since(s)
	first, ok = readStream(resp, s, want)
	if !ok || resp.Close {
		c.close()
	}
	return ttfb, first, ok
}

func streamRequest(t target, events int, gap time.Duration) *http.Request {
	req, _ := http.NewRequest("POST", fmt.Sprintf("%s/v1/messages?events=%d&gap=%s", t.url, events, gap),
		strings.NewReader(`{"model":"claude-sonnet-4-5","max_tokens":16,"stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Content-Type", "application/json")
	if t.key != "" {
		req.Header.Set("X-Api-Key", t.key)
	}
	return req
}

// oneStream reads a whole stream, timing the headers and the first content
// event (the first word: Keypool holds the opening message_start back until
// it, so a stream that fails before it can move to another account), and
// checks it byte for byte.
func oneStream(tr *http.Transport, t target, events int, gap time.Duration, want []byte) (ttfb, first time.Duration, ok bool) {
	req := streamRequest(t, events, gap)
	s := time.Now()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return 0, 0, false
	}
	ttfb = time.Since(s)
	first, ok = readStream(resp, s, want)
	return ttfb, first, ok
}

// readStream reads resp's whole body, timing from s the first content
// event, and reports whether the answer was a 200 with exactly want.
func readStream(resp *http.Response, s time.Time, want []byte) (first time.Duration, ok bool) {
	defer resp.Body.Close()
	// The first word has arrived once the bytes up to the end of want's
	// first content event have; each read is checked against want as it
	// comes, so a stream costs the client no allocation per event.
	c := bytes.Index(want, []byte("event: content_block"))
	firstEnd := c + bytes.Index(want[c:], []byte("\n\n")) + 2
	buf := make([]byte, 32<<10)
	got, same := 0, true
	for {
		n, err := resp.Body.Read(buf)
		if same && (got+n > len(want) || !bytes.Equal(buf[:n], want[got:got+n])) {
			same = false
		}
		got += n
		if first == 0 && got >= firstEnd {
			first = time.Since(s)
		}
		if err != nil {
			return first, resp.StatusCode == 200 && same && got == len(want) && err == io.EOF
		}
	}
}

// holdRun keeps n streams open for d (one event a second) and samples the
// relay's RSS.
func holdRun(t target, n int, d time.Duration) (peak memory, broken int) {
	tr := &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: 0, DisableCompression: true}
	defer tr.CloseIdleConnections()
	events := int(d / time.Second)
	want := transcript(events)
	var bad atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%50 == 0 {
				time.Sleep(time.Duration(i/50) * 10 * time.Millisecond) // ramp up
			}
			if _, _, ok := oneStream(tr, t, events, time.Second, want); !ok {
				bad.Add(1)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	limit := time.After(d + 60*time.Second)
	for {
		select {
		case <-done:
			return peak, int(bad.Load())
		case <-tick.C:
			peak = peak.max(rss(t.pid))
		case <-limit:
			return peak, n // streams hung: count them all as broken
		}
	}
}

// startups starts each binary n times, in turn, as keypool serve on the
// same config with a fresh data dir, and prints the median time from start
// to /health answering (with the range) and the median idle RSS a second
// later, binary beside binary.
func startups(ctx context.Context, bins []string, cfgPath, dir string, n int) error {
	ready := make([][]time.Duration, len(bins))
	idle := make([][]memory, len(bins))
	for i := range n {
		for b, bin := range bins {
			data := filepath.Join(dir, fmt.Sprintf("start-%d-%d", b, i))
			began := time.Now()
			kp, addr, err := startKeypool(ctx, bin, cfgPath, data)
			if err != nil {
				return err
			}
			err = waitHealth("http://"+addr, 10*time.Second)
			ready[b] = append(ready[b], time.Since(began))
			time.Sleep(time.Second)
			idle[b] = append(idle[b], rss(kp.Process.Pid))
			stopProc(kp)
			if err != nil {
				return err
			}
		}
	}
	fmt.Printf("Start to /health and idle RSS, %d starts of each (median, range)\n", n)
	for b, bin := range bins {
		slices.Sort(ready[b])
		slices.SortFunc(idle[b], func(x, y memory) int { return int(x.rss - y.rss) })
		fmt.Printf("  %-28s %6v (%v – %v)   idle RSS %v\n", bin, pct(ready[b], 50).Round(time.Millisecond),
			ready[b][0].Round(time.Millisecond), ready[b][n-1].Round(time.Millisecond), idle[b][n/2])
	}
	fmt.Println()
	return nil
}

// ---- helpers ----

// serveChild starts this program as a child serving role (with args) on a
// loopback listener it is handed as fd 3, and returns the child and the
// listener's address. The listener is made here and held throughout, so
// nothing else can take its port before the child serves there.
func serveChild(ctx context.Context, self, role string, args ...string) (*exec.Cmd, string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	defer l.Close()
	f, err := l.(*net.TCPListener).File()
	if err != nil {
		return nil, "", err
	}
	defer f.Close() // the child has its own copy
	cmd := exec.CommandContext(ctx, self, append([]string{"-serve", role}, args...)...)
	cmd.Stderr = os.Stderr
	cmd.ExtraFiles = []*os.File{f}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("start %s: %w", role, err)
	}
	return cmd, l.Addr().String(), nil
}

// startKeypool starts `keypool serve` with a config and data dir on a port
// the system picks (--port 0: no port is chosen here, and so none can be
// taken before keypool listens on it), and returns the process and the
// address it listens on, which it prints once it does.
func startKeypool(ctx context.Context, bin, cfgPath, dir string) (*exec.Cmd, string, error) {
	cmd := exec.CommandContext(ctx, bin, "serve", "--config", cfgPath, "--data-dir", dir, "--port", "0")
	cmd.Stderr = os.Stderr
	out := &addrWatch{found: make(chan string, 1)}
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("start %s: %w", bin, err)
	}
	select {
	case addr := <-out.found:
		return cmd, addr, nil
	case <-time.After(10 * time.Second):
		stopProc(cmd)
		return nil, "", fmt.Errorf("%s serve did not say where it listens within 10s", bin)
	}
}

// addrWatch reads keypool's standard output for the line that says where it
// runs ("Keypool is running at http://127.0.0.1:PORT…") and sends the
// address on found, once; it drops the rest. One goroutine writes to it
// (exec's copier).
type addrWatch struct {
	buf   []byte
	found chan string
	done  bool
}

func (w *addrWatch) Write(p []byte) (int, error) {
	if w.done {
		return len(p), nil
	}
	w.buf = append(w.buf, p...)
	for {
		line, rest, ok := bytes.Cut(w.buf, []byte("\n"))
		if !ok {
			return len(p), nil
		}
		w.buf = rest
		if _, at, ok := strings.Cut(string(line), "running at http://"); ok {
			addr, _, _ := strings.Cut(at, " ")
			w.found <- strings.TrimSuffix(addr, ".")
			w.done, w.buf = true, nil
			return len(p), nil
		}
	}
}

func stopProc(c *exec.Cmd) {
	c.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		c.Process.Kill()
	}
}

func waitHealth(u string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		resp, err := http.Get(u + "/health")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("%s did not answer within %v", u, limit)
}

// memory is a process's resident set in bytes: all of it, and the part
// that is its own (anonymous and shared-memory pages). The rest is pages of
// the executable and libraries, which the kernel may map more or less of
// depending on the page cache, so private is the figure to compare.
type memory struct{ rss, private int64 }

func (m memory) max(o memory) memory {
	return memory{max(m.rss, o.rss), max(m.private, o.private)}
}

func (m memory) String() string {
	return fmt.Sprintf("%.1f MiB (%.1f MiB private)", mib(m.rss), mib(m.private))
}

// rss reads a process's resident memory from /proc.
func rss(pid int) memory {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memory{}
	}
	var m memory
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			m.rss = kb * 1024
		case "RssAnon:", "RssShmem:":
			m.private += kb * 1024
		}
	}
	return m
}

// cpuTime is the CPU time pid has used so far, user and system, from
// /proc (in clock ticks, taken as the usual 100 a second).
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces: utime and stime are the 12th and 13th of them.
	_, rest, _ := bytes.Cut(b, []byte(") "))
	f := strings.Fields(string(rest))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func pct(s []time.Duration, p int) time.Duration {
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)*p/100, len(s)-1)].Round(10 * time.Microsecond)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return max(strings.Count(string(b), "processor\t:"), 1)
}
