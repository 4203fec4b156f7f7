package egress

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/shared/daemon"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// Config is everything egress runs with. Zero durations and limits take
// the defaults below.
type Config struct {
	// RoutesFile is the routes file (contract v1). Required.
	RoutesFile string
	// CACert and CAKey are the bottle CA's PEM certificate and private key,
	// which sign the leaf certificates egress shows the agent. Required.
	CACert, CAKey string
	// SecretsDir holds the secret files routes' auth names. Required.
	SecretsDir string
	// Listen is the proxy's address; default ":8888".
	Listen string
	// Admin is the health/admin address; default ":9901"; "off" disables.
	Admin string
	// AllowPeers may use the proxy besides loopback (daemon.AllowPeers);
	// nil: loopback only.
	AllowPeers daemon.PeerList
	// AdminAllowPeers may use the admin port besides loopback; nil:
	// loopback only.
	AdminAllowPeers daemon.PeerList
	// Audit is where audit lines go: a file path, "-" for stdout; "" means
	// stdout.
	Audit string
	// UpstreamCA is an extra PEM bundle trusted for upstream TLS; "" none.
	UpstreamCA string
	// Resolve holds fixed answers used instead of DNS; nil: DNS only.
	Resolve map[string]netip.Addr

	// Limits; zero means the default.
	MaxTunnels       int           // concurrent CONNECT tunnels (default 512)
	HandshakeTimeout time.Duration // CONNECT to first request / TLS handshake (default 10s)
	IdleTimeout      time.Duration // idle connection to the agent (default 2m)
	DialTimeout      time.Duration // upstream TCP connect (default 10s)
	ScanBudget       time.Duration // DLP time per request (default 2s)
	WholeBodyLimit   int64         // bodies up to this are scanned whole before sending (default 1 MiB)
	SpoolRAM         int64         // dlp_strict bodies above this spool to disk (default 8 MiB)
	MaxBody          int64         // request bodies above this are refused (default 4 GiB)
	BodyReadTimeout  time.Duration // each read of a request body must return within (default 30s)
}

// Defaults.
const (
	defaultMaxTunnels       = 512
	defaultHandshakeTimeout = 10 * time.Second
	defaultIdleTimeout      = 2 * time.Minute
	defaultDialTimeout      = 10 * time.Second
	defaultScanBudget       = 2 * time.Second
	defaultWholeBodyLimit   = 1 << 20
	defaultSpoolRAM         = 8 << 20
	defaultMaxBody          = 4 << 30
	defaultBodyReadTimeout  = 30 * time.Second
)

func (c *Config) withDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.Listen == "" {
		c.Listen = fmt.Sprintf(":%d", contract.ProxyPort)
	}
	if c.Admin == "" {
		c.Admin = fmt.Sprintf(":%d", contract.AdminPort)
	}
	if c.MaxTunnels == 0 {
		c.MaxTunnels = defaultMaxTunnels
	}
	def(&c.HandshakeTimeout, defaultHandshakeTimeout)
	def(&c.IdleTimeout, defaultIdleTimeout)
	def(&c.DialTimeout, defaultDialTimeout)
	def(&c.ScanBudget, defaultScanBudget)
	def(&c.BodyReadTimeout, defaultBodyReadTimeout)
	if c.WholeBodyLimit == 0 {
		c.WholeBodyLimit = defaultWholeBodyLimit
	}
	if c.SpoolRAM == 0 {
		c.SpoolRAM = defaultSpoolRAM
	}
	if c.MaxBody == 0 {
		c.MaxBody = defaultMaxBody
	}
}

