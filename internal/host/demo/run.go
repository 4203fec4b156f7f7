package demo

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// A step is one narrated thing the agent tries.
type step struct {
	title string
	// show is the command as narrated; run does it and says whether the
	// bottle behaved, with the lines to print.
	show string
	run  func(ctx context.Context, b *Bottle) (ok bool, lines []string, err error)
}

// Run stands up the demo bottle in a temporary directory, narrates each
// step to out, tears everything down and returns an error when any step
// did not behave.
func Run(ctx context.Context, out, progress io.Writer, tag string) error {
	start := time.Now()
	work, err := os.MkdirTemp("", "bot-bottle-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	fmt.Fprintln(out, "== bot-bottle demo: an agent in a bottle whose only ways out are the sidecars")
	fmt.Fprintln(out, "   starting bottle bot-bottle-demo (agent, agent-net, netguard, egress, git-gate, supervise)")
	fmt.Fprintln(out, "   beside a pretend internet: api.demo.test (HTTPS, wants a token) and git.demo.test (SSH git)")
	b, err := Up(ctx, Config{Slug: "demo", WorkDir: work, ImageTag: tag, Log: progress})
	if err != nil {
		return err
	}
	defer func() {
		fmt.Fprintln(out, "== tearing down")
		if err := b.Down(context.WithoutCancel(ctx)); err != nil {
			fmt.Fprintf(out, "   docker compose down failed: %v\n", err)
		}
	}()
	fmt.Fprintf(out, "   up in %.1fs\n\n", time.Since(start).Seconds())
	if err := Narrate(ctx, b, out); err != nil {
		return err
	}
	fmt.Fprintf(out, "== every step behaved (%.1fs)\n", time.Since(start).Seconds())
	return nil
}

// Narrate runs the demo's steps inside the running bottle b (started with
// its pretend internet), printing each step's command, what came back and
// whether the bottle behaved. It returns an error naming how many steps did
// not.
func Narrate(ctx context.Context, b *Bottle, out io.Writer) error {
	failed := 0
	for i, s := range steps() {
		fmt.Fprintf(out, "%d. %s\n   agent$ %s\n", i+1, s.title, s.show)
		ok, lines, err := s.run(ctx, b)
		for _, l := range lines {
			fmt.Fprintf(out, "   | %s\n", l)
		}
		switch {
		case err != nil:
			failed++
			fmt.Fprintf(out, "   FAILED: %v\n\n", err)
		case !ok:
			failed++
			fmt.Fprintf(out, "   FAILED: the bottle did not behave as it should\n\n")
		default:
			fmt.Fprintf(out, "   ok\n\n")
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d demo step(s) did not behave", failed)
	}
	return nil
}

func steps() []step {
	return []step{
		{
			title: "The agent holds only a placeholder for the API token",
			show:  `echo $DEMO_API_TOKEN`,
			run: func(ctx context.Context, b *Bottle) (bool, []string, error) {
				r, err := b.Agent(ctx, `echo "$`+TokenEnv+`"`)
				if err != nil {
					return false, nil, err
				}
				got := strings.TrimSpace(r.Stdout)
				return got == Placeholder && !strings.Contains(r.Stdout, b.Token), []string{got}, nil
			},
		},
		{
			title: "An allowed call succeeds: egress swaps in the real token",
			show:  `probe http -H "Authorization: Bearer $DEMO_API_TOKEN" https://api.demo.test/v1/whoami`,
			run: func(ctx context.Context, b *Bottle) (bool, []string, error) {
				r, err := b.Agent(ctx, `probe http -H "Authorization: Bearer $`+TokenEnv+`" https://`+APIHost+`/v1/whoami`)
				if err != nil {
					return false, nil, err
				}
				return r.Code == 0 && strings.Contains(r.Stdout, "token accepted"), excerpt(r), nil
			},
		},
		{
			title: "An undeclared host is refused, with how to ask for it",
			show:  `probe http https://example.com/`,
			run: func(ctx context.Context, b *Bottle) (bool, []string, error) {
				r, err := b.Agent(ctx, `probe http https://example.com/`)
				if err != nil {
					return false, nil, err
				}
				all := r.Stdout + r.Stderr
				return r.Code != 0 && strings.Contains(all, "403") && strings.Contains(all, "egress-block"), excerpt(r), nil
			},
		},
		{
			title: "A request carrying a secret is blocked before it leaves",
			show:  `probe http -X POST -d '{"note":"my key is ghp_…"}' https://api.demo.test/v1/notes`,
			run: func(ctx context.Context, b *Bottle) (bool, []string, error) {
				r, err := b.Agent(ctx, `probe http -X POST -d '{"note":"my key is `+FakeGitHubToken+`"}' https://`+APIHost+`/v1/notes`)
				if err != nil {
					return false, nil, err
				}
				return r.Code == 3 && strings.Contains(r.Stdout, "HTTP 403"), excerpt(r), nil
			},
		},
		{
			title: "A clean git push goes through the gate and lands upstream",
			show:  `git clone http://git-gate:9420/demo.git && cd demo && git commit -am "say hello" && git push`,
			run: func(ctx context.Context, b *Bottle) (bool, []string, error) {
				r, err := b.Agent(ctx, gitSetup+` && cd /tmp/demo && echo hello >> README.md && git commit -qam "agent: say hello" && git push -q origin HEAD:main 2>&1 && git log --oneline -1`)
				if err != nil {
					return false, nil, err
				}
				up, err := b.UpstreamLog(ctx)
				if err != nil {
					return false, excerpt(r), err
				}
				return r.Code == 0 && strings.Contains(up, "agent: say hello"), append(excerpt(r), "upstream main: "+up), nil
			},
		},
		{
			title: "A push with a secret in it is rejected by the gate's scan",
			show:  `echo "aws_secret_access_key = …" > creds.txt && git add creds.txt && git commit -m creds && git push`,
			run: func(ctx context.Context, b *Bottle) (bool, []string, error) {
				r, err := b.Agent(ctx, `cd /tmp/demo && printf 'aws_access_key_id = %s\naws_secret_access_key = %s\n' `+FakeAWSKeyID+` `+FakeAWSSecret+` > creds.txt && git add creds.txt && git commit -qm "add creds" && git push origin HEAD:main 2>&1`)
				if err != nil {
					return false, nil, err
				}
				up, err := b.UpstreamLog(ctx)
				if err != nil {
					return false, excerpt(r), err
				}
				return r.Code != 0 && strings.Contains(r.Stdout, "remote:") && !strings.Contains(up, "add creds"),
					append(excerpt(r), "upstream main: "+up), nil
			},
		},
		{
			title: "A direct connection that bypasses the proxy goes nowhere",
			show:  `probe dns api.demo.test; probe tcp <api.demo.test's address>:443`,
			run: func(ctx context.Context, b *Bottle) (bool, []string, error) {
				ip, err := b.IP(ctx, "api", "egress")
				if err != nil {
					return false, nil, err
				}
				dns, err := b.Agent(ctx, `probe dns `+APIHost)
				if err != nil {
					return false, nil, err
				}
				tcp, err := b.Agent(ctx, `probe tcp `+ip+`:443`)
				if err != nil {
					return false, nil, err
				}
				lines := append(excerpt(dns), excerpt(tcp)...)
				return dns.Code != 0 && tcp.Code != 0, lines, nil
			},
		},
	}
}

// Fake credentials in the shapes the scanners know. They are not real.
const (
	FakeGitHubToken = "ghp_R2d2C3poBb8Lu9kEyWaN1e4Th3Fo5rCe6Jed"
	FakeAWSKeyID    = "AKIAQ6FZKWJ3RTX7BMLD"
	FakeAWSSecret   = "Zx8Qp2Lm5Nv7Rt1Kw4Yb6Hc9Jd3Fg0Sa2Ue5Io8P"
)

// gitSetup clones the demo repo through the gate with a commit identity.
const gitSetup = `cd /tmp && rm -rf demo && git clone -q http://git-gate:9420/demo.git 2>&1 && cd demo && git config user.name "demo agent" && git config user.email agent@demo.test`

// UpstreamLog is the newest commit on the upstream's main.
func (b *Bottle) UpstreamLog(ctx context.Context) (string, error) {
	r, err := b.Exec(ctx, "git-upstream", nil, "git", "--git-dir", "/srv/git/"+RepoName+".git", "log", "--oneline", "-1", "main")
	if err != nil {
		return "", err
	}
	if r.Code != 0 {
		return "", fmt.Errorf("read the upstream log: %s", strings.TrimSpace(r.Stderr))
	}
	return strings.TrimSpace(r.Stdout), nil
}

// excerpt is the first lines of a result, for the transcript.
func excerpt(r Result) []string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(r.Stdout+"\n"+r.Stderr), "\n") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if len(l) > 220 {
			l = l[:220] + "…"
		}
		lines = append(lines, l)
		if len(lines) == 6 {
			break
		}
	}
	return lines
}
