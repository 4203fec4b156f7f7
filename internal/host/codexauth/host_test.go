package codexauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestPrintingOrLoggingAHostShowsNoToken is the leak of a login printed
// in a debug line, logged with slog, wrapped in an error or marshalled:
// each shows the path and no byte of a token.
func TestPrintingOrLoggingAHostShowsNoToken(t *testing.T) {
	path := fixturePath(t, "chatgpt-current.json")
	h, err := Read(path, testNow)
	if err != nil {
		t.Fatal(err)
	}
	secrets, _ := hostSecrets(readDoc(t, path))
	nd := newNeedles(secrets, 16, 8)

	// outer is some other package's struct holding a Host where fmt cannot
	// call its methods: it then prints fields by reflection.
	type outer struct {
		name  string
		login Host
		ptr   *Host
	}
	outputs := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %[1]v"} {
		outputs["Sprintf "+verb+" *Host"] = fmt.Sprintf(verb, h)
		outputs["Sprintf "+verb+" Host"] = fmt.Sprintf(verb, *h)
		outputs["Sprintf "+verb+" outer"] = fmt.Sprintf(verb, outer{"x", *h, h})
		outputs["Sprintf "+verb+" []any"] = fmt.Sprintf(verb, []any{h, *h})
	}
	outputs["Sprint"] = fmt.Sprint(h, *h)
	outputs["Sprintln"] = fmt.Sprintln(h, *h)
	outputs["Errorf %w"] = fmt.Errorf("launch with %v: %w", h, errors.New("boom")).Error()
	for _, handler := range []string{"json", "text"} {
		var buf bytes.Buffer
		var lh slog.Handler = slog.NewJSONHandler(&buf, nil)
		if handler == "text" {
			lh = slog.NewTextHandler(&buf, nil)
		}
		slog.New(lh).Info("read codex login", "login", h, "value", *h, slog.Any("any", h), slog.Group("g", "login", h))
		outputs["slog "+handler] = buf.String()
	}
	for name, v := range map[string]any{"json *Host": h, "json Host": *h, "json map": map[string]any{"login": h}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		outputs[name] = string(b)
	}

	for name, out := range outputs {
		if n, ok := nd.in([]byte(out)); ok {
			t.Errorf("%s shows token bytes %q:\n%s", name, n, out)
		}
		if !strings.Contains(out, path) && !strings.Contains(out, fmt.Sprintf("%x", path)) && !strings.Contains(out, fmt.Sprintf("%X", path)) {
			t.Errorf("%s does not show the path, so it may show nothing at all: %s", name, out)
		}
	}
}

func TestZeroHostHoldsNothing(t *testing.T) {
	var h Host
	if h.AccessToken() != "" {
		t.Error("a zero Host has an access token")
	}
	if _, err := h.Dummy(); err == nil {
		t.Error("a zero Host has a stand-in")
	}
}

// TestDummyIsACopy: a caller writing into the stand-in it got does not
// change the next one.
func TestDummyIsACopy(t *testing.T) {
	h, err := Read(fixturePath(t, "chatgpt-current.json"), testNow)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := h.Dummy()
	clear(a)
	b, _ := h.Dummy()
	if !json.Valid(b) {
		t.Error("changing one stand-in changed the next")
	}
}
