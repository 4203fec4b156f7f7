// Command supervise is a bot-bottle sidecar. It is not built yet: this
// placeholder exits with an error so nothing mistakes it for the real daemon.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "supervise: not built yet")
	os.Exit(1)
}
