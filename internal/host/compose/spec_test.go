package compose

import (
	"errors"
	"strings"
	"testing"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// everything is a Spec with every optional part switched on.
func everything() Spec {
	return Spec{
		Slug:         "demo",
		Agent:        "demo-agent",
		AgentImage:   "bot-bottle/agent-test:local",
		AgentEnv:     map[string]string{"LANG": "C.UTF-8", "TICKET": "BB-7", "PRICE": "costs $5 or ${CENTS}"},
		AgentEnvFile: "./agent.env",
		Images:       DefaultImages("local"),
		SidecarUser:  "1000:1000",
		EgressSecrets: []string{
			contract.CAKeySecret, "token_github", "token_openai",
		},
		GitGate:        true,
		GitGateSecrets: []string{"ssh_demo", "known_hosts_demo"},
		Supervise:      true,
		Runtime:        "runsc",
		Resources:      Resources{Memory: 8 << 30, CPUs: 1.5, Pids: 512},
		Workspace:      "/home/agent/workspace",
		AgentUser:      "1000",
		UpstreamCA:     true,
	}
}

// egressOnly is the smallest useful Spec.
func egressOnly() Spec {
	return Spec{
		Slug:          "solo",
		Agent:         "solo",
		AgentImage:    "bot-bottle/agent-test:local",
		Images:        DefaultImages("local"),
		SidecarUser:   "1000:1000",
		EgressSecrets: []string{contract.CAKeySecret},
		Resources:     Resources{Memory: 4 << 30, CPUs: 2, Pids: 1024},
	}
}

func TestDefaultImages(t *testing.T) {
	got := DefaultImages("v1")
	want := Images{
		Egress:    "bot-bottle/egress:v1",
		GitGate:   "bot-bottle/gitgate:v1",
		Supervise: "bot-bottle/supervise:v1",
		NetGuard:  "bot-bottle/netguard:v1",
	}
	if got != want {
		t.Errorf("DefaultImages(v1) = %+v, want %+v", got, want)
	}
}

func TestValidateAcceptsGoodSpecs(t *testing.T) {
	for name, s := range map[string]Spec{
		"everything":  everything(),
		"egress only": egressOnly(),
	} {
		if err := s.Validate(); err != nil {
			t.Errorf("%s: Validate() = %v", name, err)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		modify func(*Spec)
		field  string // the FieldError.Field expected
		want   string // a fragment of its message
	}{
		{"empty slug", func(s *Spec) { s.Slug = "" }, "Slug", "empty"},
		{"bad slug", func(s *Spec) { s.Slug = "Demo" }, "Slug", "lower-case"},
		{"empty agent", func(s *Spec) { s.Agent = "" }, "Agent", "empty"},
		{"agent newline", func(s *Spec) { s.Agent = "a\nb" }, "Agent", "control"},
		{"empty agent image", func(s *Spec) { s.AgentImage = "" }, "AgentImage", "empty"},
		{"agent image space", func(s *Spec) { s.AgentImage = "a b" }, "AgentImage", "whitespace"},
		{"HTTP_PROXY", func(s *Spec) { s.AgentEnv["HTTP_PROXY"] = "http://evil:1" }, "AgentEnv[HTTP_PROXY]", "egress proxy"},
		{"https_proxy lower", func(s *Spec) { s.AgentEnv["https_proxy"] = "x" }, "AgentEnv[https_proxy]", "egress proxy"},
		{"No_Proxy mixed", func(s *Spec) { s.AgentEnv["No_Proxy"] = "*" }, "AgentEnv[No_Proxy]", "egress proxy"},
		{"all_proxy", func(s *Spec) { s.AgentEnv["all_proxy"] = "socks5://x" }, "AgentEnv[all_proxy]", "egress proxy"},
		{"BOT_BOTTLE_", func(s *Spec) { s.AgentEnv["BOT_BOTTLE_CA_CERT"] = "/x" }, "AgentEnv[BOT_BOTTLE_CA_CERT]", "reserved"},
		{"bot_bottle_ lower", func(s *Spec) { s.AgentEnv["bot_bottle_x"] = "1" }, "AgentEnv[bot_bottle_x]", "reserved"},
		{"NODE_EXTRA_CA_CERTS", func(s *Spec) { s.AgentEnv["NODE_EXTRA_CA_CERTS"] = "/x" }, "AgentEnv[NODE_EXTRA_CA_CERTS]", "CA certificate"},
		{"SSL_CERT_FILE", func(s *Spec) { s.AgentEnv["SSL_CERT_FILE"] = "/x" }, "AgentEnv[SSL_CERT_FILE]", "CA certificate"},
		{"GIT_SSL_CAINFO", func(s *Spec) { s.AgentEnv["GIT_SSL_CAINFO"] = "/x" }, "AgentEnv[GIT_SSL_CAINFO]", "CA certificate"},
		{"bad env name", func(s *Spec) { s.AgentEnv["1X"] = "1" }, "AgentEnv[1X]", "not a variable name"},
		{"env name with =", func(s *Spec) { s.AgentEnv["A=B"] = "1" }, "AgentEnv[A=B]", "not a variable name"},
		{"env NUL", func(s *Spec) { s.AgentEnv["X"] = "a\x00b" }, "AgentEnv[X]", "NUL"},
		{"env file in secrets", func(s *Spec) { s.AgentEnvFile = "./secrets/ca_key" }, "AgentEnvFile", "directly in the project directory"},
		{"env file absolute", func(s *Spec) { s.AgentEnvFile = "/etc/passwd" }, "AgentEnvFile", "directly in the project directory"},
		{"env file bare", func(s *Spec) { s.AgentEnvFile = "agent.env" }, "AgentEnvFile", "directly in the project directory"},
		{"env file escapes", func(s *Spec) { s.AgentEnvFile = "./../x" }, "AgentEnvFile", "directly in the project directory"},
		{"env file audit", func(s *Spec) { s.AgentEnvFile = "./audit.jsonl" }, "AgentEnvFile", "audit log"},
		{"no netguard image", func(s *Spec) { s.Images.NetGuard = "" }, "Images.NetGuard", "empty"},
		{"no egress image", func(s *Spec) { s.Images.Egress = "" }, "Images.Egress", "empty"},
		{"no gitgate image", func(s *Spec) { s.Images.GitGate = "" }, "Images.GitGate", "empty"},
		{"no supervise image", func(s *Spec) { s.Images.Supervise = "" }, "Images.Supervise", "empty"},
		{"user empty", func(s *Spec) { s.SidecarUser = "" }, "SidecarUser", "numeric"},
		{"user name", func(s *Spec) { s.SidecarUser = "bot:bot" }, "SidecarUser", "numeric"},
		{"user no gid", func(s *Spec) { s.SidecarUser = "1000" }, "SidecarUser", "numeric"},
		{"user negative", func(s *Spec) { s.SidecarUser = "-1:1000" }, "SidecarUser", "numeric"},
		{"user root", func(s *Spec) { s.SidecarUser = "0:0" }, "SidecarUser", "root"},
		{"bad egress secret", func(s *Spec) { s.EgressSecrets[1] = "../x" }, "EgressSecrets[1]", "'/'"},
		{"duplicate egress secret", func(s *Spec) { s.EgressSecrets[2] = s.EgressSecrets[1] }, "EgressSecrets[2]", "twice"},
		{"no CA key", func(s *Spec) { s.EgressSecrets = s.EgressSecrets[1:] }, "EgressSecrets", contract.CAKeySecret},
		{"bad gate secret", func(s *Spec) { s.GitGateSecrets[0] = "" }, "GitGateSecrets[0]", "empty"},
		{"duplicate gate secret", func(s *Spec) { s.GitGateSecrets[1] = s.GitGateSecrets[0] }, "GitGateSecrets[1]", "twice"},
		{"CA key to gate", func(s *Spec) { s.GitGateSecrets[1] = contract.CAKeySecret }, "GitGateSecrets", "egress only"},
		{"gate secrets without gate", func(s *Spec) { s.GitGate = false }, "GitGateSecrets", "GitGate is false"},
		{"runtime", func(s *Spec) { s.Runtime = "runsc --debug" }, "Runtime", "runtime name"},
		{"agent user by name", func(s *Spec) { s.AgentUser = "agent" }, "AgentUser", "numeric"},
		{"agent user root", func(s *Spec) { s.AgentUser = "0:0" }, "AgentUser", "root"},
		{"workspace relative", func(s *Spec) { s.Workspace = "workspace" }, "Workspace", "absolute"},
		{"workspace root", func(s *Spec) { s.Workspace = "/" }, "Workspace", "absolute"},
		{"workspace unclean", func(s *Spec) { s.Workspace = "/home/a/../b" }, "Workspace", "clean"},
		{"workspace volume syntax", func(s *Spec) { s.Workspace = "/w:ro" }, "Workspace", "':'"},
		{"no memory limit", func(s *Spec) { s.Resources.Memory = 0 }, "Resources.Memory", "6 MiB"},
		{"memory below docker's minimum", func(s *Spec) { s.Resources.Memory = 1 << 20 }, "Resources.Memory", "6 MiB"},
		{"no cpu limit", func(s *Spec) { s.Resources.CPUs = 0 }, "Resources.CPUs", "0.01"},
		{"no pids limit", func(s *Spec) { s.Resources.Pids = 0 }, "Resources.Pids", "unlimited"},
		{"pids unlimited", func(s *Spec) { s.Resources.Pids = -1 }, "Resources.Pids", "unlimited"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := everything()
			tt.modify(&s)
			err := s.Validate()
			if err == nil {
				t.Fatal("Validate() = nil, want an error")
			}
			var ve *contract.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate() = %T %v, want a *contract.ValidationError", err, err)
			}
			for _, e := range ve.Errs {
				var fe *contract.FieldError
				if errors.As(e, &fe) && fe.Field == tt.field && strings.Contains(fe.Error(), tt.want) {
					if _, perr := Project(s); perr == nil {
						t.Error("Project accepted the spec Validate refused")
					}
					return
				}
			}
			t.Errorf("Validate() = %v\nwant a problem with field %q mentioning %q", err, tt.field, tt.want)
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	s := Spec{}
	err := s.Validate()
	var ve *contract.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Validate() = %v, want a *contract.ValidationError", err)
	}
	fields := map[string]bool{}
	for _, e := range ve.Errs {
		var fe *contract.FieldError
		if errors.As(e, &fe) {
			fields[fe.Field] = true
		}
	}
	for _, f := range []string{"Slug", "Agent", "AgentImage", "Images.NetGuard", "Images.Egress", "SidecarUser", "EgressSecrets"} {
		if !fields[f] {
			t.Errorf("no problem reported for %s in %v", f, err)
		}
	}
}
