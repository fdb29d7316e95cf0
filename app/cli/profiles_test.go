package cli

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"keypool/app/secrets"
	"keypool/internal/dirtest"
	"keypool/relay/relaytest"
)

// Profiles from the command line: checked as they are added, listed, and,
// with a relay running, served at once: a client with the profile's key is
// served by its accounts only, one without a key by the whole pool, which
// the profile's key leaves open.
func TestProfilesCommands(t *testing.T) {
	keys := cliKeychain(t)
	dir := dirtest.New(t)
	home, work := relaytest.New(), relaytest.New()
	defer home.Close()
	defer work.Close()
	a := startRelay(t, dir, keys)
	t.Cleanup(func() { keys.DeleteAll(secrets.Account("home")); keys.DeleteAll(secrets.Account("work")) })
	cli := cliOn(dir)
	must := func(_ string, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(cli("sk-ant-home-secret\n", "accounts", "add", "--id", "home", "--priority", "100", "--api-url", home.URL))
	must(cli("sk-ant-work-secret\n", "accounts", "add", "--id", "work", "--priority", "10", "--api-url", work.URL))

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"profiles", "add", "job", "--accounts", "nope"}, "there is no account nope (the accounts: home, work)"},
		{[]string{"profiles", "add", "job"}, "name at least one account"},
		{[]string{"profiles", "add", "job", "--accounts", "work,work"}, "account work is named twice"},
		{[]string{"profiles", "add", "my job", "--accounts", "work"}, `profile "my job": a name may only contain`},
		{[]string{"profiles", "remove", "job"}, "no such profile: job"},
	} {
		if _, err := cli("", tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want an error saying %q", tt.args, err, tt.want)
		}
	}
	out, err := cli("", "profiles", "add", "job", "--accounts", "work")
	if err != nil {
		t.Fatal(err)
	}
	key := regexp.MustCompile(`kp-[A-Za-z0-9_-]+`).FindString(out)
	if key == "" || !strings.Contains(out, "Added profile job (work)") {
		t.Fatalf("profiles add printed:\n%s\nwant the profile and its key", out)
	}
	if _, err := cli("", "profiles", "add", "job", "--accounts", "work"); err == nil || !strings.Contains(err.Error(), "profile job exists") {
		t.Errorf("a second profile job: %v, want an error saying it exists", err)
	}
	if out, _ := cli("", "profiles", "list"); !strings.Contains(out, "job") || !strings.Contains(out, "work") || strings.Contains(out, key) {
		t.Errorf("profiles list:\n%s\nwant job with work, and not the key's value", out)
	}

	n := 0
	post := func(key string) int {
		n++ // a new conversation each time
		req, _ := http.NewRequest("POST", a.URL()+"/v1/messages",
			strings.NewReader(`{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"turn `+strconv.Itoa(n)+`"}]}`))
		if key != "" {
			req.Header.Set("X-Api-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post(""); code != 200 || home.Count() != 1 || work.Count() != 0 {
		t.Errorf("no key: %d, home %d, work %d; want the whole pool (home)", code, home.Count(), work.Count())
	}
	if code := post(key); code != 200 || work.Count() != 1 || home.Count() != 1 {
		t.Errorf("the profile's key: %d, home %d, work %d; want work only", code, home.Count(), work.Count())
	}
	must(cli("", "profiles", "remove", "job"))
	if code := post(key); code != 200 || home.Count() != 2 {
		t.Errorf("the removed profile's key: %d, home %d; want it treated as no key on an open relay", code, home.Count())
	}
}

// connect --project writes a project's files with its profile's key,
// keypool clients lists the project, and disconnect --project puts the
// files back.
func TestConnectProjectCommand(t *testing.T) {
	keys := cliKeychain(t)
	dir, home, project := dirtest.New(t), dirtest.New(t), dirtest.New(t)
	t.Setenv("HOME", home)
	up := relaytest.New()
	defer up.Close()
	t.Cleanup(func() { keys.DeleteAll(secrets.Account("work")) })
	cli := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append(args, "--data-dir", dir), strings.NewReader("sk-ant-work-secret\n"), &out, &errOut)
		return out.String(), err
	}
	if _, err := cli("accounts", "add", "--id", "work", "--api-url", up.URL); err != nil {
		t.Fatal(err)
	}
	out, err := cli("profiles", "add", "job", "--accounts", "work")
	if err != nil {
		t.Fatal(err)
	}
	key := regexp.MustCompile(`kp-[A-Za-z0-9_-]+`).FindString(out)
	if _, err := cli("connect", "claude", "--project", project); err == nil || !strings.Contains(err.Error(), "--profile") {
		t.Errorf("--project without --profile: %v", err)
	}
	if _, err := cli("connect", "claude", "--project", project, "--profile", "nope"); err == nil || !strings.Contains(err.Error(), "no such profile: nope") {
		t.Errorf("an unknown profile: %v", err)
	}
	if out, err := cli("connect", "claude", "--project", project, "--profile", "job"); err != nil || !strings.Contains(out, "with profile job") {
		t.Fatalf("connect --project: %q, %v", out, err)
	}
	settings, _ := os.ReadFile(filepath.Join(project, ".claude", "settings.local.json"))
	if !strings.Contains(string(settings), `"ANTHROPIC_AUTH_TOKEN":"`+key+`"`) {
		t.Errorf("the project's settings.local.json:\n%s\nwant the profile's key", settings)
	}
	if out, _ := cli("clients"); !strings.Contains(out, project) || !strings.Contains(out, "profile job") {
		t.Errorf("keypool clients:\n%s\nwant the project", out)
	}
	if _, err := cli("disconnect", "claude", "--project", project); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(project, ".claude", "settings.local.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("settings.local.json after disconnect: %v, want it gone", err)
	}
	if out, _ := cli("clients"); strings.Contains(out, project) {
		t.Errorf("keypool clients after disconnect:\n%s", out)
	}
}

