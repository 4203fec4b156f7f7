package supervise

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"time"

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
	// EgressAdmin is egress's admin base URL, read by list-egress-routes.
	EgressAdmin string
	// ResponseTimeout bounds how long a call waits for the operator.
	ResponseTimeout time.Duration
	// MaxWaiting bounds calls waiting for the operator at once; zero: 64.
	MaxWaiting int
	// Poll is how often a waiting call checks for a response; zero: 100ms.
	Poll time.Duration
}

// ParseConfig reads flags, falling back to each flag's environment
// variable, and validates.
func ParseConfig(args []string, getenv func(string) string, usage io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("supervise", flag.ContinueOnError)
	fs.SetOutput(usage)
	type strFlag struct {
		p               *string
		name, env, help string
		dflt            string
	}
	strs := []strFlag{
		{&c.Queue, "queue", contract.EnvSuperviseQueue, "proposal queue directory; required", contract.QueueDir},
		{&c.Bottle, "bottle", contract.EnvSuperviseBottle, "the bottle's slug; required", ""},
		{&c.Listen, "listen", contract.EnvSuperviseListen, "MCP address (POST/GET /mcp, GET /healthz)", fmt.Sprintf(":%d", contract.MCPPort)},
		{&c.EgressAdmin, "egress-admin", contract.EnvSuperviseEgressAdmin, "egress admin base URL, for list-egress-routes", fmt.Sprintf("http://%s:%d", contract.EgressHost, contract.AdminPort)},
	}
	for _, f := range strs {
		fs.StringVar(f.p, f.name, f.dflt, fmt.Sprintf("%s (env %s)", f.help, f.env))
	}
	fs.DurationVar(&c.ResponseTimeout, "response-timeout", contract.DefaultResponseTimeout,
		fmt.Sprintf("how long a call waits for the operator before answering pending (env %s)", contract.EnvSuperviseResponseTimeout))
	fs.Usage = func() {
		fmt.Fprintf(usage, "usage: supervise --queue DIR --bottle SLUG [flags]\n\n"+
			"supervise is the bottle's MCP server: the agent proposes changes (a route, a DLP\n"+
			"exception, an image capability, a credential) and the operator decides with\n"+
			"'bot-bottle proposals'.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q; supervise takes only flags (see --help)", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, f := range strs {
		if v := getenv(f.env); v != "" && !set[f.name] {
			*f.p = v
		}
	}
	if v := getenv(contract.EnvSuperviseResponseTimeout); v != "" && !set["response-timeout"] {
		d, err := time.ParseDuration(v)
		if err != nil {
			return c, fmt.Errorf("%s=%q: want a duration such as 30s", contract.EnvSuperviseResponseTimeout, v)
		}
		c.ResponseTimeout = d
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
