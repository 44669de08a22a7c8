package main

import (
	"os"
	"runtime/debug"
	"testing"
)

// TestTuneGC: serve raises GOGC to serveGCPercent, unless the operator set
// GOGC.
func TestTuneGC(t *testing.T) {
	orig := debug.SetGCPercent(123)
	defer debug.SetGCPercent(orig)

	t.Setenv("GOGC", "150")
	tuneGC()
	if got := debug.SetGCPercent(123); got != 123 {
		t.Errorf("with GOGC set, the GC percent became %d", got)
	}
	os.Unsetenv("GOGC") // t.Setenv restores it
	tuneGC()
	if got := debug.SetGCPercent(123); got != serveGCPercent {
		t.Errorf("without GOGC, the GC percent is %d, want %d", got, serveGCPercent)
	}
}
