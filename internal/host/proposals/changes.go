package proposals

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/host/bottle"
	"github.com/bot-bottle/bot-bottle/internal/shared/fileinfo"
	"github.com/bot-bottle/bot-bottle/internal/shared/termtext"
	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// BottleChanger makes the changes an approval needs beyond a bottle's
// routes and gate files: a credential for egress, a rebuilt agent image.
// Either returns ErrNotRunning when the bottle is not running (the change
// applies when it starts).
type BottleChanger interface {
	// AddCredential stores value as the bottle's secret and hands it to
	// egress (restarting egress when it runs).
	AddCredential(ctx context.Context, slug, secret string, value []byte) error
	// RebuildAgent rebuilds the agent image from the bottle's
	// agent.Dockerfile and recreates the agent container, keeping its
	// workspace.
	RebuildAgent(ctx context.Context, slug string) error
}

// startedByUp reports whether bot-bottle up started the bottle slug (its
// directory has metadata): only such a bottle can be rebuilt or given a
// credential here; a project rendered by hand is changed by hand.
func (o *Operator) startedByUp(slug string) bool {
	d, err := o.bottle(slug)
	if err != nil {
		return false
	}
	_, err = bottle.Read(d)
	return err == nil
}

// capabilityChange is a capability-block's Dockerfile override to write.
type capabilityChange struct {
	path, before, after string
	existed             bool
}

// credentialChange is a cred-block's secret.
type credentialChange struct {
	host   string
	scheme contract.AuthScheme
	secret string
}

