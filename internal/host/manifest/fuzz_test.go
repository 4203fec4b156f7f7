package manifest

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

var fuzzSeeds = []string{
	"---\n---\n",
	"---\nenv: {A: b, C: \"?q\", D: ${E}}\n---\nbody\n",
	"\xef\xbb\xbf---\r\nsupervise: true\r\n...\r\n",
	"---\negress:\n  routes:\n    - host: api.example.test\n      path_allowlist: [/v1/]\n      methods: [GET]\n      auth: {scheme: Bearer, token_ref: T}\n      ssrf_allow: [10.0.0.0/8]\n    - host: '*.x.example'\n      pipelock: {tls_passthrough: true}\n---\n",
	"---\negress:\n  routes:\n    - host: a.example.test\n      ports: [443, 8443]\n    - host: b.example.test\n      tls_passthrough: true\n      ports: [8443, 0x1BB, \"80\", 8443]\n---\n",
	"---\ngit-gate:\n  user: {name: a}\n  repos:\n    r:\n      url: ssh://git@h:22/p.git\n      identity: k\n      host_key: " + testHostKey + "\n---\n",
	"---\nagent_provider: {template: codex, forward_host_credentials: true}\nextends: x\n---\n",
	"---\nagent_provider:\n  template: custom\n  image: bot-bottle/agent-test:local\n  command: [sh, -c, \"echo hi\", 5]\n  prompt_arg: --prompt-file\n---\n",
	"---\nagent_provider: {template: custom, dockerfile: ./D, command: sh -c x, prompt_arg: \"--p=\"}\n---\n",
	"---\nbottle: dev\nskills: [a]\ngit-gate: {user: {email: e}}\nmodel: x\n---\nprompt\n",
	"---\na: &x [1]\nb: *x\n\"k\\nl\": 1\n---\n",
	"---\n[unclosed\n---\n",
	"no frontmatter",
}

func FuzzSplitFrontmatter(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		yamlText, first, body, err := splitFrontmatter(data)
		if err != nil {
			return
		}
		if first != 2 {
			t.Fatalf("firstLine = %d, want 2", first)
		}
		trimmed := bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
		if !bytes.Contains(trimmed, yamlText) || !bytes.HasSuffix(trimmed, body) {
			t.Fatalf("yaml %q / body %q are not parts of the input", yamlText, body)
		}
		if len(yamlText)+len(body) > len(trimmed) {
			t.Fatal("yaml and body overlap")
		}
	})
}

// FuzzManifestFile parses arbitrary bytes as a bottle and as an agent.
// Invariants: no panic; every problem is one line naming the file; a bottle
// that parses cleanly yields routes the egress contract accepts.
func FuzzManifestFile(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var problems, warnings []Problem
		r := &reader{file: "f.md", problems: &problems, warnings: &warnings}
		top, body, ok := r.parse(data)
		if ok {
			d := r.bottle("b", top)
			r.agent("a", top, body)
			if d.ok {
				checkContractRoutes(t, d.fields.Routes)
				checkProvider(t, d.fields.Provider)
			}
		}
		for _, p := range append(problems, warnings...) {
			line := p.String()
			if strings.ContainsAny(line, "\n\r") {
				t.Fatalf("problem spans lines: %q", line)
			}
			if p.File != "f.md" || p.Line < 0 || p.Msg == "" {
				t.Fatalf("problem lacks file or message: %+v", p)
			}
		}
	})
}

