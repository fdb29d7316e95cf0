// Command wintest runs Keypool's tests as Windows programs under Wine (make
// test-windows): each package's test binary is cross-compiled, run with
// wine in the package's folder, and its results counted.
//
// Two things of Wine 8 (Debian 12's) are worked around, and said in the
// report: it has no bcryptprimitives.dll, which Go programs load at start,
// so one is built from testdata/bcryptprimitives.c with mingw-w64; and it
// does not implement the file-deletion call Go's os.RemoveAll makes, so a
// test whose only failure is the testing package's own cleanup of its
// temporary folder ("TempDir RemoveAll cleanup … Invalid function") is
// counted as passed, apart.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// packages are the ones run by default: the relay and its parts, the
// store and its journal, the config, the CLIs' configs, the keychain, the
// version and the updater.
var packages = []string{"./relay/...", "./app/store", "./app/store/journal", "./app/config", "./app/clients",
	"./app/secrets", "./app/version", "./app/update", "./app/prices", "./app/tokens"}

func main() {
	out := flag.String("out", "build/windows-tests", "where the test binaries and the Wine prefix go")
	timeout := flag.Duration("timeout", 10*time.Minute, "each package's time limit")
	flag.Parse()
	pkgs := packages
	if flag.NArg() > 0 {
		pkgs = flag.Args()
	}
	failed, err := run(pkgs, *out, *timeout, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wintest:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

// result is one package's count.
type result struct {
	pkg                          string
	run, passed, failed, skipped int
	cleanupOnly                  int      // passed, but Wine refused the temporary folder's removal
	failures, skips              []string // test: first line of why
	buildErr, crash              string
	took                         time.Duration
}

func run(pkgs []string, out string, timeout time.Duration, w io.Writer) (failed bool, err error) {
	for _, tool := range []string{"wine", "x86_64-w64-mingw32-gcc"} {
		if _, err := exec.LookPath(tool); err != nil {
			return false, fmt.Errorf("%s is missing: make test-windows installs wine64 and gcc-mingw-w64-x86-64", tool)
		}
	}
	out, err = filepath.Abs(out)
	if err != nil {
		return false, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return false, err
	}
	prefix := filepath.Join(out, "wineprefix")
	env := append(os.Environ(), "WINEPREFIX="+prefix, "WINEDEBUG=-all",
		"WINEDLLOVERRIDES=mscoree,mshtml=;bcryptprimitives=n", "DISPLAY=", "WAYLAND_DISPLAY=")
	if err := prepare(prefix, env); err != nil {
		return false, err
	}
	list, err := testPackages(pkgs)
	if err != nil {
		return false, err
	}
	var results []result
	for _, p := range list {
		r := runPackage(p, out, timeout, env)
		results = append(results, r)
		fmt.Fprintf(os.Stderr, "%s: %d run, %d passed, %d failed, %d skipped (%s)\n", r.pkg, r.run, r.passed, r.failed, r.skipped, r.took.Round(time.Second))
		failed = failed || r.failed > 0 || r.buildErr != "" || r.crash != ""
	}
	report(w, results)
	return failed, nil
}

// prepare makes the Wine prefix and puts the stand-in DLL in its system32.
func prepare(prefix string, env []string) error {
	dll := filepath.Join(prefix, "drive_c", "windows", "system32", "bcryptprimitives.dll")
	if _, err := os.Stat(dll); err == nil {
		return nil
	}
	boot := exec.Command("wine", "wineboot", "-i")
	boot.Env = env
	if b, err := boot.CombinedOutput(); err != nil {
		return fmt.Errorf("wineboot: %v\n%s", err, b)
	}
	src, err := filepath.Abs(filepath.Join("internal", "wintest", "testdata", "bcryptprimitives.c"))
	if err != nil {
		return err
	}
	cc := exec.Command("x86_64-w64-mingw32-gcc", "-shared", "-O2", "-o", dll, src, "-ladvapi32")
	if b, err := cc.CombinedOutput(); err != nil {
		return fmt.Errorf("build bcryptprimitives.dll: %v\n%s", err, b)
	}
	return nil
}

type pkgInfo struct {
	ImportPath, Dir           string
	TestGoFiles, XTestGoFiles []string
}

// testPackages lists the packages with tests, as Windows builds them.
func testPackages(patterns []string) ([]pkgInfo, error) {
	cmd := exec.Command("go", append([]string{"list", "-json"}, patterns...)...)
	cmd.Env = append(os.Environ(), "GOOS=windows", "CGO_ENABLED=0")
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list: %w", err)
	}
	var out []pkgInfo
	dec := json.NewDecoder(strings.NewReader(string(b)))
	for dec.More() {
		var p pkgInfo
		if err := dec.Decode(&p); err != nil {
			return nil, err
		}
		if len(p.TestGoFiles)+len(p.XTestGoFiles) > 0 {
			out = append(out, p)
		}
	}
	return out, nil
}

// event is one line of go test's JSON.
type event struct {
	Action, Test, Output string
}

func runPackage(p pkgInfo, out string, timeout time.Duration, env []string) (r result) {
	r.pkg = p.ImportPath
	start := time.Now()
	defer func() { r.took = time.Since(start) }()
	exe := filepath.Join(out, strings.ReplaceAll(p.ImportPath, "/", "_")+".test.exe")
	build := exec.Command("go", "test", "-c", "-o", exe, p.ImportPath)
	build.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if b, err := build.CombinedOutput(); err != nil {
		r.buildErr = firstLine(string(b))
		return r
	}
	cmd := exec.Command("go", "tool", "test2json", "-p", p.ImportPath, "wine", exe, "-test.v=test2json",
		"-test.timeout="+timeout.String())
	cmd.Dir, cmd.Env = p.Dir, env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		r.crash = err.Error()
		return r
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		r.crash = err.Error()
		return r
	}
	// Each test's own lines, and how it ended.
	lines := map[string][]string{}
	ended := map[string]string{}
	var order []string
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var last string
	for sc.Scan() {
		var e event
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		switch e.Action {
		case "output":
			if e.Test != "" {
				lines[e.Test] = append(lines[e.Test], strings.TrimRight(e.Output, "\n"))
			} else if t := strings.TrimSpace(e.Output); t != "" && t != "PASS" && t != "FAIL" {
				last = t
			}
		case "pass", "fail", "skip":
			if e.Test != "" {
				if _, seen := ended[e.Test]; !seen {
					order = append(order, e.Test)
				}
				ended[e.Test] = e.Action
			}
		}
	}
	werr := cmd.Wait()
	for _, t := range order {
		if strings.Contains(t, "/") {
			continue // a subtest counts in its top-level test
		}
		r.run++
		switch ended[t] {
		case "pass":
			r.passed++
		case "skip":
			r.skipped++
			r.skips = append(r.skips, t+": "+why(lines[t]))
		case "fail":
			if real := realFailure(t, lines, ended); real != "" {
				r.failed++
				r.failures = append(r.failures, t+": "+real)
			} else {
				r.passed++
				r.cleanupOnly++
			}
		}
	}
	var exit *exec.ExitError
	if werr != nil && !errors.As(werr, &exit) || r.run == 0 && werr != nil {
		r.crash = firstLine(last + " " + fmt.Sprint(werr))
	}
	return r
}

