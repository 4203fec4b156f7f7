package codexauth

import (
	"path/filepath"
	"testing"
)

func TestPath(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"default", map[string]string{"HOME": "/home/ada"}, "/home/ada/.codex/auth.json"},
		{"CODEX_HOME", map[string]string{"HOME": "/home/ada", "CODEX_HOME": "/srv/codex"}, "/srv/codex/auth.json"},
		{"CODEX_HOME under ~", map[string]string{"HOME": "/home/ada", "CODEX_HOME": "~/work/.codex"}, "/home/ada/work/.codex/auth.json"},
		{"CODEX_HOME is ~", map[string]string{"HOME": "/home/ada", "CODEX_HOME": "~"}, "/home/ada/auth.json"},
		{"CODEX_HOME ~user is not expanded", map[string]string{"HOME": "/home/ada", "CODEX_HOME": "~bob/.codex"}, "~bob/.codex/auth.json"},
		{"CODEX_HOME relative", map[string]string{"HOME": "/home/ada", "CODEX_HOME": "codex-home/"}, "codex-home/auth.json"},
		{"CODEX_HOME empty is unset", map[string]string{"HOME": "/home/ada", "CODEX_HOME": ""}, "/home/ada/.codex/auth.json"},
		{"no HOME keeps the ~", map[string]string{}, "~/.codex/auth.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Path(func(k string) string { return tt.env[k] })
			if got != filepath.FromSlash(tt.want) {
				t.Errorf("Path = %q, want %q", got, tt.want)
			}
		})
	}
}
