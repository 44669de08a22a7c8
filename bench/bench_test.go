package bench

import (
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perimeterhq/perimeter/internal/server"
)

const (
	apiVersion = "2025-04-01"
	// groupCount resource groups are created before measuring; GETs and
	// PUTs go round-robin over them.
	groupCount = 100
	// parallelism × GOMAXPROCS goroutines run the parallel sub-benchmarks
	// (8 on 2 cores).
	parallelism = 4
)

// baselineBody has the shape and size (within 16 bytes) of a resource group GET's
// body, which BenchmarkGetResourceGroup checks.
const baselineBody = `{"id":"/subscriptions/5c52b1d8-a360-41d2-bfc4-8a005229a7eb/resourceGroups/bench-rg-000",` +
	`"name":"bench-rg-000","type":"Microsoft.Resources/resourceGroups","location":"westeurope",` +
	`"tags":{"rev":"1"},"properties":{"provisioningState":"Succeeded"},` +
	`"systemData":{"createdBy":"59c853e7-d2a3-4d14-b37e-937ed6f0fe7d","createdByType":"Application",` +
	`"createdAt":"2026-11-22T02:49:19.23490144Z","lastModifiedBy":"59c853e7-d2a3-4d14-b37e-937ed6f0fe7d",` +
	`"lastModifiedByType":"Application","lastModifiedAt":"2026-11-22T02:49:19.23490144Z"}}`

// baselineTokenLen is the length of the issuer's management tokens, so
// that baseline requests are as large as real ones.
const baselineTokenLen = 826

// BenchmarkBaselineTLS measures GETs against a bare net/http server over
// TLS that answers baselineBody: the floor that TLS, HTTP/2 and the client
// put under every figure, measured the same way as the real ones.
func BenchmarkBaselineTLS(b *testing.B) {
	t := startBaseline(b, []byte(baselineBody))
	t.auth = "Bearer " + strings.Repeat("x", baselineTokenLen)
	paths := make([]string, groupCount)
	for i := range paths {
		paths[i] = "/subscriptions/5c52b1d8-a360-41d2-bfc4-8a005229a7eb/resourcegroups/" + groupName(i) + "?api-version=" + apiVersion
	}
	benchGets(b, &t, paths)
}

// BenchmarkGetResourceGroup measures GET of an existing resource group
// through the whole control plane: TLS, HTTP/2, token verification (JWT
// signature and a store read of the tenant), ARM routing and a store read
// of the group.
func BenchmarkGetResourceGroup(b *testing.B) {
	eachStore(b, func(b *testing.B, p *perimeter) {
		paths := p.createGroups(b)
		n, err := p.do(b.Context(), http.MethodGet, paths[0], nil, http.StatusOK)
		if err != nil {
			b.Fatal(err)
		}
		if d := n - int64(len(baselineBody)); d < -16 || d > 16 {
			b.Errorf("a GET answers %d bytes but baselineBody has %d: make them the same size again", n, len(baselineBody))
		}
		benchGets(b, &p.target, paths)
	})
}

// BenchmarkPutResourceGroup measures PUT updates of existing resource
// groups, each with a tag value not sent before, so every call is a store
// write (one transaction, with its fsync on SQLite).
func BenchmarkPutResourceGroup(b *testing.B) {
	eachStore(b, func(b *testing.B, p *perimeter) {
		paths := p.createGroups(b)
		var rev atomic.Int64
		put := func(slot int) error {
			body := `{"location":"westeurope","tags":{"rev":"` + strconv.FormatInt(rev.Add(1), 10) + `"}}`
			_, err := p.do(b.Context(), http.MethodPut, paths[slot], strings.NewReader(body), http.StatusOK)
			return err
		}
		b.Run("serial", func(b *testing.B) { measure(b, false, len(paths), "puts/s", put) })
		b.Run("parallel", func(b *testing.B) { measure(b, true, len(paths), "puts/s", put) })
	})
}

// eachStore runs f as sub-benchmark "sqlite" on a server with the embedded
// SQLite store, and as "postgres" on one with a fresh PostgreSQL schema
// (skipped without PERIMETER_TEST_POSTGRES_URL).
func eachStore(b *testing.B, f func(*testing.B, *perimeter)) {
	withStore := func(b *testing.B, url string) *perimeter {
		p, _ := startPerimeter(b, b.TempDir(), func(c *server.Config) { c.StoreURL = url })
		return p
	}
	b.Run("sqlite", func(b *testing.B) { f(b, withStore(b, "")) })
	b.Run("postgres", func(b *testing.B) { f(b, withStore(b, postgresStoreURL(b))) })
}

// benchGets runs the serial and parallel GET sub-benchmarks over paths.
func benchGets(b *testing.B, t *target, paths []string) {
	get := func(slot int) error {
		_, err := t.do(b.Context(), http.MethodGet, paths[slot], nil, http.StatusOK)
		return err
	}
	b.Run("serial", func(b *testing.B) { measure(b, false, len(paths), "gets/s", get) })
	b.Run("parallel", func(b *testing.B) { measure(b, true, len(paths), "gets/s", get) })
}

// createGroups creates groupCount resource groups and returns their paths.
func (p *perimeter) createGroups(b *testing.B) []string {
	b.Helper()
	paths := make([]string, groupCount)
	for i := range paths {
		paths[i] = p.groupPath(groupName(i))
		body := strings.NewReader(`{"location":"westeurope","tags":{"rev":"0"}}`)
		if _, err := p.do(b.Context(), http.MethodPut, paths[i], body, http.StatusCreated); err != nil {
			b.Fatal(err)
		}
	}
	return paths
}

func groupName(i int) string { return fmt.Sprintf("bench-rg-%03d", i) }

// measure calls op b.N times and reports each call's latency (p50, p99)
// and calls per second as unit. op gets a slot in [0, slots): serially,
// call i gets slot i mod slots. In parallel, each of the
// parallelism×GOMAXPROCS workers cycles over slots of its own (worker w of
// W gets w, w+W, w+2W, …), so no two calls in flight share a slot and
// concurrent PUTs never race on one resource group. Latencies in parallel
// include waiting for a CPU: they are latencies under that load.
func measure(b *testing.B, parallel bool, slots int, unit string, op func(slot int) error) {
	lat := newLatencies(b.N)
	if !parallel {
		b.ResetTimer()
		for i := range b.N {
			start := time.Now()
			if err := op(i % slots); err != nil {
				b.Fatal(err)
			}
			lat.add(time.Since(start))
		}
	} else {
		workers := parallelism * runtime.GOMAXPROCS(0)
		if workers > slots {
			b.Fatalf("%d workers need at least as many slots; have %d", workers, slots)
		}
		perWorker := slots / workers
		var nextWorker atomic.Int64
		b.SetParallelism(parallelism)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			w := int(nextWorker.Add(1) - 1)
			for i := 0; pb.Next(); i++ {
				start := time.Now()
				if err := op(w + (i%perWorker)*workers); err != nil {
					b.Error(err)
					return
				}
				lat.add(time.Since(start))
			}
		})
	}
	b.StopTimer()
	if b.Failed() {
		return
	}
	lat.report(b)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), unit)
}