// realFailure is the first line of test t's (or a subtest's) failure that
// is not the testing package's refused cleanup of its temporary folder;
// "" when there is none.
func realFailure(t string, lines map[string][]string, ended map[string]string) string {
	for name, ls := range lines {
		if name != t && !strings.HasPrefix(name, t+"/") || ended[name] != "fail" {
			continue
		}
		for _, l := range ls {
			l = strings.TrimSpace(l)
			switch {
			case l == "", strings.HasPrefix(l, "=== "), strings.HasPrefix(l, "--- "):
			case strings.Contains(l, "TempDir RemoveAll cleanup") && strings.Contains(l, "Invalid function"):
			default:
				return name + ": " + l
			}
		}
	}
	return ""
}

// why is a skipped test's reason: its last line.
func why(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" && !strings.HasPrefix(l, "--- ") && !strings.HasPrefix(l, "=== ") {
			return l
		}
	}
	return "(no reason given)"
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// report prints the table and every failure and skip with its reason.
func report(w io.Writer, results []result) {
	sort.Slice(results, func(i, j int) bool { return results[i].pkg < results[j].pkg })
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PACKAGE\tRUN\tPASSED\t(CLEANUP REFUSED BY WINE)\tFAILED\tSKIPPED\tTIME")
	var run, passed, cleanup, failed, skipped int
	for _, r := range results {
		status := ""
		if r.buildErr != "" {
			status = "  build failed: " + r.buildErr
		} else if r.crash != "" {
			status = "  did not finish: " + r.crash
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s%s\n", r.pkg, r.run, r.passed, r.cleanupOnly, r.failed, r.skipped, r.took.Round(time.Second), status)
		run, passed, cleanup, failed, skipped = run+r.run, passed+r.passed, cleanup+r.cleanupOnly, failed+r.failed, skipped+r.skipped
	}
	fmt.Fprintf(tw, "all\t%d\t%d\t%d\t%d\t%d\t\n", run, passed, cleanup, failed, skipped)
	tw.Flush()
	for _, r := range results {
		for _, f := range r.failures {
			fmt.Fprintf(w, "FAIL %s %s\n", r.pkg, f)
		}
		for _, s := range r.skips {
			fmt.Fprintf(w, "SKIP %s %s\n", r.pkg, s)
		}
	}
}
