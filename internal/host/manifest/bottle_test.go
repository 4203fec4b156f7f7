package manifest

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// loadBottle loads a home holding one bottle file "b.md" with the given
// frontmatter and returns the bottle (nil if it failed) and the problems.
func loadBottle(t *testing.T, yaml string) (*Bottle, []Problem, []Problem) {
	t.Helper()
	home := writeTree(t, map[string]string{"bottles/b.md": fm(yaml)})
	m, ps := loadTree(t, home, "")
	return m.Bottles["b"], ps, m.Warnings
}

func TestBottleProblems(t *testing.T) {
	repo := func(extra string) string {
		return "git-gate:\n  repos:\n    demo:\n" + extra
	}
	route := func(lines string) string { return "egress:\n  routes:\n    - " + lines }
	custom := func(lines string) string { return "agent_provider:\n  template: custom\n" + lines }
	tests := []struct {
		name  string
		yaml  string
		wants []want
	}{
		{"unknown top key suggests the close one", "egres: {}\n", []want{{2, "egres", `did you mean "egress"`}}},
		{"unknown top key lists allowed keys", "zzz: 1\n", []want{{2, "zzz", "allowed keys: env, extends"}}},
		{"old git key points at git-gate", "git: {}\n", []want{{2, "git", "git.remotes to git-gate.repos"}}},
		{"agent key in a bottle", "bottle: x\n", []want{{2, "bottle", "agent key"}}},
		{"top level is a list", "- a\n", []want{{2, "", "must be a mapping"}}},
		{"egress ssrf_allow not a CIDR", "egress:\n  ssrf_allow: [not-a-cidr]\n", []want{{3, "egress.ssrf_allow[0]", "not-a-cidr"}}},
		{"egress upstream_ca empty", "egress:\n  upstream_ca: \"\"\n", []want{{3, "egress.upstream_ca", "empty"}}},
		{"unknown egress key", "egress:\n  upstream: x\n", []want{{3, "egress.upstream", "upstream_ca"}}},
		// Host-attacks finding 8: two token_refs that differ only in case
		// would share one secret file, and ci.example.test would be sent
		// $GH_TOKEN.
		{"token_refs that differ only in case", "egress:\n  routes:\n    - host: ci.example.test\n      auth: {scheme: Bearer, token_ref: gh_token}\n" +
			"    - host: api.github.com\n      auth:\n        scheme: token\n        token_ref: GH_TOKEN\n",
			[]want{{9, "egress.routes[1].auth.token_ref", "token_ref GH_TOKEN of the route to api.github.com and token_ref gh_token of the route to ci.example.test (egress.routes[0]) differ only in case"}}},
		// Host-attacks finding 6, in a manifest.
		{"wildcard on a public suffix", route("host: \"*.co.uk\"\n"), []want{{4, "egress.routes[0].host", `"*.co.uk" is a wildcard over the public suffix "co.uk"`}}},
		{"wildcard on a private public suffix", route("host: \"*.github.io\"\n"), []want{{4, "egress.routes[0].host", "public suffix"}}},
		{"wildcard on s3", route("host: \"*.s3.amazonaws.com\"\n"), []want{{4, "egress.routes[0].host", "*.example.s3.amazonaws.com"}}},
		{"repeated key", "supervise: true\nsupervise: false\n", []want{{3, "supervise", "repeated (first on line 2)"}}},
		{"yaml anchors refused", "env: &e {A: b}\n", []want{{2, "env", "anchors"}}},
		{"yaml syntax error has the file line", "env:\n  A: [unclosed\n", []want{{0, "", "invalid YAML"}}},
		{"supervise is a string", "supervise: \"yes\"\n", []want{{2, "supervise", "must be true or false"}}},
		{"extends is a number", "extends: 3\n", []want{{2, "extends", "must be a string"}}},

		{"env bad name", "env:\n  1X: a\n", []want{{3, "env.1X", "not a valid environment variable name"}}},
		{"env proxy name reserved", "env:\n  https_proxy: x\n", []want{{3, "env.https_proxy", "set by bot-bottle"}}},
		{"env BOT_BOTTLE_ prefix reserved", "env:\n  BOT_BOTTLE_HOME: x\n", []want{{3, "", "set by bot-bottle"}}},
		{"env null value", "env:\n  A:\n", []want{{3, "env.A", `write "" for an empty string`}}},
		{"env list value", "env:\n  A: [1]\n", []want{{3, "env.A", "must be a value"}}},
		{"env mixed interpolation", "env:\n  A: pre-${X}\n", []want{{3, "env.A", "only a whole value ${HOST_VAR}"}}},
		{"env bad host var", "env:\n  A: ${1X}\n", []want{{3, "env.A", "does not name a host variable"}}},
		{"env not a mapping", "env: [A]\n", []want{{2, "env", "must be a mapping"}}},

		{"provider unknown template suggests", "agent_provider:\n  template: claud\n", []want{{3, "agent_provider.template", `did you mean "claude"`}}},
		{"provider unknown key suggests", "agent_provider:\n  imgae: x\n", []want{{3, "agent_provider.imgae", `did you mean "image"`}}},
		{"unknown template suggests custom", "agent_provider:\n  template: custon\n  image: x\n", []want{{3, "agent_provider.template", `did you mean "custom"? (claude, codex or custom)`}}},
		{"image needs template custom", "agent_provider:\n  image: bot-bottle/agent-test:local\n", []want{{3, "agent_provider.image", "only for template custom; the claude template brings its own; remove it, or set template: custom"}}},
		{"command needs template custom", "agent_provider:\n  template: codex\n  command: [codex]\n", []want{{4, "agent_provider.command", "only for template custom; the codex template"}}},
		{"prompt_arg needs template custom", "agent_provider:\n  prompt_arg: --prompt\n  template: claude\n", []want{{3, "agent_provider.prompt_arg", "only for template custom"}}},
		{"custom without image or dockerfile", custom("  command: [sh]\n"), []want{{3, "agent_provider", "template custom needs image or dockerfile; add image: NAME[:TAG]"}}},
		{"custom without command", custom("  image: bot-bottle/agent-test:local\n"), []want{{3, "agent_provider", "template custom needs command"}}},
		{"custom with image and dockerfile", custom("  image: a/b\n  dockerfile: ./Dockerfile\n  command: [sh]\n"), []want{{4, "agent_provider.image", "together with dockerfile; a custom provider takes one of them"}}},
		{"custom with auth_token", custom("  image: a/b\n  command: [sh]\n  auth_token: TOKEN\n"), []want{{6, "agent_provider.auth_token", "only supported with template claude"}}},
		{"custom with forward_host_credentials", custom("  image: a/b\n  command: [sh]\n  forward_host_credentials: true\n"), []want{{6, "agent_provider.forward_host_credentials", "only supported with template codex"}}},
		{"custom with a bad image is not also missing one", custom("  image: \"\"\n  command: [sh]\n"), []want{{4, "agent_provider.image", "must not be empty"}}},
		{"image with a space", custom("  image: bot-bottle/agent test\n  command: [sh]\n"), []want{{4, "agent_provider.image", "contains whitespace or a control character"}}},
		{"image with a control character", custom("  image: \"agent\\e[2J\"\n  command: [sh]\n"), []want{{4, "agent_provider.image", "control character"}}},
		{"image read as an option", custom("  image: --privileged\n  command: [sh]\n"), []want{{4, "agent_provider.image", "starts with '-', which a command line reads as an option"}}},
		{"image with capitals", custom("  image: Bot-Bottle/Agent-Test:local\n  command: [sh]\n"), []want{{4, "agent_provider.image", `upper-case letters in its name, which Docker refuses; did you mean "bot-bottle/agent-test:local"?`}}},
		{"image whose capitals make a registry", custom("  image: MyOrg/agent\n  command: [sh]\n"), []want{{4, "agent_provider.image", `take for a registry host; did you mean "myorg/agent"?`}}},
		{"image with two colons", custom("  image: agent::1\n  command: [sh]\n"), []want{{4, "agent_provider.image", `"agent::1" is not an image reference; write [REGISTRY/]NAME[:TAG][@DIGEST]`}}},
		{"image with a bad digest", custom("  image: agent@sha256:xyz\n  command: [sh]\n"), []want{{4, "agent_provider.image", "not an image reference"}}},
		{"image a list", custom("  image: [a]\n  command: [sh]\n"), []want{{4, "agent_provider.image", "must be a string"}}},
		{"command a string suggests the list", custom("  image: a/b\n  command: agent --yes --model x\n"), []want{{5, "agent_provider.command", "not a string; write it as a list, as no shell splits it: [agent, --yes, --model, x]"}}},
		{"command a quoted shell line", custom("  image: a/b\n  command: sh -c 'echo hi'\n"), []want{{5, "agent_provider.command", "write it as a list: [PROGRAM, ARG...]"}}},
		{"command empty", custom("  image: a/b\n  command: []\n"), []want{{5, "agent_provider.command", "must not be empty; name the program to run"}}},
		{"command null", custom("  image: a/b\n  command:\n"), []want{{5, "agent_provider.command", "must be a list of arguments, not"}}},
		{"command a mapping", custom("  image: a/b\n  command: {sh: x}\n"), []want{{5, "agent_provider.command", "must be a list of arguments"}}},
		{"command empty argument", custom("  image: a/b\n  command:\n    - sh\n    - \"\"\n"), []want{{7, "agent_provider.command[1]", "must not be empty"}}},
		{"command argument with NUL", custom("  image: a/b\n  command: [sh, \"a\\0b\"]\n"), []want{{5, "agent_provider.command[1]", "NUL"}}},
		{"command nested list", custom("  image: a/b\n  command: [sh, [x]]\n"), []want{{5, "agent_provider.command[1]", "must be an argument, not a list"}}},
		{"command null argument", custom("  image: a/b\n  command: [sh, ~]\n"), []want{{5, "agent_provider.command[1]", "must be an argument"}}},
		{"prompt_arg not a flag", custom("  image: a/b\n  command: [sh]\n  prompt_arg: prompt-file\n"), []want{{6, "agent_provider.prompt_arg", "is not a flag"}}},
		{"prompt_arg a bare dash", custom("  image: a/b\n  command: [sh]\n  prompt_arg: \"-\"\n"), []want{{6, "agent_provider.prompt_arg", "not a flag of its own"}}},
		{"prompt_arg end of options", custom("  image: a/b\n  command: [sh]\n  prompt_arg: \"--\"\n"), []want{{6, "agent_provider.prompt_arg", "not a flag of its own"}}},
		{"prompt_arg with a value", custom("  image: a/b\n  command: [sh]\n  prompt_arg: --prompt=\n"), []want{{6, "agent_provider.prompt_arg", "contains '='; the path is passed as the next argument"}}},
		{"prompt_arg with a space", custom("  image: a/b\n  command: [sh]\n  prompt_arg: --prompt file\n"), []want{{6, "agent_provider.prompt_arg", "whitespace"}}},
		{"prompt_arg a list", custom("  image: a/b\n  command: [sh]\n  prompt_arg: [--p]\n"), []want{{6, "agent_provider.prompt_arg", "must be a string"}}},
		{"auth_token is claude only", "agent_provider:\n  template: codex\n  auth_token: TOK\n", []want{{4, "agent_provider.auth_token", "only supported with template claude"}}},
		{"auth_token must be a var name", "agent_provider:\n  auth_token: sk-ant-abc\n", []want{{3, "agent_provider.auth_token", "never the token itself"}}},
		{"forward_host_credentials is codex only", "agent_provider:\n  forward_host_credentials: true\n", []want{{3, "agent_provider.forward_host_credentials", "only supported with template codex"}}},
		{"forward_host_credentials not bool", "agent_provider:\n  template: codex\n  forward_host_credentials: 1\n", []want{{4, "", "must be true or false"}}},

		{"git-gate old remotes key", "git-gate:\n  remotes: {}\n", []want{{3, "git-gate.remotes", "became git-gate.repos"}}},
		{"git-gate unknown key", "git-gate:\n  repo: {}\n", []want{{3, "git-gate.repo", `did you mean "repos"`}}},
		{"git user empty", "git-gate:\n  user: {}\n", []want{{3, "git-gate.user", "neither name nor email"}}},
		{"git user unknown key", "git-gate:\n  user:\n    mail: x\n", []want{{4, "git-gate.user.mail", `did you mean "email"`}}},
		{"git user name not a string", "git-gate:\n  user:\n    name: [a]\n", []want{{4, "git-gate.user.name", "must be a string"}}},
		{"repo name invalid", "git-gate:\n  repos:\n    bad/name:\n      url: ssh://git@h/p\n", []want{{4, "git-gate.repos.bad/name", "repo name"}}},
		{"repo missing everything", repo("      {}\n"), []want{
			{5, "git-gate.repos.demo", "missing required key url"},
			{5, "git-gate.repos.demo", "missing required key identity"},
			{5, "git-gate.repos.demo", "never trusts on first use"}}},
		{"repo url not ssh", repo("      url: https://github.com/a/b.git\n      identity: k\n      host_key: " + testHostKey + "\n"), []want{{5, "git-gate.repos.demo.url", "ssh"}}},
		{"repo url without user", repo("      url: ssh://host/p.git\n      identity: k\n      host_key: " + testHostKey + "\n"), []want{{5, "git-gate.repos.demo.url", "user"}}},
		{"repo url bad port", repo("      url: ssh://git@host:xx/p.git\n      identity: k\n      host_key: " + testHostKey + "\n"), []want{{5, "git-gate.repos.demo.url", "port"}}},
		{"repo host_key garbage", repo("      url: ssh://git@host/p.git\n      identity: k\n      host_key: not a key\n"), []want{{7, "git-gate.repos.demo.host_key", "ssh-keyscan"}}},
		{"repo push_refs not a namespace", repo("      url: ssh://git@host/p.git\n      identity: k\n      host_key: " + testHostKey + "\n      push_refs: [refs/notes]\n"), []want{{8, "git-gate.repos.demo.push_refs[0]", "ref namespace"}}},
		{"repo allow_branch_delete not a bool", repo("      url: ssh://git@host/p.git\n      identity: k\n      host_key: " + testHostKey + "\n      allow_branch_delete: sometimes\n"), []want{{8, "git-gate.repos.demo.allow_branch_delete", ""}}},
		{"repo unknown key", repo("      url: ssh://git@host/p.git\n      identity: k\n      host_key: " + testHostKey + "\n      IdentityFile: k\n"), []want{{8, "git-gate.repos.demo.IdentityFile", "unknown key"}}},

		{"resources unknown key", "resources:\n  cpu: 2\n", []want{{3, "resources.cpu", `did you mean "cpus"`}}},
		{"resources not a mapping", "resources: 4g\n", []want{{2, "resources", "must be a mapping"}}},
		{"memory not a size", "resources:\n  memory: lots\n", []want{{3, "resources.memory", `"lots" is not a size`}}},
		{"memory with a unit docker does not know", "resources:\n  memory: 4x\n", []want{{3, "resources.memory", "is not a size"}}},
		{"memory below docker's minimum", "resources:\n  memory: 1m\n", []want{{3, "resources.memory", "below Docker's minimum of 6m"}}},
		{"memory zero", "resources:\n  memory: 0\n", []want{{3, "resources.memory", "below Docker's minimum"}}},
		{"memory a list", "resources:\n  memory: [4g]\n", []want{{3, "resources.memory", "must be a size"}}},
		{"cpus a string", "resources:\n  cpus: \"2\"\n", []want{{3, "resources.cpus", "must be a number"}}},
		{"cpus zero", "resources:\n  cpus: 0\n", []want{{3, "resources.cpus", "not between 0.01 and 1024"}}},
		{"cpus negative", "resources:\n  cpus: -1\n", []want{{3, "resources.cpus", "not between"}}},
		{"cpus too many", "resources:\n  cpus: 5000\n", []want{{3, "resources.cpus", "not between"}}},
		{"cpus infinite", "resources:\n  cpus: .inf\n", []want{{3, "resources.cpus", "not between"}}},
		{"pids fractional", "resources:\n  pids: 10.5\n", []want{{3, "resources.pids", "must be a whole number"}}},
		{"pids too few", "resources:\n  pids: 8\n", []want{{3, "resources.pids", "at least 64"}}},
		{"pids unlimited refused", "resources:\n  pids: -1\n", []want{{3, "resources.pids", "not between 64"}}},
		{"every resource wrong at once", "resources:\n  memory: x\n  cpus: 0\n  pids: 1\n", []want{
			{3, "resources.memory", "not a size"}, {4, "resources.cpus", "not between"}, {5, "resources.pids", "not between"}}},

		{"egress unknown key", "egress:\n  allowlist: []\n", []want{{3, "egress.allowlist", "unknown key"}}},
		{"routes not a list", "egress:\n  routes: {host: a}\n", []want{{3, "egress.routes", "must be a list"}}},
		{"route missing host", route("methods: [GET]\n"), []want{{4, "egress.routes[0]", "missing required key host"}}},
		{"route host with scheme", route("host: https://api.example.com\n"), []want{{4, "egress.routes[0].host", "scheme"}}},
		{"route host with port", route("host: api.example.com:443\n"), []want{{4, "egress.routes[0].host", "port"}}},
		{"duplicate hosts differ in case", "egress:\n  routes:\n    - host: API.example.com\n    - host: api.example.com\n", []want{{5, "egress.routes[1].host", "duplicate host"}}},
		{"relative path prefix", route("host: a.example.com\n      path_allowlist: [v1/]\n"), []want{{5, "egress.routes[0].path_allowlist[0]", "/"}}},
		{"unknown method", route("host: a.example.com\n      methods: [GET, FETCH]\n"), []want{{5, "egress.routes[0].methods[1]", "FETCH"}}},
		{"empty auth", route("host: a.example.com\n      auth: {}\n"), []want{{5, "egress.routes[0].auth", "omit auth"}}},
		{"auth scheme lower case", route("host: a.example.com\n      auth: {scheme: bearer, token_ref: T}\n"), []want{{5, "egress.routes[0].auth.scheme", `"Bearer"`}}},
		{"auth without token_ref", route("host: a.example.com\n      auth: {scheme: token}\n"), []want{{5, "egress.routes[0].auth", "missing required key token_ref"}}},
		{"auth token_ref is a value", route("host: a.example.com\n      auth: {scheme: token, token_ref: ghp-123}\n"), []want{{5, "egress.routes[0].auth.token_ref", "never the token itself"}}},
		{"auth unknown key", route("host: a.example.com\n      auth: {scheme: token, token_ref: T, token: x}\n"), []want{{5, "egress.routes[0].auth.token", "unknown key"}}},
		{"role reserved", route("host: a.example.com\n      role: claude_code_oauth\n"), []want{{5, "egress.routes[0].role", "reserved"}}},
		{"passthrough with auth", route("host: a.example.com\n      tls_passthrough: true\n      auth: {scheme: token, token_ref: T}\n"), []want{{6, "egress.routes[0].auth", "tls_passthrough"}}},
		{"passthrough with paths", route("host: a.example.com\n      tls_passthrough: true\n      path_allowlist: [/x]\n"), []want{{6, "egress.routes[0].path_allowlist", "never apply"}}},
		{"ports not a list", route("host: a.example.com\n      ports: 8443\n"), []want{{5, "egress.routes[0].ports", "must be a list of port numbers, not a number (8443); write it as [443, 8443]"}}},
		{"port zero", route("host: a.example.com\n      ports: [443, 0]\n"), []want{{5, "egress.routes[0].ports[1]", "0 is not a TCP port; use a number from 1 to 65535"}}},
		{"port too big", route("host: a.example.com\n      ports:\n        - 443\n        - 65536\n"), []want{{7, "egress.routes[0].ports[1]", "65536 is not a TCP port"}}},
		{"port negative", route("host: a.example.com\n      ports: [-22]\n"), []want{{5, "egress.routes[0].ports[0]", "must be a port number"}}},
		{"port quoted", route("host: a.example.com\n      ports: [\"8443\"]\n"), []want{{5, "egress.routes[0].ports[0]", "not the string \"8443\"; write it without quotes: 8443"}}},
		{"port name", route("host: a.example.com\n      ports: [https]\n"), []want{{5, "egress.routes[0].ports[0]", "must be a port number, not the string \"https\"; write a TCP port number"}}},
		{"port hex", route("host: a.example.com\n      ports: [0x1BB]\n"), []want{{5, "egress.routes[0].ports[0]", "must be a port number"}}},
		{"port leading zero", route("host: a.example.com\n      ports: [0443]\n"), []want{{5, "egress.routes[0].ports[0]", "must be a port number"}}},
		{"port range", route("host: a.example.com\n      ports: [8000-8100]\n"), []want{{5, "egress.routes[0].ports[0]", "must be a port number"}}},
		{"port float", route("host: a.example.com\n      ports: [443.0]\n"), []want{{5, "egress.routes[0].ports[0]", "must be a port number"}}},
		{"port list in a list", route("host: a.example.com\n      ports: [[443]]\n"), []want{{5, "egress.routes[0].ports[0]", "must be a port number, not a list"}}},
		{"port duplicate", route("host: a.example.com\n      ports: [443, 8443, 443]\n"), []want{{5, "egress.routes[0].ports[2]", "port 443 is listed twice (also egress.routes[0].ports[0]); list each port once"}}},
		{"ports misspelt", route("host: a.example.com\n      port: [8443]\n"), []want{{5, "egress.routes[0].port", `did you mean "ports"`}}},
		{"ssrf_allow not a cidr", route("host: a.example.com\n      ssrf_allow: [10.0.0.0/33]\n"), []want{{5, "egress.routes[0].ssrf_allow[0]", "not a CIDR"}}},
		{"ssrf_allow host bits", route("host: a.example.com\n      ssrf_allow: [10.1.2.3/24]\n"), []want{{5, "egress.routes[0].ssrf_allow[0]", `write the network, "10.1.2.0/24"`}}},
		{"pipelock twice", route("host: a.example.com\n      tls_passthrough: true\n      pipelock: {tls_passthrough: true}\n"), []want{{6, "egress.routes[0].pipelock.tls_passthrough", "set twice"}}},
		{"pipelock unknown key", route("host: a.example.com\n      pipelock: {mode: strict}\n"), []want{{5, "egress.routes[0].pipelock.mode", "unknown key"}}},

		{"every problem in a file is reported", "egres: {}\nsupervise: 2\nenv:\n  A:\n", []want{
			{2, "egres", "unknown key"}, {3, "supervise", "true or false"}, {5, "env.A", "must be a value"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, ps, _ := loadBottle(t, tt.yaml)
			checkProblems(t, ps, tt.wants)
			if b != nil {
				t.Errorf("bottle with problems was still loaded: %+v", b)
			}
			for _, p := range ps {
				if !strings.HasSuffix(p.File, "b.md") {
					t.Errorf("problem does not name the file: %s", p)
				}
			}
		})
	}
}

func TestBottleFields(t *testing.T) {
	b, ps, warns := loadBottle(t, `env:
  LIT: plain
  NUM: 8080
  ASK: "?Your deploy key"
  ASK_BARE: "?"
  HOST: ${HOME_TOKEN}
  QMARK: "??not a prompt"
  DOLLAR: "cost $${NOT_A_VAR}"
agent_provider:
  template: codex
  dockerfile: ./Dockerfile.agent
  forward_host_credentials: true
git-gate:
  user: {name: Bot, email: bot@example.test}
  repos:
    zeta:
      url: ssh://git@[2001:db8::1]:2222/srv/z.git
      identity: ~/.ssh/z
      host_key: `+testHostKey+`
    alpha:
      url: ssh://git@10.0.0.5/a.git
      identity: ~/.ssh/a
      host_key: "10.0.0.5 `+testHostKey+`"
egress:
  routes:
    - host: api.example.test
      path_allowlist: ["/v1/", "/v2/"]
      methods: [GET, POST]
      auth: {scheme: Bearer, token_ref: API_TOKEN}
      ssrf_allow: [10.1.2.0/24, 10.9.9.9]
      dlp_allow: [generic-api-key]
      dlp_strict: true
      ports: [443, 8443]
    - host: "*.cdn.example.test"
      ports: [8443]
      pipelock:
        tls_passthrough: true
        ssrf_ip_allowlist: ["fd00::/8"]
  ssrf_allow: [172.16.0.0/12]
  upstream_ca: certs/corp-ca.pem
supervise: true
`)
	if len(ps) > 0 {
		t.Fatalf("unexpected problems:\n%s", Problems(ps))
	}
	want := &Bottle{
		Name: "b", File: b.File,
		Env: []EnvVar{
			{"ASK", EnvValue{Kind: EnvPrompt, Prompt: "Your deploy key"}, b.File, 5},
			{"ASK_BARE", EnvValue{Kind: EnvPrompt}, b.File, 6},
			{"DOLLAR", EnvValue{Kind: EnvLiteral, Literal: "cost ${NOT_A_VAR}"}, b.File, 9},
			{"HOST", EnvValue{Kind: EnvHost, HostVar: "HOME_TOKEN"}, b.File, 7},
			{"LIT", EnvValue{Kind: EnvLiteral, Literal: "plain"}, b.File, 3},
			{"NUM", EnvValue{Kind: EnvLiteral, Literal: "8080"}, b.File, 4},
			{"QMARK", EnvValue{Kind: EnvLiteral, Literal: "?not a prompt"}, b.File, 8},
		},
		Provider: Provider{Template: "codex", Dockerfile: filepath.Join(filepath.Dir(b.File), "Dockerfile.agent"), ForwardHostCredentials: true},
		GitUser:  GitUser{Name: "Bot", Email: "bot@example.test"},
		Repos: []Repo{
			{Name: "alpha", URL: "ssh://git@10.0.0.5/a.git", SSH: contract.SSHURL{User: "git", Host: "10.0.0.5", Port: 22, Path: "/a.git"},
				Identity: "~/.ssh/a", HostKey: "10.0.0.5 " + testHostKey},
			{Name: "zeta", URL: "ssh://git@[2001:db8::1]:2222/srv/z.git", SSH: contract.SSHURL{User: "git", Host: "2001:db8::1", Port: 2222, Path: "/srv/z.git"},
				Identity: "~/.ssh/z", HostKey: testHostKey},
		},
		Routes: []Route{
			{Host: "api.example.test", PathAllowlist: []string{"/v1/", "/v2/"}, Methods: []string{"GET", "POST"},
				Auth:      &RouteAuth{Scheme: contract.AuthBearer, TokenRef: "API_TOKEN"},
				SSRFAllow: []string{"10.1.2.0/24", "10.9.9.9"}, DLPAllow: []string{"generic-api-key"}, DLPStrict: true, Ports: []int{443, 8443}},
			{Host: "*.cdn.example.test", TLSPassthrough: true, SSRFAllow: []string{"fd00::/8"}, Ports: []int{8443}},
		},
		SSRFAllow:  []string{"172.16.0.0/12"},
		UpstreamCA: filepath.Join(filepath.Dir(b.File), "certs", "corp-ca.pem"),
		Supervise:  true,
	}
	if diff := cmp.Diff(want, b); diff != "" {
		t.Errorf("bottle mismatch (-want +got):\n%s", diff)
	}
	if len(warns) != 1 || !strings.Contains(warns[0].Msg, "pipelock block is deprecated") || warns[0].Line != 37 {
		t.Errorf("want one deprecation warning for the pipelock block on line 37, got %v", warns)
	}
}

func TestCustomProviderFields(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       Provider
	}{
		{"image and command", "template: custom\n  image: bot-bottle/agent-test:local\n  command: [sh, -c, \"echo hi\"]\n",
			Provider{Template: "custom", Image: "bot-bottle/agent-test:local", Command: []string{"sh", "-c", "echo hi"}}},
		{"numbers and booleans taken as written", "template: custom\n  image: a/b\n  command: [sleep, 5, true, 1.50]\n",
			Provider{Template: "custom", Image: "a/b", Command: []string{"sleep", "5", "true", "1.50"}}},
		{"prompt_arg", "template: custom\n  image: a/b\n  command: [agent]\n  prompt_arg: --system-prompt-file\n",
			Provider{Template: "custom", Image: "a/b", Command: []string{"agent"}, PromptArg: "--system-prompt-file"}},
		{"relative dockerfile is taken from the bottle's directory", "template: custom\n  dockerfile: images/Dockerfile\n  command: [sh]\n",
			Provider{Template: "custom", Dockerfile: "BOTTLES/images/Dockerfile", Command: []string{"sh"}}},
		{"dot-dot in a dockerfile path", "template: custom\n  dockerfile: ../agent/Dockerfile\n  command: [sh]\n",
			Provider{Template: "custom", Dockerfile: "HOME/agent/Dockerfile", Command: []string{"sh"}}},
		{"absolute dockerfile is cleaned", "template: custom\n  dockerfile: /srv//agent/./Dockerfile\n  command: [sh]\n",
			Provider{Template: "custom", Dockerfile: "/srv/agent/Dockerfile", Command: []string{"sh"}}},
		{"home dockerfile is kept for the builder", "template: custom\n  dockerfile: ~/agent/Dockerfile\n  command: [sh]\n",
			Provider{Template: "custom", Dockerfile: "~/agent/Dockerfile", Command: []string{"sh"}}},
		{"registry with a port, tag and digest", "template: custom\n  image: registry.example.test:5000/team/agent:v1.2@sha256:" + strings.Repeat("ab", 32) + "\n  command: [agent]\n",
			Provider{Template: "custom", Image: "registry.example.test:5000/team/agent:v1.2@sha256:" + strings.Repeat("ab", 32), Command: []string{"agent"}}},
		{"ipv6 registry and a capitalised host", "template: custom\n  image: \"[fd00::1]:5000/agent\"\n  command: [agent]\n",
			Provider{Template: "custom", Image: "[fd00::1]:5000/agent", Command: []string{"agent"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, ps, _ := loadBottle(t, "agent_provider:\n  "+tt.yaml)
			if len(ps) > 0 {
				t.Fatalf("unexpected problems:\n%s", Problems(ps))
			}
			bottles := filepath.Dir(b.File)
			tt.want.Dockerfile = strings.NewReplacer("BOTTLES", bottles, "HOME", filepath.Dir(bottles)).Replace(tt.want.Dockerfile)
			if diff := cmp.Diff(tt.want, b.Provider); diff != "" {
				t.Errorf("provider (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEmptyBottleDefaults(t *testing.T) {
	for name, content := range map[string]string{
		"empty frontmatter": "---\n---\n",
		"null frontmatter":  "---\n~\n---\nbody\n",
		"comment only":      "---\n# nothing yet\n---\n",
		"crlf and bom":      "\xef\xbb\xbf---\r\nsupervise: false\r\n---\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			home := writeTree(t, map[string]string{"bottles/b.md": content})
			m, ps := loadTree(t, home, "")
			if len(ps) > 0 {
				t.Fatalf("problems: %s", ps)
			}
			b := m.Bottles["b"]
			if b == nil || b.Provider.Template != TemplateClaude || len(b.Routes) != 0 || b.Supervise {
				t.Fatalf("bottle = %+v, want defaults (claude, no routes, no supervise)", b)
			}
		})
	}
}

func TestFileLevelProblems(t *testing.T) {
	tests := []struct {
		name, content string
		want          want
	}{
		{"no frontmatter", "just text\n", want{1, "", "must start with a line \"---\""}},
		{"unclosed frontmatter", "---\nenv: {}\n", want{1, "", "never closed"}},
		{"yaml error line is the file line", "---\nenv: {}\nc: d: e\n---\n", want{3, "", "mapping values are not allowed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := writeTree(t, map[string]string{"bottles/b.md": tt.content})
			_, ps := loadTree(t, home, "")
			checkProblems(t, ps, []want{tt.want})
		})
	}
}

func TestParseEnvValue(t *testing.T) {
	tests := []struct {
		in      string
		want    EnvValue
		wantErr string
	}{
		{"", EnvValue{Kind: EnvLiteral}, ""},
		{"plain", EnvValue{Kind: EnvLiteral, Literal: "plain"}, ""},
		{"?", EnvValue{Kind: EnvPrompt}, ""},
		{"? API key ", EnvValue{Kind: EnvPrompt, Prompt: "API key"}, ""},
		{"??x", EnvValue{Kind: EnvLiteral, Literal: "?x"}, ""},
		{"${A_1}", EnvValue{Kind: EnvHost, HostVar: "A_1"}, ""},
		{"$${A}", EnvValue{Kind: EnvLiteral, Literal: "${A}"}, ""},
		{"a$b", EnvValue{Kind: EnvLiteral, Literal: "a$b"}, ""},
		{"${}", EnvValue{}, "does not name a host variable"},
		{"${A}${B}", EnvValue{}, "does not name a host variable"},
		{"x${A}", EnvValue{}, "mixes text"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseEnvValue(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseEnvValue(%q) error = %v, want %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("parseEnvValue(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestEnvDisplayNeverShowsHostOrPromptValues(t *testing.T) {
	for _, v := range []EnvValue{{Kind: EnvPrompt, Prompt: "key"}, {Kind: EnvHost, HostVar: "TOKEN"}} {
		if d := v.Display(); !strings.HasPrefix(d, "<") {
			t.Errorf("Display(%+v) = %q, want a <placeholder>", v, d)
		}
	}
	if d := (EnvValue{Kind: EnvHost, HostVar: "TOKEN"}).Display(); d != "<from $TOKEN>" {
		t.Errorf("host display = %q", d)
	}
}
