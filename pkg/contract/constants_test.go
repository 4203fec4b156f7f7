package contract_test

import (
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

func TestValidSlug(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"simple", "dev", ""},
		{"with digits and dashes", "my-bottle-2", ""},
		{"double dash", "a--b", ""},
		{"single letter", "a", ""},
		{"longest", "a" + strings.Repeat("b", 47), ""},
		{"empty", "", "slug is empty"},
		{"too long", "a" + strings.Repeat("b", 48), "is 49 characters; the limit is 48"},
		{"digit first", "1dev", "must start with a lower-case letter"},
		{"dash first", "-dev", "must start with a lower-case letter"},
		{"upper case", "Dev", "must start with a lower-case letter"},
		{"upper inside", "dEv", "contains 'E'"},
		{"underscore", "my_bottle", "contains '_'"},
		{"dot", "a.b", "contains '.'"},
		{"slash", "a/b", "contains '/'"},
		{"trailing dash", "dev-", "must not end in '-'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkErr(t, contract.ValidSlug(tc.in), tc.want)
		})
	}
}
