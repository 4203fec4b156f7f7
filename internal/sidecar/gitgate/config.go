package gitgate

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/bot-bottle/bot-bottle/internal/shared/daemon"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// DefaultMaxPack is the default --max-pack: 1 GiB.
const DefaultMaxPack = 1 << 30

// Defaults of the limits on pushes in progress.
const (
	DefaultMaxPushes       = 8
	DefaultMaxRepoPushes   = 2
	DefaultBodyIdleTimeout = time.Minute
	DefaultScanBytes       = 512 << 20
	DefaultScanTimeout     = 5 * time.Minute
	DefaultUnpackMemory    = 768 << 20
)

// DefaultRefreshInterval is the default --refresh-interval.
const DefaultRefreshInterval = 5 * time.Second

// Config is everything gitgate runs with.
type Config struct {
	// ConfigFile is the gate file (contract v1). Required. Its repositories
	// are read at start; their dlp_exceptions are reread at every push with
	// findings, so that an approved exception applies without a restart.
	ConfigFile string
	// DataDir holds one bare repository per declared upstream. Required.
	DataDir string
	// SecretsDir holds the identity keys and known_hosts files the gate file
	// names. Required.
	SecretsDir string
	// Listen is the git smart-HTTP address; default ":9420".
	Listen string
	// Admin is the health address; default ":9901"; "off" disables it.
	Admin string
	// AllowPeers may use the git port besides loopback
	// (daemon.AllowPeers); nil: loopback only.
	AllowPeers daemon.PeerList
	// AdminAllowPeers may use the admin port besides loopback; nil:
	// loopback only.
	AdminAllowPeers daemon.PeerList
	// MaxPack bounds every request body in bytes (after gzip decoding); zero
	// means DefaultMaxPack.
	MaxPack int64
	// RefreshInterval is the least time between two refreshes of one
	// repository from its upstream (each is an SSH login): fetches within
	// it are served what the last refresh found, or refused with its error
	// if it failed. Zero means DefaultRefreshInterval.
	RefreshInterval time.Duration
	// MaxPushes and MaxRepoPushes bound the pushes in progress, in all and
	// per repository; one more is refused at once (HTTP 503). Zero means
	// DefaultMaxPushes and DefaultMaxRepoPushes.
	MaxPushes, MaxRepoPushes int
	// BodyIdleTimeout is how long a push body may send nothing before the
	// push is dropped (and its quarantine removed). Zero means
	// DefaultBodyIdleTimeout.
	BodyIdleTimeout time.Duration
	// ScanBytes and ScanTimeout are the scan budget of one push: the text
	// handed to gitleaks and the wall time. A push over either is refused.
	// Zero means DefaultScanBytes and DefaultScanTimeout.
	ScanBytes   int64
	ScanTimeout time.Duration
	// UnpackMemory caps the data segment of each push's git index-pack
	// (RLIMIT_DATA): a delta of a few hundred bytes can describe an object
	// of GiBs, which index-pack must hold whole. A pack over it is
	// refused. With MaxPushes, it bounds what pushes take. Zero means
	// DefaultUnpackMemory.
	UnpackMemory int64
}

func (c *Config) withDefaults() {
	if c.Listen == "" {
		c.Listen = fmt.Sprintf(":%d", contract.GitHTTPPort)
	}
	if c.Admin == "" {
		c.Admin = fmt.Sprintf(":%d", contract.AdminPort)
	}
	if c.MaxPack == 0 {
		c.MaxPack = DefaultMaxPack
	}
	if c.RefreshInterval == 0 {
		c.RefreshInterval = DefaultRefreshInterval
	}
	if c.MaxPushes <= 0 {
		c.MaxPushes = DefaultMaxPushes
	}
	if c.MaxRepoPushes <= 0 {
		c.MaxRepoPushes = DefaultMaxRepoPushes
	}
	if c.BodyIdleTimeout <= 0 {
		c.BodyIdleTimeout = DefaultBodyIdleTimeout
	}
	if c.ScanBytes <= 0 {
		c.ScanBytes = DefaultScanBytes
	}
	if c.ScanTimeout <= 0 {
		c.ScanTimeout = DefaultScanTimeout
	}
	if c.UnpackMemory <= 0 {
		c.UnpackMemory = DefaultUnpackMemory
	}
}

