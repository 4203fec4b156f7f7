package egress

import (
	"net/http"
	"slices"
	"testing"
)

func TestMethodOverrides(t *testing.T) {
	for _, tc := range []struct {
		name  string
		h     http.Header
		query string
		body  string
		want  []string
	}{
		{"none", http.Header{}, "a=1", "a=1", nil},
		{"header", http.Header{"X-Http-Method-Override": {"delete"}}, "", "", []string{"DELETE"}},
		{"header list", http.Header{"X-Method-Override": {"GET, PUT"}}, "", "", []string{"GET", "PUT"}},
		{"query", http.Header{}, "x=%zz&_METHOD=put", "", []string{"PUT"}},
		{"query escaped", http.Header{}, "%5fmethod=delete", "", []string{"DELETE"}},
		{"form", http.Header{}, "", "a=1&_method=DELETE", []string{"DELETE"}},
		{"form escaped", http.Header{}, "", "a=1&%5Fmethod=PATCH", []string{"PATCH"}},
		{"json", http.Header{}, "", `{"_method" : "put"}`, []string{"PUT"}},
		{"multipart", http.Header{}, "", "Content-Disposition: form-data; name=\"_method\"\r\n\r\nDELETE\r\n", []string{"DELETE"}},
		{"prose", http.Header{}, "", "call obj._method = helper()", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := append(methodOverrides(tc.h, tc.query), bodyOverrides([]byte(tc.body))...)
			slices.Sort(got)
			got = slices.Compact(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

func FuzzBodyOverrides(f *testing.F) {
	f.Add([]byte("_method=DELETE"), 3)
	f.Add([]byte(`{"_MeThOd":"put"}`), 0)
	f.Fuzz(func(t *testing.T, data []byte, split int) {
		whole := bodyOverrides(data)
		for _, m := range whole {
			if !knownMethod(m) {
				t.Fatalf("%q is not a method", m)
			}
		}
		// Split anywhere, the chunked check refuses whatever the whole does.
		refuse := func(ms []string) *refusal {
			if len(ms) > 0 {
				return &refusal{}
			}
			return nil
		}
		if len(data) > 0 && len(whole) > 0 {
			cut := (split%len(data) + len(data)) % len(data)
			oc := &overrideCheck{refuse: refuse}
			if oc.feed(data[:cut]) == nil && oc.feed(data[cut:]) == nil {
				t.Fatalf("split at %d hid %q", cut, whole)
			}
		}
	})
}
