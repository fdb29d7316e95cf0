package main

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"keypool/app/version"
)

// Each form of app/version's version, as the packages carry it.
func TestPackageVersion(t *testing.T) {
	tests := []struct{ describe, commit, semver, pkg string }{
		{"v1.4.0-0-g1a2b3c4d5e6f", "1a2b3c4d5e6f", "1.4.0", "1.4.0"},
		{"v1.4.0-3-g1a2b3c4d5e6f", "1a2b3c4d5e6f", "1.4.0-3-g1a2b3c4d5e6f", "1.4.0+3.g1a2b3c4d5e6f"},
		{"v1.4.0-3-g1a2b3c4d5e6f-dirty", "1a2b3c4d5e6f", "1.4.0-3-g1a2b3c4d5e6f+dirty", "1.4.0+3.g1a2b3c4d5e6f.dirty"},
		{"v1.4.0-rc.1-0-g1a2b3c4d5e6f", "1a2b3c4d5e6f", "1.4.0-rc.1", "1.4.0~rc.1"},
		{"v1.4.0-rc.1-2-g1a2b3c4d5e6f", "1a2b3c4d5e6f", "1.4.0-rc.1-2-g1a2b3c4d5e6f", "1.4.0~rc.1+2.g1a2b3c4d5e6f"},
		{"v2.0.0-beta-x-0-gabc", "abc", "2.0.0-beta-x", "2.0.0~beta.x"},
		{"v1.4.0-0-g1a2b3c4d5e6f-dirty", "1a2b3c4d5e6f", "1.4.0+dirty", "1.4.0+dirty"},
		{"", "1a2b3c4d5e6f", "0.0.0-dev+1a2b3c4d5e6f", "0.0.0~dev+1a2b3c4d5e6f"},
		{"", "", "0.0.0-dev", "0.0.0~dev"},
	}
	for _, tt := range tests {
		v := version.FromDescribe(tt.describe, tt.commit)
		if v != tt.semver {
			t.Errorf("FromDescribe(%q, %q) = %q, want %q", tt.describe, tt.commit, v, tt.semver)
			continue
		}
		got, err := PackageVersion(v)
		if err != nil || got != tt.pkg {
			t.Errorf("PackageVersion(%q) = %q, %v; want %q", v, got, err, tt.pkg)
		}
		if strings.Contains(got, "-") {
			t.Errorf("PackageVersion(%q) = %q: rpm allows no - in a version", v, got)
		}
		var out bytes.Buffer
		if err := run([]string{"version", "-describe", tt.describe, "-commit", tt.commit, "-format", "deb"}, &out); err != nil || out.String() != tt.pkg+"\n" {
			t.Errorf("packaging version -format deb: %q, %v; want %q", out.String(), err, tt.pkg)
		}
	}
	if _, err := PackageVersion("1.4"); err == nil {
		t.Error("PackageVersion(1.4) = nil error, want one: not a semantic version")
	}
}

// dpkg and rpm put the package versions in the order the commits came in:
// a prerelease tag, commits after it, the release, commits after that, the
// next release.
func TestPackageVersionOrder(t *testing.T) {
	describes := []string{
		"",                              // no tag
		"v1.4.0-rc.1-0-gaaaaaaaaaaaa",   // 1.4.0-rc.1
		"v1.4.0-rc.1-2-gbbbbbbbbbbbb",   // two commits later
		"v1.4.0-rc.2-0-gcccccccccccc",   // 1.4.0-rc.2
		"v1.4.0-0-gdddddddddddd",        // 1.4.0
		"v1.4.0-3-geeeeeeeeeeee",        // three commits later
		"v1.4.0-12-gffffffffffff",       // twelve
		"v1.4.1-0-g111111111111",        // 1.4.1
		"v1.10.0-0-g222222222222",       // 1.10.0
		"v1.10.0-1-g333333333333-dirty", // a changed tree after it
	}
	var versions []string
	for _, d := range describes {
		v, err := PackageVersion(version.FromDescribe(d, "0123456789ab"))
		if err != nil {
			t.Fatal(err)
		}
		versions = append(versions, v)
	}
	checked := false
	if dpkg, err := exec.LookPath("dpkg"); err == nil {
		checked = true
		for i := 1; i < len(versions); i++ {
			a, b := versions[i-1]+"-1", versions[i]+"-1"
			if err := exec.Command(dpkg, "--compare-versions", a, "lt", b).Run(); err != nil {
				t.Errorf("dpkg --compare-versions %s lt %s: %v, want true", a, b, err)
			}
		}
	}
	if rpm, err := exec.LookPath("rpm"); err == nil {
		checked = true
		for i := 1; i < len(versions); i++ {
			a, b := versions[i-1], versions[i]
			out, err := exec.Command(rpm, "--eval", `%{lua: print(rpm.vercmp("`+a+`", "`+b+`"))}`).Output()
			if err != nil || strings.TrimSpace(string(out)) != "-1" {
				t.Errorf("rpm.vercmp(%s, %s) = %q, %v; want -1", a, b, out, err)
			}
		}
	}
	if !checked {
		t.Skip("neither dpkg nor rpm is here to order the versions")
	}
}
