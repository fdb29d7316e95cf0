// Package version is Keypool's version: a semantic version from the
// nearest release tag (vX.Y.Z), the commit and the build date. make sets
// them at build time (-ldflags -X); a plain go build reads the commit from
// Go's build information instead.
package version

import (
	"cmp"
	"regexp"
	"runtime/debug"
	"strconv"
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

// Compare orders two versions (without their leading v) as semver does,
// -1, 0 or +1, but for git describe's form between tags: 1.4.0-3-gabc is
// three commits after 1.4.0, so after it (and after any 1.4.0-2-g…) and
// before 1.4.1. An invalid version is older than any valid one.
func Compare(a, b string) int {
	baseA, sinceA := splitDescribe(a)
	baseB, sinceB := splitDescribe(b)
	if c := semver.Compare("v"+baseA, "v"+baseB); c != 0 || !Valid(baseA) {
		return c
	}
	return cmp.Compare(sinceA, sinceB)
}

// describeSuffix is git describe's "-N-gHASH" at the end of a version's
// pre-release part.
var describeSuffix = regexp.MustCompile(`-(\d+)-g[0-9a-f]+$`)

// splitDescribe parts v into the tag's version and the commits since it
// (0 for a version that is not git describe's form); build metadata is
// dropped, as semver ignores it.
func splitDescribe(v string) (base string, since int) {
	v, _, _ = strings.Cut(v, "+")
	m := describeSuffix.FindStringSubmatchIndex(v)
	if m == nil {
		return v, 0
	}
	n, err := strconv.Atoi(v[m[2]:m[3]])
	if err != nil || n == 0 {
		return v, 0
	}
	return v[:m[0]], n
}

// strict is a version's MAJOR.MINOR.PATCH, all three written: semver
// itself would take "1" or "1.2" as shorthand.
var strict = regexp.MustCompile(`^\d+\.\d+\.\d+([-+]|$)`)

// Valid reports whether v is a semantic version (without its leading v),
// with all three numbers written.
func Valid(v string) bool { return strict.MatchString(v) && semver.IsValid("v"+v) }
