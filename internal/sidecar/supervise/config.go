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
	// queue/ directory of the bottle: ~/.bot-bottle/state/<slug>/queue). Required.
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
	// MaxPending bounds the bottle's proposals waiting for the operator
	// (queued without a response); a call that would queue one more is
	// refused and writes nothing. Zero: DefaultMaxPending.
	MaxPending int
	// Rate bounds how many proposals the agent may make per interval; a
	// call over it is refused and writes nothing. The count is kept in
	// memory, so a restarted supervise starts afresh (the pending cap
	// still holds). Zero: DefaultRate.
	Rate Rate
	// MaxWaiting bounds calls waiting for the operator at once; zero: 64.
	MaxWaiting int
	// Poll is how often a waiting call checks for a response; zero: 100ms.
	Poll time.Duration
	// Now is the clock of the rate limit and the proposals' created_at;
	// nil: time.Now.
	Now func() time.Time
}

// DefaultMaxPending is how many proposals may wait for the operator at
// once by default: more than an operator reviews in one sitting, few
// enough that a flood cannot bury a real request or fill the disk (each
// proposal file is at most contract.MaxProposalFileBytes, so 8 MiB in all).
const DefaultMaxPending = 64

// maxMaxPending bounds --max-pending.
const maxMaxPending = 10000

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
	fs.Int(&c.MaxPending, "max-pending", contract.EnvSuperviseMaxPending, DefaultMaxPending, "how many proposals may wait for the operator at once; more are refused")
	c.Rate = DefaultRate
	fs.Var(&c.Rate, "rate", contract.EnvSuperviseRate, "how many proposals the agent may make per interval, as `N/INTERVAL` where INTERVAL is s, m, h or a duration such as 30s; more are refused")
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
	if c.MaxPending < 1 || c.MaxPending > maxMaxPending {
		errs = append(errs, fmt.Errorf("--max-pending must be between 1 and %d, not %d", maxMaxPending, c.MaxPending))
	}
	if err := c.Rate.validate(); err != nil {
		errs = append(errs, fmt.Errorf("--rate: %w", err))
	}
	if u, err := url.Parse(c.EgressAdmin); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("--egress-admin %q is not an http(s) URL", c.EgressAdmin))
	}
	return errors.Join(errs...)
}

func (c *Config) withDefaults() {
	if c.MaxPending == 0 {
		c.MaxPending = DefaultMaxPending
	}
	if c.Rate == (Rate{}) {
		c.Rate = DefaultRate
	}
	if c.Now == nil {
		c.Now = time.Now
	}
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
