package supervise

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/shared/daemon"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// Config is what supervise runs with.
type Config struct {
	// Queue is the proposal queue directory (a bind mount of the host's
	// ~/.bot-bottle/queue/<slug>). Required.
	Queue string
	// Bottle is the bottle's slug, stamped on every proposal. Required.
	Bottle string
	// Listen is the MCP server's address; /mcp and /healthz are served there.
	Listen string
	// AllowPeers may use the MCP port besides loopback
	// (daemon.AllowPeers); nil: loopback only.
	AllowPeers daemon.PeerList
	// EgressAdmin is egress's admin base URL, read by list-egress-routes.
	EgressAdmin string
	// ResponseTimeout bounds how long a call waits for the operator.
	ResponseTimeout time.Duration
	// MaxWaiting bounds calls waiting for the operator at once; zero: 64.
	MaxWaiting int
	// Poll is how often a waiting call checks for a response; zero: 100ms.
	Poll time.Duration
}

// newFlagSet binds c's fields to supervise's flags and their environment
// variables.
func newFlagSet(c *Config, out io.Writer) *daemon.FlagSet {
	fs := daemon.NewFlagSet("supervise", out, func(w io.Writer) {
		fmt.Fprint(w, "usage: supervise --queue DIR --bottle SLUG [flags]\n\n"+
			"supervise is the bottle's MCP server: the agent proposes changes (a route, a DLP\n"+
			"exception, an image capability, a credential) and the operator decides with\n"+
			"'bot-bottle proposals'.\n")
	})
	fs.String(&c.Queue, "queue", contract.EnvSuperviseQueue, contract.QueueDir, "proposal queue directory; required")
	fs.String(&c.Bottle, "bottle", contract.EnvSuperviseBottle, "", "the bottle's slug; required")
	fs.String(&c.Listen, "listen", contract.EnvSuperviseListen, fmt.Sprintf(":%d", contract.MCPPort), "MCP address (POST/GET /mcp, GET /healthz)")
	fs.List(&c.AllowPeers, "allow-peers", contract.EnvSuperviseAllowPeers, daemon.PeersHelp("the MCP port"))
	fs.String(&c.EgressAdmin, "egress-admin", contract.EnvSuperviseEgressAdmin, fmt.Sprintf("http://%s:%d", contract.EgressHost, contract.AdminPort), "egress admin base URL, for list-egress-routes")
	fs.Duration(&c.ResponseTimeout, "response-timeout", contract.EnvSuperviseResponseTimeout, contract.DefaultResponseTimeout, "how long a call waits for the operator before answering pending")
	return fs
}

// ParseConfig reads flags, falling back to each flag's environment
// variable, and validates.
func ParseConfig(args []string, getenv func(string) string, usage io.Writer) (Config, error) {
	var c Config
	fs := newFlagSet(&c, usage)
	if err := fs.Parse(args, getenv); err != nil {
		return c, err
	}
	if len(fs.Args()) > 0 {
		return c, fmt.Errorf("unexpected argument %q; supervise takes only flags (see --help)", fs.Args()[0])
	}
	return c, c.Validate()
}

// Validate reports every missing or wrong setting.
func (c Config) Validate() error {
	var errs []error
	if c.Queue == "" {
		errs = append(errs, fmt.Errorf("--queue is required (or set %s)", contract.EnvSuperviseQueue))
	}
	if err := contract.ValidSlug(c.Bottle); err != nil {
		errs = append(errs, fmt.Errorf("--bottle: %w (or set %s)", err, contract.EnvSuperviseBottle))
	}
	if c.ResponseTimeout <= 0 || c.ResponseTimeout > 10*time.Minute {
		errs = append(errs, errors.New("--response-timeout must be between 0 and 10m"))
	}
	if u, err := url.Parse(c.EgressAdmin); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("--egress-admin %q is not an http(s) URL", c.EgressAdmin))
	}
	return errors.Join(errs...)
}

func (c *Config) withDefaults() {
	if c.MaxWaiting == 0 {
		c.MaxWaiting = 64
	}
	if c.Poll == 0 {
		c.Poll = 100 * time.Millisecond
	}
	if c.ResponseTimeout == 0 {
		c.ResponseTimeout = contract.DefaultResponseTimeout
	}
}
