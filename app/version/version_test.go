package version

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestFromDescribe(t *testing.T) {
	tests := []struct {
		name, describe, commit, want string
	}{
		{"tag", "v1.4.0-0-g1a2b3c4d5e6f", "1a2b3c4d5e6f", "1.4.0"},
		{"tag_dirty", "v1.4.0-0-g1a2b3c4d5e6f-dirty", "1a2b3c4d5e6f", "1.4.0+dirty"},
		{"between_tags", "v1.4.0-3-g1a2b3c4d5e6f", "1a2b3c4d5e6f", "1.4.0-3-g1a2b3c4d5e6f"},
		{"between_tags_dirty", "v1.4.0-3-g1a2b3c4-dirty", "1a2b3c4", "1.4.0-3-g1a2b3c4+dirty"},
		{"prerelease_tag", "v2.0.0-rc.1-0-gabcdef0", "abcdef0", "2.0.0-rc.1"},
		{"no_tag", "", "1a2b3c4d5e6f", "0.0.0-dev+1a2b3c4d5e6f"},
		{"no_tag_no_commit", "", "", "0.0.0-dev"},
		{"not_a_version_tag", "release-7-g1a2b3c4", "1a2b3c4", "0.0.0-dev+1a2b3c4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FromDescribe(tt.describe, tt.commit)
			if got != tt.want {
				t.Errorf("FromDescribe(%q, %q) = %q, want %q", tt.describe, tt.commit, got, tt.want)
			}
			if !Valid(got) {
				t.Errorf("%q is not a semantic version", got)
			}
		})
	}
}

// The version of a real repository, as make reads it: on a tag, between
// tags, and with no tag at all.
func TestVersionOfARepository(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is missing")
	}
	dir := t.TempDir()
	git := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		out, err := cmd.Output()
		if err != nil && args[0] != "describe" {
			t.Fatalf("git %s: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	describe := func() string {
		cmd := exec.Command("sh", "-c", DescribeCommand)
		cmd.Dir = dir
		out, _ := cmd.Output() // no tag: git describe fails, and make passes ""
		return strings.TrimSpace(string(out))
	}
	commitFile := func(name string) string {
		os.WriteFile(filepath.Join(dir, name), []byte(name), 0o644)
		git("add", name)
		git("commit", "-q", "-m", name)
		return git("rev-parse", "--short=12", "HEAD")
	}
	git("init", "-q")
	c := commitFile("a")
	if got := FromDescribe(describe(), c); got != "0.0.0-dev+"+c {
		t.Errorf("no tag: %q, want 0.0.0-dev+%s", got, c)
	}
	git("tag", "v1.2.0")
	git("tag", "nightly") // not a release tag: ignored
	if got := FromDescribe(describe(), c); got != "1.2.0" {
		t.Errorf("on tag v1.2.0: %q, want 1.2.0", got)
	}
	commitFile("b")
	c = commitFile("c")
	if got := FromDescribe(describe(), c); !strings.HasPrefix(got, "1.2.0-2-g") || Compare(got, "1.2.0") <= 0 || Compare(got, "1.2.1") >= 0 {
		t.Errorf("two commits after v1.2.0: %q, want 1.2.0-2-g<commit>, ordered after 1.2.0 and before 1.2.1", got)
	}
	os.WriteFile(filepath.Join(dir, "c"), []byte("changed"), 0o644)
	if got := FromDescribe(describe(), c); !strings.HasSuffix(got, "+dirty") {
		t.Errorf("with a changed tree: %q, want +dirty", got)
	}
}

func TestCompare(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"1.2.0", "1.10.0", -1},
		{"1.2.0", "1.2.0", 0},
		{"2.0.0", "2.0.0-rc.1", 1},
		{"0.0.0-dev+abc", "0.1.0", -1},
		{"nonsense", "0.0.1", -1},
		// Between tags: after the tag, before the next release.
		{"1.4.0-3-g1a2b3c4", "1.4.0", 1},
		{"1.4.0", "1.4.0-3-g1a2b3c4", -1},
		{"1.4.0-3-g1a2b3c4", "1.4.1", -1},
		{"1.4.0-3-g1a2b3c4", "1.4.1-rc.1", -1},
		{"1.4.0-3-g1a2b3c4", "1.4.0-12-g5d6e7f8", -1},
		{"1.4.0-3-g1a2b3c4+dirty", "1.4.0-3-g1a2b3c4", 0},
		{"1.5.0-rc.1-2-gabc", "1.5.0-rc.1", 1},
		{"1.5.0-rc.1-2-gabc", "1.5.0", -1},
	} {
		if got := Compare(tt.a, tt.b); got != tt.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

// make builds with the same git describe the tests read.
func TestMakefileReadsTheTag(t *testing.T) {
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{DescribeCommand, "keypool/app/version.describe", "keypool/app/version.commit", "keypool/app/version.buildDate"} {
		if !strings.Contains(string(mk), want) {
			t.Errorf("the Makefile does not contain %q", want)
		}
	}
}

func TestValid(t *testing.T) {
	for v, want := range map[string]bool{
		"1.4.0": true, "1.4.0-rc.1": true, "1.4.0-3-g1a2b3c4": true, "0.0.0-dev+abc": true,
		"1": false, "1.2": false, "v1.2.3": false, "": false, "1.2.3.4": false,
	} {
		if got := Valid(v); got != want {
			t.Errorf("Valid(%q) = %v, want %v", v, got, want)
		}
	}
}
