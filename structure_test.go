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

// TestImportDirection keeps the arrow main → ui → app → relay, and each
// layer free of what the layering (README, Layout) keeps out of it.
func TestImportDirection(t *testing.T) {
	rules := []struct {
		under     string // packages this rule covers
		forbidden string // import path prefix they must not reach
		why       string
	}{
		{"keypool/relay", "fyne.io/", "the relay has no GUI"},
		{"keypool/relay", "go.etcd.io/bbolt", "the relay gets storage through interfaces"},
		{"keypool/relay", "github.com/zalando/go-keyring", "the relay gets credentials through interfaces"},
		{"keypool/relay", "keypool/app", "imports point app → relay"},
		{"keypool/relay", "keypool/ui", "imports point ui → relay"},
		{"keypool/app", "fyne.io/", "app has no GUI code"},
		{"keypool/app", "keypool/ui", "imports point ui → app"},
	}
	// The store keeps records through relay/record, a leaf, never the
	// HTTP relay; the leaves reach no other package of Keypool's.
	exact := []struct{ under, forbidden, why string }{
		{"keypool/app/store", "keypool/relay", "the store keeps records through keypool/relay/record"},
	}
	leaves := map[string][]string{"keypool/relay/pool": nil, "keypool/relay/record": {"keypool/relay/pool"}}
	for _, p := range listPackages(t) {
		for _, r := range rules {
			if p.ImportPath != r.under && !strings.HasPrefix(p.ImportPath, r.under+"/") {
				continue
			}
			for _, d := range p.Deps {
				if strings.HasPrefix(d, r.forbidden) {
					t.Errorf("%s imports %s: %s", p.ImportPath, d, r.why)
				}
			}
		}
		for _, r := range exact {
			if p.ImportPath == r.under || strings.HasPrefix(p.ImportPath, r.under+"/") {
				if slices.Contains(p.Deps, r.forbidden) {
					t.Errorf("%s imports %s: %s", p.ImportPath, r.forbidden, r.why)
				}
			}
		}
		if allowed, leaf := leaves[p.ImportPath]; leaf {
			for _, d := range p.Deps {
				if strings.HasPrefix(d, "keypool/") && !slices.Contains(allowed, d) {
					t.Errorf("%s imports %s: it is a leaf", p.ImportPath, d)
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
}

// TestUIFacade: the desktop app reaches Keypool through package app alone
// (and its own assets), never the relay, the store, the keychain or the
// CLIs' configs directly.
func TestUIFacade(t *testing.T) {
	allowed := map[string]bool{"keypool/app": true, "keypool/assets": true}
	for _, p := range listPackages(t) {
		if p.ImportPath != "keypool/ui" {
			continue
		}
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, "keypool/") && !allowed[imp] {
				t.Errorf("keypool/ui imports %s: it goes through keypool/app (app/desktop.go)", imp)
			}
		}
	}
}

// TestMainFacade: the commands and the desktop app's start reach Keypool
// through package app and the window through package ui, nothing else of
// Keypool's: the config, the data dir's paths, the store, the keychain and
// the CLIs' configs are app's to resolve.
func TestMainFacade(t *testing.T) {
	allowed := map[string]bool{"keypool/app": true, "keypool/ui": true}
	found := false
	for _, p := range listPackages(t) {
		if p.ImportPath != "keypool" {
			continue
		}
		found = true
		for _, imp := range p.Imports {
			if (imp == "keypool" || strings.HasPrefix(imp, "keypool/")) && !allowed[imp] {
				t.Errorf("package main imports %s: it goes through keypool/app or keypool/ui", imp)
			}
		}
	}
	if !found {
		t.Error("go list has no package keypool (the commands)")
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

// TestReadmeLayout: the README's layout section names every folder and
// top-level file of the repository (but the usual ones: go.mod, README…).
func TestReadmeLayout(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, layout, ok := strings.Cut(string(readme), "\n## Layout\n")
	if !ok {
		t.Fatal("README has no Layout section")
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
			t.Errorf("README's layout does not mention %s (from %s)", name, f)
		}
	}
}
