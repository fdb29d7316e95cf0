package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

type pkgInfo struct {
	ImportPath string
	Dir        string
	Deps       []string
	Imports    []string
	GoFiles    []string
}

func listPackages(t *testing.T) []pkgInfo {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", "-deps=false", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkgInfo
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkgInfo
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		// Deps of the package's non-test code.
		d, err := exec.Command("go", "list", "-f", `{{join .Deps "\n"}}`, p.ImportPath).Output()
		if err != nil {
			t.Fatalf("go list deps %s: %v", p.ImportPath, err)
		}
		p.Deps = strings.Fields(string(d))
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// allowedImports is the whole package graph as it is meant to be: for each
// of Keypool's packages, the packages of Keypool's it may import (its
// non-test code). The arrows point main → ui → app → relay; relay/* never
// imports app, app/* never imports ui; the wire packages (pool, record,
// sse, wire, session, guard) are leaves or nearly. A new package, or a new
// arrow, is added here on purpose.
var allowedImports = map[string][]string{
	"keypool":                  {"envfix", "app/cli", "ui/desktop"},
	"ui/desktop":               {"app", "app/cli", "ui"},
	"ui":                       {"envfix", "app", "assets"},
	"ui/internal/xconn":        nil,
	"app/cli":                  {"app"},
	"app":                      {"app/autostart", "app/clients", "app/config", "app/prices", "app/secrets", "app/store", "app/tokens", "app/update", "app/version", "relay", "relay/guard", "relay/oauth", "relay/pool", "relay/provider", "relay/runway", "relay/sched", "relay/upstream"},
	"app/autostart":            nil,
	"app/clients":              nil,
	"app/config":               {"relay/pool", "relay/provider"},
	"app/prices":               {"relay/pool"},
	"app/secrets":              nil,
	"app/secrets/secretstest":  {"app/secrets", "internal/reruntest"},
	"app/store":                {"app/store/journal", "relay/pool", "relay/record", "relay/sched"},
	"app/store/disktest":       {"internal/dirtest", "internal/reruntest"},
	"app/store/journal":        nil,
	"app/version":              nil,
	"app/update":               {"app/version"},
	"internal/releasemanifest": {"app/update", "app/version"},
	"internal/packaging":       {"app/version"},
	"internal/wintest":         nil,
	"app/tokens":               {"relay/oauth", "relay/pool"},
	"assets":                   nil,
	"bench":                    nil,
	"internal/dirtest":         nil,
	"internal/reruntest":       nil,
	"internal/systemdtest":     {"internal/dirtest"},
	"internal/waittest":        nil,
	"relay":                    {"relay/anthropic", "relay/convert", "relay/failover", "relay/gemini", "relay/guard", "relay/openai", "relay/pool", "relay/provider", "relay/record", "relay/runway", "relay/sched", "relay/session", "relay/sse", "relay/upstream", "relay/wire"},
	"relay/anthropic":          {"relay/failover", "relay/pool", "relay/sse", "relay/wire"},
	"relay/convert":            {"relay/sse"},
	"relay/failover":           {"relay/pool"},
	"relay/gemini":             {"relay/failover", "relay/pool", "relay/sse", "relay/wire"},
	"relay/guard":              nil,
	"relay/oauth":              nil,
	"relay/openai":             {"relay/failover", "relay/pool", "relay/sse", "relay/wire"},
	"relay/pool":               nil,
	"relay/provider":           {"relay/anthropic", "relay/failover", "relay/gemini", "relay/oauth", "relay/openai", "relay/pool", "relay/sse"},
	"relay/record":             {"relay/pool"},
	"relay/relaytest":          nil,
	"relay/runway":             {"relay/pool"},
	"relay/sched":              {"relay/pool", "relay/runway"},
	"relay/session":            nil,
	"relay/sse":                nil,
	"relay/upstream":           {"relay/pool"},
	"relay/wire":               nil,
}

// TestImportGraph holds every package of Keypool's to allowedImports, read
// from go list, and each layer free of the libraries it keeps out: the
// relay has no GUI, no bbolt and no keychain; app has no GUI.
func TestImportGraph(t *testing.T) {
	short := func(path string) string {
		if path == "keypool" {
			return path
		}
		return strings.TrimPrefix(path, "keypool/")
	}
	libraries := []struct {
		under     string // packages this rule covers
		forbidden string // import path prefix they must not reach
		why       string
	}{
		{"keypool/relay", "fyne.io/", "the relay has no GUI"},
		{"keypool/relay", "go.etcd.io/bbolt", "the relay gets storage through interfaces"},
		{"keypool/relay", "github.com/zalando/go-keyring", "the relay gets credentials through interfaces"},
		{"keypool/app", "fyne.io/", "app has no GUI code"},
	}
	seen := map[string]bool{}
	for _, p := range listPackages(t) {
		name := short(p.ImportPath)
		seen[name] = true
		allowed, ok := allowedImports[name]
		if !ok {
			t.Errorf("%s is not in allowedImports: add its row, with the packages it may import", p.ImportPath)
			continue
		}
		for _, imp := range p.Imports {
			if imp != "envfix" && !strings.HasPrefix(imp, "keypool/") {
				continue
			}
			if !slices.Contains(allowed, short(imp)) {
				t.Errorf("%s imports %s, which allowedImports does not allow it", p.ImportPath, imp)
			}
		}
		for _, r := range libraries {
			if p.ImportPath != r.under && !strings.HasPrefix(p.ImportPath, r.under+"/") {
				continue
			}
			for _, d := range p.Deps {
				if strings.HasPrefix(d, r.forbidden) {
					t.Errorf("%s imports %s: %s", p.ImportPath, d, r.why)
				}
			}
		}
		if !strings.HasSuffix(p.ImportPath, "test") { // relaytest, secretstest, dirtest…: helpers for tests
			for _, d := range p.Deps {
				if d == "testing" || strings.HasPrefix(d, "keypool/") && strings.HasSuffix(d, "test") {
					t.Errorf("non-test code of %s imports %s", p.ImportPath, d)
				}
			}
		}
	}
	for name := range allowedImports {
		if !seen[name] {
			t.Errorf("allowedImports has a row for %s, which go list does not find", name)
		}
	}
}

// TestImportGraphRules: the table itself keeps the layering. relay/*
// never imports app or ui; app/* never imports ui; only ui/desktop and
// main reach the window.
func TestImportGraphRules(t *testing.T) {
	for pkg, imports := range allowedImports {
		for _, imp := range imports {
			switch {
			case (pkg == "relay" || strings.HasPrefix(pkg, "relay/")) && (imp == "app" || strings.HasPrefix(imp, "app/") || imp == "ui" || strings.HasPrefix(imp, "ui/")):
				t.Errorf("allowedImports lets %s import %s: imports point app → relay", pkg, imp)
			case (pkg == "app" || strings.HasPrefix(pkg, "app/")) && (imp == "ui" || strings.HasPrefix(imp, "ui/")):
				t.Errorf("allowedImports lets %s import %s: imports point ui → app", pkg, imp)
			case pkg == "app/store" && imp == "relay":
				t.Errorf("allowedImports lets the store import the HTTP relay: records go through relay/record")
			}
		}
	}
}

// TestRootHoldsMain: the repository's root holds main.go (which chooses
// between the desktop app and a command) and this test; the commands live
// in app/cli, the desktop app's start in ui/desktop.
func TestRootHoldsMain(t *testing.T) {
	goFiles, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range goFiles {
		if f != "main.go" && f != "main_test.go" {
			t.Errorf("%s is at the root: the root holds main.go alone (commands go in app/cli)", f)
		}
	}
}

// TestPackageDocs: every package says what it is for.
func TestPackageDocs(t *testing.T) {
	for _, p := range listPackages(t) {
		fset := token.NewFileSet()
		documented := false
		for _, f := range p.GoFiles {
			af, err := parser.ParseFile(fset, filepath.Join(p.Dir, f), nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			if af.Doc != nil && strings.HasPrefix(af.Doc.Text(), "Package "+af.Name.Name+" ") || af.Name.Name == "main" && af.Doc != nil {
				documented = true
			}
		}
		if !documented {
			t.Errorf("%s has no package doc comment", p.ImportPath)
		}
	}
}

// TestTrackedFiles keeps build products out of the repository: no tracked
// file over 1 MiB, and no compiled executable outside assets/ (a test
// binary was committed once).
func TestTrackedFiles(t *testing.T) {
	out, err := exec.Command("git", "ls-files", "-z").Output()
	if err != nil {
		t.Skipf("not a git checkout (%v): nothing tracked to check", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		fi, err := os.Lstat(name)
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the work tree, or a symlink
		}
		if fi.Size() > 1<<20 {
			t.Errorf("%s is tracked and %d bytes, over 1 MiB: build products and data dumps stay out of git", name, fi.Size())
		}
		if strings.HasPrefix(name, "assets/") {
			continue
		}
		if kind := executableKind(name); kind != "" {
			t.Errorf("%s is a tracked %s executable: remove it (git rm --cached) and build it instead", name, kind)
		}
	}
}

// executableKind names the object format of a compiled program by its magic
// bytes (ELF, Mach-O, PE), or "" for anything else (scripts included).
func executableKind(name string) string {
	f, err := os.Open(name)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 4)
	if n, _ := io.ReadFull(f, head); n < 4 {
		return ""
	}
	switch {
	case bytes.Equal(head, []byte{0x7f, 'E', 'L', 'F'}):
		return "ELF"
	case bytes.Equal(head[:2], []byte("MZ")):
		return "Windows (PE)"
	}
	switch binary.LittleEndian.Uint32(head) {
	case 0xfeedface, 0xfeedfacf, 0xcafebabe, 0xbebafeca:
		return "Mach-O"
	}
	return ""
}

// TestDocsLayout: the architecture page's layout section names every
// folder and top-level file of the repository (but the usual ones: go.mod,
// README…).
func TestDocsLayout(t *testing.T) {
	page, err := os.ReadFile("docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	_, layout, ok := strings.Cut(string(page), "\n## Layout\n")
	if !ok {
		t.Fatal("docs/architecture.md has no Layout section")
	}
	layout, _, _ = strings.Cut(layout, "\n## ")
	out, err := exec.Command("git", "ls-files").Output()
	if err != nil {
		t.Skipf("not a git checkout: %v", err)
	}
	obvious := map[string]bool{"go.mod": true, "go.sum": true, "README.md": true, ".gitignore": true}
	seen := map[string]bool{}
	for _, f := range strings.Fields(string(out)) {
		name := f
		if dir := filepath.Dir(f); dir != "." {
			name = filepath.Base(dir) + "/" // a folder: named by its last part
			if strings.HasPrefix(f, "internal/") || strings.HasPrefix(f, ".ci/") {
				name = dir + "/"
				if dir == ".ci" {
					name = ".ci/run"
				}
			}
		} else if strings.HasSuffix(f, "_test.go") || obvious[f] {
			continue
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		if !strings.Contains(layout, name) {
			t.Errorf("docs/architecture.md's layout does not mention %s (from %s)", name, f)
		}
	}
}
