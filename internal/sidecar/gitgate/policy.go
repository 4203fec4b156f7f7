package gitgate

import (
	"strings"

	"github.com/bot-bottle/bot-bottle/pkg/contract"
)

// refPolicy returns why the repository conf refuses the command c by its
// ref policy, and a line telling the agent how to ask for it; "" if it
// does not. By default pushes go to refs/heads/ and refs/tags/ only
// (refs/replace/, refs/pull/, refs/remotes/ ... would let the agent
// rewrite history for others or hide refs), and branches are not
// deleted. The gate file's push_refs and allow_branch_delete widen that.
func refPolicy(conf contract.Repo, c command) (reason, help string) {
	name := c.Name.String()
	if !conf.MayPush(name) {
		// The agent chose the name: the reason, which reaches the audit
		// log, does not repeat it.
		ns := "refs/" + strings.SplitN(strings.TrimPrefix(name, "refs/"), "/", 2)[0] + "/"
		return "refused: not a branch or tag",
			"push refused: this gate takes pushes to branches (refs/heads/) and tags (refs/tags/) only. " +
				"If you need " + ns + " ask the operator to add it to push_refs for repository " + conf.Name + " in the gate file."
	}
	if c.isDelete() && c.Name.IsBranch() && !conf.AllowBranchDelete {
		return "refused: branch deletion is off",
			"push refused: deleting branches is off for repository " + conf.Name + ". " +
				"If it must go, ask the operator to delete it upstream or to set allow_branch_delete for it in the gate file."
	}
	return "", ""
}
