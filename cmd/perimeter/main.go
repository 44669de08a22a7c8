// Command perimeter is the one binary of Perimeter: `perimeter serve` runs
// the control plane and data planes; the other commands are the CLI that
// drives a running server the way `az` drives Azure.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCommand()
	if err := root.ExecuteContext(ctx); err != nil {
		var ce *cliError
		if errors.As(err, &ce) {
			fmt.Fprintln(os.Stderr, ce.Error())
			os.Exit(ce.exit)
		}
		fmt.Fprintln(os.Stderr, "ERROR:", err)
		os.Exit(1)
	}
}

// cliError is an error with the process exit code it should produce.
type cliError struct {
	msg  string
	exit int
}

func (e *cliError) Error() string { return e.msg }
