package envfix

import "testing"

func TestApply(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string // LANGUAGE afterwards
	}{
		{"c_utf8", map[string]string{"LANG": "C.UTF-8"}, "en"},
		{"posix_charset", map[string]string{"LC_ALL": "POSIX.utf8"}, "en"},
		{"c_modifier", map[string]string{"LANG": "C@euro"}, "en"},
		{"lc_all_wins", map[string]string{"LC_ALL": "de_DE.UTF-8", "LANG": "C.UTF-8"}, ""},
		{"plain_c_is_fine", map[string]string{"LANG": "C"}, ""},
		{"real_locale", map[string]string{"LANG": "fr_FR.UTF-8"}, ""},
		{"language_kept", map[string]string{"LANG": "C.UTF-8", "LANGUAGE": "de"}, "de"},
		{"nothing_set", map[string]string{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range tt.env {
				env[k] = v
			}
			Apply(func(k string) string { return env[k] }, func(k, v string) error { env[k] = v; return nil })
			if env["LANGUAGE"] != tt.want {
				t.Errorf("LANGUAGE = %q, want %q", env["LANGUAGE"], tt.want)
			}
		})
	}
}