// newFlagSet binds c's fields to gitgate's flags and their environment
// variables.
func newFlagSet(c *Config, maxPack *byteSize, out io.Writer) *daemon.FlagSet {
	fs := daemon.NewFlagSet("gitgate", out, func(w io.Writer) {
		fmt.Fprint(w, "usage: gitgate --config FILE --data DIR --secrets-dir DIR [flags]\n\n"+
			"gitgate serves the bottle's declared git repositories to the agent over smart HTTP.\n"+
			"Fetches refresh from the upstream over SSH first; pushes are scanned for secrets and\n"+
			"forwarded to the upstream before any of the gate's refs move.\n")
	})
	fs.String(&c.ConfigFile, "config", contract.EnvGitGateConfig, contract.GatePath, "gate file (contract v1, YAML); its dlp_exceptions are reread at every push with findings")
	fs.String(&c.DataDir, "data", contract.EnvGitGateData, contract.GitDataDir, "directory of the gate's bare repositories (one per declared upstream)")
	fs.String(&c.SecretsDir, "secrets-dir", contract.EnvGitGateSecretsDir, contract.SecretsDir, "directory of the identity keys and known_hosts files the gate file names")
	fs.String(&c.Listen, "listen", contract.EnvGitGateListen, fmt.Sprintf(":%d", contract.GitHTTPPort), "git smart-HTTP address")
	fs.String(&c.Admin, "admin", contract.EnvGitGateAdmin, fmt.Sprintf(":%d", contract.AdminPort), "health address (/healthz); \"off\" to disable")
	fs.List(&c.AllowPeers, "allow-peers", contract.EnvGitGateAllowPeers, daemon.PeersHelp("the git port"))
	fs.List(&c.AdminAllowPeers, "admin-allow-peers", contract.EnvGitGateAdminAllowPeers, daemon.PeersHelp("the admin port"))
	fs.Duration(&c.RefreshInterval, "refresh-interval", contract.EnvGitGateRefreshInterval, DefaultRefreshInterval, "least time between two upstream refreshes of one repository (fetches within it see the last one)")
	fs.Var(maxPack, "max-pack", contract.EnvGitGateMaxPack, "largest request body and pack accepted, in bytes or with a K, M or G suffix (binary units)")
	return fs
}

// ParseConfig reads flags, falling back to each flag's environment variable
// (listed in --help), then applies defaults and validates.
func ParseConfig(args []string, getenv func(string) string, usage io.Writer) (Config, error) {
	var c Config
	maxPack := byteSize(DefaultMaxPack)
	fs := newFlagSet(&c, &maxPack, usage)
	if err := fs.Parse(args, getenv); err != nil {
		return c, err
	}
	if len(fs.Args()) > 0 {
		return c, fmt.Errorf("unexpected argument %q; gitgate takes only flags (see --help)", fs.Args()[0])
	}
	c.MaxPack = int64(maxPack)
	c.withDefaults()
	return c, c.Validate()
}

// Validate reports every missing or conflicting setting.
func (c Config) Validate() error {
	errs := daemon.Missing(
		daemon.Required{Value: c.ConfigFile, Flag: "--config", Env: contract.EnvGitGateConfig},
		daemon.Required{Value: c.DataDir, Flag: "--data", Env: contract.EnvGitGateData},
		daemon.Required{Value: c.SecretsDir, Flag: "--secrets-dir", Env: contract.EnvGitGateSecretsDir},
		daemon.Required{Value: c.Listen, Flag: "--listen", Env: contract.EnvGitGateListen},
	)
	if c.MaxPack <= 0 {
		errs = append(errs, errors.New("--max-pack must be positive"))
	}
	if c.RefreshInterval < 0 {
		errs = append(errs, errors.New("--refresh-interval must not be negative"))
	}
	if c.Listen != "" && c.Listen == c.Admin {
		errs = append(errs, fmt.Errorf("--listen and --admin are both %s; give the admin port its own address", c.Listen))
	}
	return errors.Join(errs...)
}

// byteSize is a flag holding a size in bytes: "1073741824", "512M", "1G",
// "64KiB".
type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

func (b *byteSize) Set(s string) error {
	n, err := parseByteSize(s)
	if err != nil {
		return err
	}
	*b = byteSize(n)
	return nil
}

func parseByteSize(s string) (int64, error) {
	num := strings.TrimSpace(s)
	shift := 0
	upper := strings.ToUpper(num)
	for _, u := range []struct {
		suffix string
		shift  int
	}{{"KIB", 10}, {"MIB", 20}, {"GIB", 30}, {"K", 10}, {"M", 20}, {"G", 30}} {
		if strings.HasSuffix(upper, u.suffix) {
			num, shift = strings.TrimSpace(num[:len(num)-len(u.suffix)]), u.shift
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("want a positive size such as 1073741824, 512M or 1G, got %q", s)
	}
	return n << shift, nil
}
