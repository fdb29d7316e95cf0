package main

import (
	"fmt"
	"regexp"
	"strings"

	"golang.org/x/mod/semver"
)

// fullCore: a version has all three numbers (semver's package accepts
// v1.4 too).
var fullCore = regexp.MustCompile(`^\d+\.\d+\.\d+(?:[-+]|$)`)

// betweenTags is the end of a prerelease that app/version writes for a
// build between tags: git describe's commits since the tag and the commit
// ("3-g1a2b3c4d5e6f"), after the tag's own prerelease if it has one.
var betweenTags = regexp.MustCompile(`^(?:(.+)-)?(\d+)-g([0-9a-f]+)$`)

// PackageVersion writes a semantic version (app/version's, without the v)
// as dpkg and rpm order versions, the same string for both:
//
//	1.4.0                    1.4.0
//	1.4.0-rc.1 (a tag)       1.4.0~rc.1        before 1.4.0: ~ sorts first
//	1.4.0-3-g1a2b3c4 (after  1.4.0+3.g1a2b3c4  after 1.4.0, before 1.4.1
//	  the tag 1.4.0)
//	1.4.0-rc.1-3-g1a2b3c4    1.4.0~rc.1+3.g1a2b3c4
//	0.0.0-dev+1a2b3c4        0.0.0~dev+1a2b3c4
//	1.4.0+dirty              1.4.0+dirty
//
// Semantic versioning orders the commits after a tag before it (they look
// like a prerelease); the packages order them after, as they are. A - is
// written as . (rpm allows no - in a version, dpkg reads the last one as
// the start of the Debian revision).
func PackageVersion(v string) (string, error) {
	if !semver.IsValid("v"+v) || !fullCore.MatchString(v) {
		return "", fmt.Errorf("version %q is not a semantic version", v)
	}
	out := v[:strings.IndexAny(v+"-", "-+")] // major.minor.patch
	pre := strings.TrimPrefix(semver.Prerelease("v"+v), "-")
	build := strings.TrimPrefix(semver.Build("v"+v), "+")
	var after []string
	if m := betweenTags.FindStringSubmatch(pre); m != nil {
		pre = m[1]
		after = append(after, m[2], "g"+m[3])
	}
	if pre != "" {
		out += "~" + dots(pre)
	}
	if build != "" {
		after = append(after, dots(build))
	}
	if len(after) > 0 {
		out += "+" + strings.Join(after, ".")
	}
	return out, nil
}

func dots(s string) string { return strings.ReplaceAll(s, "-", ".") }
