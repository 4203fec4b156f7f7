package cli

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/bot-bottle/bot-bottle/internal/host/codexauth"
	"github.com/bot-bottle/bot-bottle/internal/host/manifest"
	"github.com/bot-bottle/bot-bottle/internal/host/provider"
	"github.com/bot-bottle/bot-bottle/internal/host/render"
)

// bottles are the manifests' bottles, sorted by name, loaded once per
// run; an error when they do not load (validate shows the problems).
func (r *doctorRun) bottles() ([]*manifest.Bottle, error) {
	if !r.loadedOnce {
		r.loadedOnce = true
		cwd, err := r.env.Getwd()
		if err != nil {
			return nil, err
		}
		m, err := manifest.Load(manifest.Options{Home: r.home, CWD: cwd})
		var problems manifest.Problems
		switch {
		case errors.As(err, &problems):
			r.loadErr = fmt.Errorf("the manifests in %s have %s", r.disp.path(r.home), plural(len(problems), "problem"))
		case err != nil:
			r.loadErr = err
		default:
			for _, name := range m.BottleNames() {
				r.loaded = append(r.loaded, m.Bottles[name])
			}
		}
	}
	return r.loaded, r.loadErr
}

// imageResult is whether image is on this machine, as a check line about
// subject; needed says which bottles need it.
func (r *doctorRun) imageResult(subject, image, needed string) checkResult {
	ok, err := r.eng.ImagePresent(r.ctx, image)
	switch {
	case err != nil:
		return checkResult{status: checkFail, subject: subject, detail: "cannot list images: " + errLine(err), fix: "docker image ls"}
	case ok:
		return checkResult{subject: subject, detail: image + " is built" + needed}
	}
	fix := "docker pull " + image + " (or build it)"
	if build, ok := provider.BuildCommand(image); ok {
		fix = build + " (in a bot-bottle checkout, where a registry is reachable)"
	}
	return checkResult{status: checkFail, subject: subject, detail: image + " is not on this machine" + needed, fix: fix}
}

// checkAgentImages: the image every defined bottle runs is here (a
// bottle that names a Dockerfile is built by up, so it is left out).
func checkAgentImages(r *doctorRun) []checkResult {
	const subject = "agent images"
	bottles, err := r.bottles()
	if err != nil {
		return []checkResult{{status: checkFail, subject: subject, detail: "cannot read the bottles: " + errLine(err), fix: "bot-bottle validate"}}
	}
	if len(bottles) == 0 {
		return []checkResult{{subject: subject, detail: "no bottle is defined under " + r.disp.path(r.home)}}
	}
	needs := map[string][]string{}
	for _, b := range bottles {
		if b.Provider.Dockerfile != "" {
			continue
		}
		image, err := render.AgentImage(*b)
		if err != nil {
			continue
		}
		needs[image] = append(needs[image], b.Name)
	}
	if len(needs) == 0 {
		return []checkResult{{subject: subject, detail: "no bottle runs a prebuilt image"}}
	}
	var out []checkResult
	for _, image := range slices.Sorted(maps.Keys(needs)) {
		out = append(out, r.imageResult(subject, image, " (bottle "+strings.Join(needs[image], ", ")+")"))
	}
	return out
}

// templateBottles are the defined bottles of template.
func (r *doctorRun) templateBottles(template string) ([]*manifest.Bottle, error) {
	all, err := r.bottles()
	return slices.DeleteFunc(slices.Clone(all), func(b *manifest.Bottle) bool { return b.Provider.Template != template }), err
}

// checkClaude: Claude Code's image, and the token variable each claude
// bottle names is set here.
func checkClaude(r *doctorRun) []checkResult {
	c, _ := provider.For(provider.Claude)
	out := []checkResult{r.imageResult("claude image", c.Image, "")}
	bottles, err := r.templateBottles(provider.Claude)
	if err != nil {
		return append(out, checkResult{status: checkFail, subject: "claude token", detail: "cannot read the bottles: " + errLine(err), fix: "bot-bottle validate"})
	}
	const how = "claude setup-token prints one"
	var named bool
	for _, b := range bottles {
		v := b.Provider.AuthToken
		if v == "" {
			continue
		}
		named = true
		if strings.TrimSpace(r.env.Getenv(v)) == "" {
			out = append(out, checkResult{status: checkFail, subject: "claude token",
				detail: "bottle " + b.Name + " takes its token from $" + v + ", which is not set here",
				fix:    "export " + v + "=<token> before bot-bottle up (" + how + ")"})
			continue
		}
		out = append(out, checkResult{subject: "claude token", detail: "bottle " + b.Name + ": $" + v + " is set; egress injects it on api.anthropic.com, the agent holds a placeholder"})
	}
	if !named {
		out = append(out, checkResult{status: checkNote, subject: "claude token",
			detail: "no claude bottle sets agent_provider.auth_token: you log in inside the bottle (/login), and the login stays in it; to keep tokens out of the bottle, set auth_token to a variable holding a token (" + how + ")"})
	}
	return out
}

// checkCodex: Codex's image, and the host's Codex login that a bottle
// with forward_host_credentials forwards.
func checkCodex(r *doctorRun) []checkResult {
	c, _ := provider.For(provider.Codex)
	out := []checkResult{r.imageResult("codex image", c.Image, "")}
	const subject = "codex login"
	h, err := codexauth.Read(codexauth.Path(r.env.Getenv), r.now)
	if err != nil {
		return append(out, checkResult{status: checkFail, subject: subject, detail: errLine(err)})
	}
	for _, w := range h.Warnings() {
		out = append(out, checkResult{status: checkNote, subject: subject, detail: w})
	}
	return append(out, checkResult{subject: subject, detail: describeCodexLogin(r.disp, h, r.now) + "; bottles with forward_host_credentials forward it"})
}