// Codex reads no project config: connect codex --project writes no file
// and the running relay serves the sessions started in the project with
// its profile, by the folder each request names.
func TestConnectCodexProjectRoutesByFolder(t *testing.T) {
	keys := cliKeychain(t)
	dir, home, project := dirtest.New(t), dirtest.New(t), dirtest.New(t)
	t.Setenv("HOME", home)
	homeUp, workUp := relaytest.New(), relaytest.New()
	defer homeUp.Close()
	defer workUp.Close()
	a := startRelay(t, dir, keys)
	t.Cleanup(func() { keys.DeleteAll(secrets.Account("home")); keys.DeleteAll(secrets.Account("work")) })
	cli := cliOn(dir)
	for _, c := range [][]string{
		{"sk-home\n", "accounts", "add", "--id", "home", "--type", "openai-responses", "--priority", "100", "--api-url", homeUp.URL},
		{"sk-work\n", "accounts", "add", "--id", "work", "--type", "openai-responses", "--priority", "10", "--api-url", workUp.URL},
		{"", "profiles", "add", "job", "--accounts", "work"},
	} {
		if _, err := cli(c[0], c[1:]...); err != nil {
			t.Fatal(err)
		}
	}
	out, err := cli("", "connect", "codex", "--project", project, "--profile", "job")
	if err != nil || !strings.Contains(out, "Codex sessions started in "+project+" (or below) are served by profile job only") {
		t.Fatalf("connect codex --project: %q, %v", out, err)
	}
	if entries, _ := os.ReadDir(project); len(entries) != 0 {
		t.Errorf("the project holds %d files, want none (Codex reads none)", len(entries))
	}
	ask := func(cwd string) string {
		body := `{"model":"gpt-5","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"<environment_context>\n  <cwd>` + cwd + `</cwd>\n</environment_context>"}]}]}`
		resp, err := http.Post(a.URL()+"/openai/v1/responses", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("X-Keypool-Account")
	}
	if got := ask(filepath.Join(project, "src")); got != "work" {
		t.Errorf("a session started in the project was served by %q, want work", got)
	}
	if got := ask(home); got != "home" {
		t.Errorf("a session started elsewhere was served by %q, want home", got)
	}
	if _, err := cli("", "disconnect", "codex", "--project", project); err != nil {
		t.Fatal(err)
	}
	if got := ask(project); got != "home" {
		t.Errorf("after disconnect --project, served by %q, want the whole pool (home)", got)
	}
}

// cliOn runs keypool commands on dir's data, each given stdin, and
// returns what they print.
func cliOn(dir string) func(stdin string, args ...string) (string, error) {
	return func(stdin string, args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append(args, "--data-dir", dir), strings.NewReader(stdin), &out, &errOut)
		return out.String(), err
	}
}