// checkProvider checks what a cleanly loaded provider promises the
// launcher: a custom one has exactly one of image and dockerfile and a
// command it can exec; the templates have none of the custom fields.
func checkProvider(t *testing.T, p Provider) {
	t.Helper()
	if p.Template != TemplateCustom {
		if p.Image != "" || p.Command != nil || p.PromptArg != "" {
			t.Fatalf("template %s loaded with custom fields: %+v", p.Template, p)
		}
		return
	}
	if (p.Image == "") == (p.Dockerfile == "") || len(p.Command) == 0 {
		t.Fatalf("custom provider without exactly one image source and a command: %+v", p)
	}
	for _, a := range p.Command {
		if a == "" || strings.ContainsRune(a, 0) {
			t.Fatalf("custom command argument %q cannot be exec'd", a)
		}
	}
	if p.PromptArg != "" && (!strings.HasPrefix(p.PromptArg, "-") || strings.ContainsAny(p.PromptArg, "= \t\n")) {
		t.Fatalf("prompt_arg %q is not one flag", p.PromptArg)
	}
}

// FuzzImageRef checks the image reference validator. Invariants: an
// accepted reference is one printable ASCII word that cannot be read as an
// option; every "did you mean" it offers is itself accepted.
func FuzzImageRef(f *testing.F) {
	for _, s := range []string{"bot-bottle/agent-test:local", "a", "Bot-Bottle/Agent:local", "MyOrg/agent", "localhost:5000/a/b:c",
		"[fd00::1]:5000/a", "a@sha256:" + strings.Repeat("0", 64), "a::1", "-x", "a b", "a\x1b", "A", "a__b/c..d", "a/B:Tag"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := validImageRef(s)
		if err == nil {
			for _, r := range s {
				if r <= ' ' || r >= 0x7f {
					t.Fatalf("accepted %q, which holds %q", s, r)
				}
			}
			if s == "" || s[0] == '-' {
				t.Fatalf("accepted %q", s)
			}
			return
		}
		if err.msg == "" || strings.ContainsAny(err.msg+err.hint, "\n\r") {
			t.Fatalf("problem for %q is not one line: %+v", s, err)
		}
		if fix, ok := strings.CutPrefix(err.hint, "did you mean "); ok {
			q, _, _ := strings.Cut(fix, "?")
			fixed, uerr := strconv.Unquote(q)
			if uerr != nil {
				t.Fatalf("hint %q does not quote its fix", err.hint)
			}
			if again := validImageRef(fixed); again != nil {
				t.Fatalf("the fix %q offered for %q is refused too: %s", fixed, s, again.msg)
			}
		}
	})
}

// checkContractRoutes converts manifest routes as the renderer will and
// checks the contract accepts them: the manifest must never let through a
// route egress would refuse to load.
func checkContractRoutes(t *testing.T, routes []Route) {
	t.Helper()
	rf := &contract.RoutesFile{Version: contract.Version, Routes: []contract.Route{}}
	for _, r := range routes {
		cr := contract.Route{Host: r.Host, PathAllowlist: r.PathAllowlist, Methods: r.Methods, Ports: r.Ports,
			TLSPassthrough: r.TLSPassthrough, SSRFAllow: r.SSRFAllow, DLPAllow: r.DLPAllow, DLPStrict: r.DLPStrict}
		if r.Auth != nil {
			cr.Auth = &contract.Auth{Scheme: r.Auth.Scheme, Secret: "token"}
		}
		rf.Routes = append(rf.Routes, cr)
	}
	if err := rf.Validate(); err != nil {
		t.Fatalf("manifest accepted routes the contract refuses: %v\nroutes: %+v", err, routes)
	}
}

func TestExampleRoutesSatisfyTheContract(t *testing.T) {
	m, ps := loadTree(t, "../../../examples", "")
	if len(ps) > 0 {
		t.Fatal(ps)
	}
	for _, b := range m.Bottles {
		checkContractRoutes(t, b.Routes)
	}
}

func TestProblemStringIsOneLine(t *testing.T) {
	p := Problem{File: "f.md", Line: 3, Field: "env.a\nb", Msg: "bad\rvalue", Hint: "fix\x00it"}
	if s := p.String(); strings.ContainsAny(s, "\n\r\x00") || !strings.Contains(s, `env.a\nb`) {
		t.Fatalf("String() = %q", s)
	}
}
