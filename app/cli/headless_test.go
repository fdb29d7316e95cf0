package cli

import (
	"bufio"
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"keypool/internal/dirtest"
	"keypool/relay/relaytest"
)

// The headless build (make build-headless) is built without cgo: a static
// binary that loads no library at all, Fyne's GL and X11 least of all. Run
// with no command, as a service or container runs it, it serves: /health
// answers, and a request goes through to an upstream.
func TestHeadlessBuild(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the ELF checks are Linux's")
	}
	bin := filepath.Join(t.TempDir(), "keypool-headless")
	build := exec.Command("go", "build", "-trimpath", "-o", bin, "keypool")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, out)
	}

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the headless binary names a dynamic loader (PT_INTERP), want a static binary")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("the headless binary needs %q (%v), want no library", libs, err)
	}
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range info.Deps {
		if strings.HasPrefix(d.Path, "fyne.io/") || strings.HasPrefix(d.Path, "github.com/go-gl/") {
			t.Errorf("the headless binary holds %s, want no GUI module", d.Path)
		}
	}

	up := relaytest.New()
	defer up.Close()
	up.Default = relaytest.Reply{Body: relaytest.Message("claude-sonnet-4-5", "hello headless", 3, 2)}
	dir := dirtest.New(t)
	cfg := filepath.Join(dir, "config.toml")
	doc := fmt.Sprintf("api_keys = [\"kp-headless-key\"]\n[[accounts]]\ntype = \"claude-api\"\nid = \"a\"\napi_key = \"sk-ant-headless-secret\"\napi_url = %q\n", up.URL)
	if err := os.WriteFile(cfg, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", cfg, "--data-dir", filepath.Join(dir, "data"), "--port", "0")
	// No display, no session bus: as on a server.
	cmd.Env = append(envWithout(os.Environ(), "DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS"), "HOME="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		if err := cmd.Wait(); err != nil {
			t.Errorf("keypool-headless after Ctrl-C: %v, want a clean stop\n%s", err, stderr.String())
		}
	}()
	base := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, at, ok := strings.Cut(sc.Text(), "running at "); ok {
				url, _, _ := strings.Cut(at, " ")
				base <- strings.TrimSuffix(url, ".")
				break
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	var url string
	select {
	case url = <-base:
	case <-time.After(20 * time.Second):
		t.Fatalf("keypool-headless did not say where it runs in 20 s\n%s", stderr.String())
	}

	resp, err := http.Get(url + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /health: %s, want 200", resp.Status)
	}
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/messages",
		strings.NewReader(`{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Api-Key", "kp-headless-key")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "hello headless") || up.Count() != 1 {
		t.Errorf("POST /v1/messages: %s %s (upstream saw %d), want the upstream's answer", resp.Status, b, up.Count())
	}
}

// make package ships the headless binary in an archive of its own,
// build/keypool-headless-OS-ARCH.tar.xz: keypool, static, and
// config.example.toml. (make package-headless is what it runs for that;
// here into a scratch dir.)
func TestPackageHeadless(t *testing.T) {
	for _, tool := range []string{"make", "tar", "xz"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is missing: %v", tool, err)
		}
	}
	dir := dirtest.New(t)
	archive := filepath.Join(dir, "keypool-headless.tar.xz")
	vars := []string{"HEADLESS_BIN=" + filepath.Join(dir, "keypool-headless"), "HEADLESS_TAR=" + archive}
	makeCmd := func(args ...string) *exec.Cmd {
		cmd := exec.Command("make", append(args, vars...)...)
		cmd.Dir = "../.." // the repository's Makefile
		// Not the flags of a make test this runs under.
		cmd.Env = envWithout(os.Environ(), "MAKEFLAGS", "MFLAGS", "MAKELEVEL")
		return cmd
	}
	plan, err := makeCmd("-n", "package").CombinedOutput()
	if err != nil || !strings.Contains(string(plan), "-cJf "+archive) {
		t.Errorf("make -n package: %v\n%s\nwant it to write %s", err, plan, archive)
	}
	if out, err := makeCmd("package-headless").CombinedOutput(); err != nil {
		t.Fatalf("make package-headless: %v\n%s", err, out)
	}
	list, err := exec.Command("tar", "-tJf", archive).Output()
	if err != nil {
		t.Fatalf("tar -tJf %s: %v", archive, err)
	}
	if got := strings.Fields(string(list)); strings.Join(got, " ") != "keypool config.example.toml" {
		t.Errorf("the archive holds %q, want keypool and config.example.toml", got)
	}
	unpacked := filepath.Join(dir, "unpacked")
	os.Mkdir(unpacked, 0o755)
	if out, err := exec.Command("tar", "-xJf", archive, "-C", unpacked).CombinedOutput(); err != nil {
		t.Fatalf("tar -xJf: %v\n%s", err, out)
	}
	if runtime.GOOS == "linux" {
		f, err := elf.Open(filepath.Join(unpacked, "keypool"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
			t.Errorf("the archive's keypool needs %q, want the static headless binary", libs)
		}
	}
}
