// Package envfix settles the process environment before any library reads
// it at initialisation. It is a module of its own, imported by path
// "envfix": Go initialises packages in import-path order as soon as their
// imports are, so this path, sorting before "fyne.io/", runs first.
//
// The one fix: under LANG=C.UTF-8 (the default in containers and on many
// servers) Fyne's translations parse "C" as a language tag at start-up and
// print "Fyne error: Error parsing user locale C" three times, on every
// command. A C or POSIX locale means untranslated English, so envfix says so
// in LANGUAGE, which Fyne reads first and gettext ignores under a C locale.
// LANG and LC_* stay as they are: text input and everything else keep the
// user's locale.
package envfix

import (
	"os"
	"strings"
)

func init() { Apply(os.Getenv, os.Setenv) }

// Apply sets LANGUAGE=en through set when the locale that get reports
// (LC_ALL, else LC_MESSAGES, else LANG) is C or POSIX with a charset, such
// as C.UTF-8, and LANGUAGE is unset.
func Apply(get func(string) string, set func(string, string) error) {
	if get("LANGUAGE") != "" {
		return
	}
	var loc string
	for _, v := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if loc = get(v); loc != "" {
			break
		}
	}
	name, _, _ := strings.Cut(loc, ".")
	if name, _, _ = strings.Cut(name, "@"); loc != name && (name == "C" || name == "POSIX") {
		set("LANGUAGE", "en")
	}
}
