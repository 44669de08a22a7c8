// Package bench holds Perimeter's benchmarks. It has no code of its own:
// everything is in _test.go files, run with
//
//	go test -run='^$' -bench=. ./bench/
//
// Each figure is reported next to BenchmarkBaselineTLS, a bare net/http
// server over the same TLS, measured in the same run with the same client
// and the same percentile code, so that ratios to it can be compared across
// machines. README.md has the command and the figures.
package bench
