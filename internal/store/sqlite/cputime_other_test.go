//go:build !unix

package sqlite_test

import "time"

// processCPU is the CPU time the process has used so far, and whether it
// is known: it is not measured on this platform.
func processCPU() (time.Duration, bool) { return 0, false }