// CredentialSecretName is the secret a cred-block approved for host is
// stored under.
func CredentialSecretName(host string) string {
	var b strings.Builder
	b.WriteString("cred_")
	for _, r := range strings.ToLower(contract.NormalizeHost(host)) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

// planCapability appends p to the bottle's agent Dockerfile override:
// FROM the bottle's agent image (the first time), then a block that runs
// the packages' install as root, the agent's lines, and ends as the
// agent's user again, whatever the lines did.
func (o *Operator) planCapability(it Item, p *contract.CapabilityBlockPayload) (*Change, error) {
	d, err := o.bottle(it.Slug)
	if err != nil {
		return nil, err
	}
	meta, err := bottle.Read(d)
	if err != nil {
		return nil, fmt.Errorf("bottle %s: %w", it.Slug, err)
	}
	path := d.Path(contract.BottleAgentDockerfile)
	before, err := fileinfo.ReadRegular(path, maxStateFileBytes)
	existed := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var b strings.Builder
	b.Write(before)
	if !existed {
		fmt.Fprintf(&b, "# The agent image of bottle %s, with the capabilities approved for it.\nFROM %s\n", it.Slug, meta.Image)
	}
	user := strconv.Itoa(meta.AgentUser.UID) + ":" + strconv.Itoa(meta.AgentUser.GID)
	fmt.Fprintf(&b, "\n# capability-block %s\n", it.Proposal.ID)
	if len(p.AptPackages) > 0 {
		fmt.Fprintf(&b, "USER 0\nRUN apt-get update && apt-get install -y --no-install-recommends %s && rm -rf /var/lib/apt/lists/*\nUSER %s\n",
			strings.Join(p.AptPackages, " "), user)
	}
	for _, l := range p.DockerfileLines {
		b.WriteString(l + "\n")
	}
	fmt.Fprintf(&b, "USER %s\n", user)
	ch := &Change{
		Summary: "rebuilds the agent image with these lines and recreates the agent container (its workspace stays); " +
			"the build runs them on this machine, with network access",
		File: path, Diff: lineDiff(string(before), b.String()),
		capability: &capabilityChange{path: path, before: string(before), after: b.String(), existed: existed},
	}
	return ch, nil
}

// planCredential gives the route for p.Host a credential egress injects
// (adding a route for the host when it has none); the value is asked for
// when the proposal is approved.
func (o *Operator) planCredential(it Item, p *contract.CredBlockPayload) (*Change, error) {
	secret := CredentialSecretName(p.Host)
	added := false
	var limits string
	ch, err := o.planRoutes(it.Slug, func(rf *contract.RoutesFile) error {
		for i := range rf.Routes {
			r := &rf.Routes[i]
			if contract.NormalizeHost(r.Host) != contract.NormalizeHost(p.Host) {
				continue
			}
			if r.TLSPassthrough {
				return fmt.Errorf("%s is tunnelled unread (tls_passthrough); egress cannot add a credential to it", r.Host)
			}
			r.Auth = &contract.Auth{Scheme: p.Scheme, Secret: secret}
			limits = routeLimits(*r)
			return nil
		}
		rf.Routes = append(rf.Routes, contract.Route{Host: p.Host, Auth: &contract.Auth{Scheme: p.Scheme, Secret: secret}})
		added, limits = true, "on every path, with every method"
		return nil
	})
	if err != nil {
		return nil, err
	}
	ch.Summary = fmt.Sprintf("gives egress a credential for %s, sent as \"Authorization: %s …\" %s; you are asked for its value (never shown to the agent); the agent asked for: %s",
		termtext.Line(p.Host), termtext.Line(string(p.Scheme)), limits, termtext.Line(p.Purpose))
	if added {
		ch.Summary += "; the bottle had no route to " + termtext.Line(p.Host) + ", so approving also opens it on port 443"
	}
	ch.credential = &credentialChange{host: p.Host, scheme: p.Scheme, secret: secret}
	return ch, nil
}

// routeLimits says in words where a route's credential is sent.
func routeLimits(r contract.Route) string {
	paths, methods := "every path", "every method"
	if len(r.PathAllowlist) > 0 {
		paths = "paths " + strings.Join(r.PathAllowlist, ", ")
	}
	if len(r.Methods) > 0 {
		methods = strings.Join(r.Methods, ", ")
	}
	return "on " + termtext.Line(paths) + ", with " + termtext.Line(methods)
}

// applyCapability writes the override and has the agent rebuilt; on a
// failure the override is put back as it was.
func (o *Operator) applyCapability(ctx context.Context, slug string, c *capabilityChange) (string, error) {
	if err := os.WriteFile(c.path, []byte(c.after), 0o600); err != nil {
		return "", err
	}
	err := o.Bottles.RebuildAgent(ctx, slug)
	switch {
	case errors.Is(err, ErrNotRunning):
		return "the bottle is not running; its agent starts from the new image next time", nil
	case err != nil:
		if c.existed {
			_ = os.WriteFile(c.path, []byte(c.before), 0o600)
		} else {
			_ = os.Remove(c.path)
		}
		return "", err
	}
	return "", nil
}

// applyCredential asks for the credential's value, writes the routes
// file, and hands the value to egress; on a failure the routes file is
// put back.
func (o *Operator) applyCredential(ctx context.Context, slug string, ch *Change) (string, error) {
	c := ch.credential
	value, err := o.Credential(c.host, c.scheme)
	if err != nil {
		return "", fmt.Errorf("the credential's value: %w", err)
	}
	if len(value) == 0 {
		return "", errors.New("the credential's value is empty")
	}
	old, err := fileinfo.ReadRegular(ch.File, maxStateFileBytes)
	if err != nil {
		return "", err
	}
	data, err := ch.routes.Marshal()
	if err != nil {
		return "", err
	}
	if err := writeAtomic(ch.File, data); err != nil {
		return "", err
	}
	err = o.Bottles.AddCredential(ctx, slug, c.secret, value)
	switch {
	case errors.Is(err, ErrNotRunning):
		return "egress is not running; the credential is used when the bottle starts", nil
	case err != nil:
		if rerr := writeAtomic(ch.File, old); rerr != nil {
			return "", fmt.Errorf("%w; restoring the routes file also failed: %v", err, rerr)
		}
		return "", err
	}
	return "", nil
}