// newFlagSet binds c's fields to egress's flags and their environment
// variables.
func newFlagSet(c *Config, resolve *multiFlag, out io.Writer) *daemon.FlagSet {
	fs := daemon.NewFlagSet("egress", out, func(w io.Writer) {
		fmt.Fprint(w, "usage: egress --routes FILE --ca-cert FILE --ca-key FILE [flags]\n\n"+
			"egress is the bottle's forward proxy: declared hosts only, credentials injected,\n"+
			"DLP on what leaves, SSRF refused. SIGHUP reloads the routes file and secrets.\n")
	})
	fs.String(&c.RoutesFile, "routes", contract.EnvEgressRoutes, "", "routes file (contract v1, YAML); required")
	fs.String(&c.CACert, "ca-cert", contract.EnvEgressCACert, "", "bottle CA certificate (PEM); required")
	fs.String(&c.CAKey, "ca-key", contract.EnvEgressCAKey, "", "bottle CA private key (PEM); required")
	fs.String(&c.SecretsDir, "secrets-dir", contract.EnvEgressSecretsDir, contract.SecretsDir, "directory of secret files named by routes' auth.secret; required")
	fs.String(&c.Listen, "listen", contract.EnvEgressListen, fmt.Sprintf(":%d", contract.ProxyPort), "proxy address")
	fs.String(&c.Admin, "admin", contract.EnvEgressAdmin, fmt.Sprintf(":%d", contract.AdminPort), "health/admin address (/healthz, /routes); \"off\" to disable")
	fs.List(&c.AllowPeers, "allow-peers", contract.EnvEgressAllowPeers, daemon.PeersHelp("the proxy"))
	fs.List(&c.AdminAllowPeers, "admin-allow-peers", contract.EnvEgressAdminAllowPeers, daemon.PeersHelp("the admin port"))
	fs.String(&c.Audit, "audit", contract.EnvEgressAudit, "-", "audit log: a file to append JSON lines to, or - for stdout")
	fs.String(&c.UpstreamCA, "upstream-ca", contract.EnvEgressUpstreamCA, "", "extra PEM roots trusted for upstream TLS")
	fs.Duration(&c.HandshakeTimeout, "handshake-timeout", contract.EnvEgressHandshakeTimeout, defaultHandshakeTimeout, "CONNECT to finished TLS handshake, and request headers")
	fs.Duration(&c.IdleTimeout, "idle-timeout", contract.EnvEgressIdleTimeout, defaultIdleTimeout, "idle agent connections and passthrough tunnels are closed after")
	fs.Int(&c.MaxTunnels, "max-tunnels", contract.EnvEgressMaxTunnels, defaultMaxTunnels, "concurrent CONNECT tunnels; more get 503")
	fs.List(resolve, "resolve", contract.EnvEgressResolve, "HOST=IP fixed answer instead of DNS; SSRF rules still apply")
	return fs
}

// ParseConfig reads flags, falling back to each flag's environment
// variable (listed in --help), then applies defaults and validates.
func ParseConfig(args []string, getenv func(string) string, usage io.Writer) (Config, error) {
	var c Config
	var resolve multiFlag
	fs := newFlagSet(&c, &resolve, usage)
	if err := fs.Parse(args, getenv); err != nil {
		return c, err
	}
	if len(fs.Args()) > 0 {
		return c, fmt.Errorf("unexpected argument %q; egress takes only flags (see --help)", fs.Args()[0])
	}
	if len(resolve) > 0 {
		c.Resolve = map[string]netip.Addr{}
		for _, item := range resolve {
			host, ip, _ := strings.Cut(item, "=")
			addr, err := netip.ParseAddr(ip)
			if err != nil || host == "" {
				return c, fmt.Errorf("--resolve %q: want HOST=IP, e.g. api.example.test=10.0.0.5", item)
			}
			c.Resolve[contract.NormalizeHost(host)] = addr.Unmap()
		}
	}
	c.withDefaults()
	return c, c.Validate()
}

// Validate reports every missing or conflicting setting.
func (c Config) Validate() error {
	errs := daemon.Missing(
		daemon.Required{Value: c.RoutesFile, Flag: "--routes", Env: contract.EnvEgressRoutes},
		daemon.Required{Value: c.CACert, Flag: "--ca-cert", Env: contract.EnvEgressCACert},
		daemon.Required{Value: c.CAKey, Flag: "--ca-key", Env: contract.EnvEgressCAKey},
		daemon.Required{Value: c.SecretsDir, Flag: "--secrets-dir", Env: contract.EnvEgressSecretsDir},
	)
	if c.MaxTunnels <= 0 || c.HandshakeTimeout <= 0 || c.IdleTimeout <= 0 {
		errs = append(errs, errors.New("--max-tunnels, --handshake-timeout and --idle-timeout must be positive"))
	}
	if c.Listen == c.Admin {
		errs = append(errs, fmt.Errorf("--listen and --admin are both %s; give the admin port its own address", c.Listen))
	}
	return errors.Join(errs...)
}

type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error {
	if !strings.Contains(v, "=") {
		return fmt.Errorf("want HOST=IP, got %q", v)
	}
	*m = append(*m, v)
	return nil
}
