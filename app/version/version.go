// Package version is Keypool's version: a semantic version from the
// nearest release tag (vX.Y.Z), the commit and the build date. make sets
// them at build time (-ldflags -X); a plain go build reads the commit from
// Go's build information instead.
package version

import (
	"regexp"
	"runtime/debug"
	"strings"

	"golang.org/x/mod/semver"
)

// Set at build time by make: git describe's output, the commit and the
// build date (RFC 3339, UTC).
var (
	describe  string
	commit    string
	buildDate string
)

// Info is this build's version.
type Info struct {
	Version string `json:"version"`          // semantic, without a leading v: "1.4.0", "1.4.0-3-g1a2b3c4d5e6f"
	Commit  string `json:"commit,omitempty"` // the commit it was built from
	Date    string `json:"date,omitempty"`   // when it was built
}

// Get is this build's version.
func Get() Info {
	i := Info{Commit: commit, Date: buildDate}
	dirty := false
	if bi, ok := debug.ReadBuildInfo(); ok && i.Commit == "" {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				i.Commit = s.Value[:min(12, len(s.Value))]
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	i.Version = FromDescribe(describe, i.Commit)
	if describe == "" && dirty {
		i.Version += ".dirty"
	}
	return i
}

// String is the version as keypool version prints it: "1.4.0 (commit
// 1a2b3c4d5e6f, built 2026-12-07T10:00:00Z)".
func (i Info) String() string {
	var about []string
	if i.Commit != "" {
		about = append(about, "commit "+i.Commit)
	}
	if i.Date != "" {
		about = append(about, "built "+i.Date)
	}
	if len(about) == 0 {
		return i.Version
	}
	return i.Version + " (" + strings.Join(about, ", ") + ")"
}

// DescribeCommand is how make asks git for the nearest release tag; its
// output is what FromDescribe reads.
const DescribeCommand = "git describe --tags --long --dirty --match 'v[0-9]*.[0-9]*.[0-9]*'"

// describeRe reads git describe --tags --long --dirty: the tag, the
// commits since it, the commit, and whether the tree was changed.
var describeRe = regexp.MustCompile(`^v(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)-(\d+)-g([0-9a-f]+)(-dirty)?$`)

// FromDescribe turns git describe --tags --long --dirty output into a
// semantic version: the tag's version on a tagged commit ("1.4.0"), git
// describe's form between tags ("1.4.0-3-g1a2b3c4"), and 0.0.0-dev with
// the commit where there is no tag ("0.0.0-dev+1a2b3c4"). A changed tree
// adds "dirty" as build metadata.
func FromDescribe(describe, commit string) string {
	m := describeRe.FindStringSubmatch(strings.TrimSpace(describe))
	if m == nil || !semver.IsValid("v"+m[1]) {
		if commit == "" {
			return "0.0.0-dev"
		}
		return "0.0.0-dev+" + commit
	}
	v := m[1]
	if m[2] != "0" {
		v += "-" + m[2] + "-g" + m[3]
	}
	if m[4] != "" {
		v += "+dirty"
	}
	return v
}

// Compare orders two semantic versions (without their leading v) as
// semver does: -1, 0 or +1. An invalid version is older than any valid
// one.
func Compare(a, b string) int { return semver.Compare("v"+a, "v"+b) }

// Valid reports whether v is a semantic version (without its leading v).
func Valid(v string) bool { return semver.IsValid("v" + v) }
