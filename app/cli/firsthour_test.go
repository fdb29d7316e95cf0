package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"keypool/internal/dirtest"
	"keypool/internal/reruntest"
)

// keypool --hidden is what the autostart entry runs; without a display it
// runs the relay headless instead of failing on its own flag. It listens on
// a port the system picks (--port 0), which the run file names.
func TestHiddenWithoutDisplayServes(t *testing.T) {
	t.Setenv("DISPLAY", "")
	t.Setenv("WAYLAND_DISPLAY", "")
	dir := dirtest.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out, errOut bytes.Buffer
	go func() {
		done <- run(ctx, []string{"--hidden", "--data-dir", dir, "--port", "0"}, strings.NewReader(""), &out, &errOut)
	}()
	var err error
	if !waitFor(10*time.Second, func() bool {
		var resp *http.Response
		var run struct{ Addr string }
		if b, rerr := os.ReadFile(filepath.Join(dir, "relay.json")); rerr != nil || json.Unmarshal(b, &run) != nil {
			err = fmt.Errorf("no run file yet: %v", rerr)
		} else if resp, err = http.Get("http://" + run.Addr + "/health"); err == nil {
			resp.Body.Close()
			return true
		}
		select {
		case err := <-done:
			t.Fatalf("keypool --hidden ended early: %v, want it serving\n%s", err, errOut.String())
		default:
		}
		return false
	}) {
		t.Fatalf("GET /health after 10 s: %v, want an answer", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("keypool --hidden after cancel: %v, want nil", err)
	}
	if !strings.Contains(errOut.String(), "no display") {
		t.Errorf("stderr = %q, want it to say it runs headless", errOut.String())
	}
}

// The account commands say what they did, in words.
func TestAccountsCommandWords(t *testing.T) {
	cliKeychain(t)
	dir := dirtest.New(t)
	cli := func(stdin string, args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := run(context.Background(), append(args, "--data-dir", dir), strings.NewReader(stdin), &out, io.Discard); err != nil {
			t.Fatalf("keypool %s: %v, want nil", args, err)
		}
		return out.String()
	}
	cli("sk-ant-words-secret\n", "accounts", "add", "--id", "words")
	for _, c := range []struct{ sub, want string }{{"disable", "words: disabled."}, {"enable", "words: enabled."}, {"remove", "words: removed."}} {
		if got := cli("", "accounts", c.sub, "words"); strings.TrimSpace(got) != c.want {
			t.Errorf("accounts %s said %q, want %q", c.sub, got, c.want)
		}
	}
	var help bytes.Buffer
	run(context.Background(), []string{"accounts", "add", "--help"}, strings.NewReader(""), io.Discard, &help)
	if !strings.Contains(help.String(), "read from standard input") || !strings.Contains(help.String(), "does not echo") {
		t.Errorf("accounts add --help does not say how the key is read (want \"read from standard input\" and \"does not echo\"):\n%s", help.String())
	}
}

// Under LANG=C.UTF-8, the default in containers, no command prints a
// warning from a library it does not use (Fyne printed three lines about the
// locale on every command). The commands run in a child process so that
// what the libraries print at start-up is seen.
func TestNoLibraryWarnings(t *testing.T) {
	if os.Getenv("KEYPOOL_WARNINGS_CHILD") == "1" {
		dir := dirtest.New(t)
		for _, args := range [][]string{
			{"--help"}, {"version"}, {"status", "--data-dir", dir}, {"accounts", "list", "--data-dir", dir},
			{"client-keys", "list", "--data-dir", dir}, {"env", "claude", "--data-dir", dir}, {"clients"},
			{"usage", "--data-dir", dir}, {"autostart", "status"}, {"serve", "--help"}, {"login", "--help"},
		} {
			var out bytes.Buffer
			err := run(context.Background(), args, strings.NewReader(""), &out, &out)
			fmt.Printf("keypool %s: err %v\n%s\n", strings.Join(args, " "), err, out.String())
		}
		return
	}
	cmd := exec.Command(os.Args[0], reruntest.Args(t)[1:]...)
	cmd.Env = append(envWithout(os.Environ(), "LANG", "LC_ALL", "LC_MESSAGES", "LANGUAGE"),
		"LANG=C.UTF-8", "KEYPOOL_WARNINGS_CHILD=1",
		"HOME="+dirtest.New(t), "XDG_CONFIG_HOME="+dirtest.New(t))
	out, err := cmd.CombinedOutput()
	reruntest.Report(t, "the commands under LANG=C.UTF-8", out, err)
	for _, bad := range []string{"Fyne error", "Error parsing user locale", "Cause:"} {
		if bytes.Contains(out, []byte(bad)) {
			t.Errorf("a command printed %q under LANG=C.UTF-8, want no library warning", bad)
		}
	}
}

// envWithout is env without the named variables.
func envWithout(env []string, names ...string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		keep := true
		for _, n := range names {
			keep = keep && name != n
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

// On a machine without a desktop session, keypool accounts add fails with a
// way that works without a desktop, and leaves no process behind: go-keyring
// would have run dbus-launch, which started a dbus-daemon and a
// gnome-keyring-daemon that outlived every failed try. The command runs in a
// child whose environment carries a marker; afterwards no process may carry
// it.
func TestAddWithoutSessionBusLeavesNoProcess(t *testing.T) {
	if os.Getenv("KEYPOOL_NOBUS_CHILD") == "1" {
		var out, errOut bytes.Buffer
		err := run(context.Background(), []string{"accounts", "add", "--id", "server", "--data-dir", dirtest.New(t)},
			strings.NewReader("sk-ant-nobus-secret\n"), &out, &errOut)
		if err == nil {
			t.Fatal("accounts add without a keychain: err = nil, want an error")
		}
		for _, want := range []string{"keypool serve --config", "dbus-run-session", "gnome-keyring-daemon --unlock"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("err = %q, want the headless way (%q) in it", err, want)
			}
		}
		if strings.Contains(err.Error(), "sk-ant-nobus-secret") {
			t.Error("the error shows the key, want it left out")
		}
		return
	}
	if _, err := exec.LookPath("dbus-launch"); err != nil {
		// Without dbus-launch nothing could be started anyway, and the test
		// would prove nothing; make deps installs it (dbus-x11).
		if os.Getenv("KEYPOOL_REQUIRE_KEYRING") == "1" {
			t.Fatal("dbus-launch is missing: make deps installs dbus-x11")
		}
		t.Skip("no dbus-launch here")
	}
	marker := "KEYPOOL_NOBUS_MARK=" + rand.Text()
	runDir := t.TempDir()
	home := dirtest.New(t)
	cmd := exec.Command(os.Args[0], reruntest.Args(t)[1:]...)
	cmd.Env = append(envWithout(os.Environ(), "DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR", "HOME", "KEYPOOL_KEYCHAIN_SERVICE"),
		"KEYPOOL_NOBUS_CHILD=1", "XDG_RUNTIME_DIR="+runDir, "HOME="+home, marker)
	out, err := cmd.CombinedOutput()
	// A daemon forked on the way out may still be starting, and there is
	// nothing to wait for when all is well: give it a moment to show up.
	time.Sleep(300 * time.Millisecond)
	if left := marked(marker); len(left) > 0 {
		for pid := range left {
			if p, err := os.FindProcess(pid); err == nil {
				p.Kill()
			}
		}
		t.Errorf("processes left behind by a failed accounts add (pid: command): %v, want none", left)
	}
	reruntest.Report(t, "accounts add with no session bus", out, err)
}

// marked finds the processes whose environment holds marker: pid → command.
func marked(marker string) map[int]string {
	out := map[int]string{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		env, err := os.ReadFile(filepath.Join(d, "environ"))
		if err != nil || !bytes.Contains(env, []byte(marker+"\x00")) {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(d))
		comm, _ := os.ReadFile(filepath.Join(d, "comm"))
		out[pid] = strings.TrimSpace(string(comm))
	}
	return out
}
