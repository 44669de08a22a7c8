package bench

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/perimeterhq/perimeter/internal/access"
	"github.com/perimeterhq/perimeter/internal/snapshot"
)

// BenchmarkEvaluate measures one access decision against an account whose
// firewall has N CIDR rules. The target: under 200 ns at one
// million rules, flat as rules grow — compare the sub-benchmarks with each
// other (rules=100 is the baseline of the same run).
func BenchmarkEvaluate(b *testing.B) {
	for _, n := range []int{100, 10_000, 1_000_000} {
		snap, hit, miss := firewallSnapshot(n)
		b.Run(fmt.Sprintf("rules=%d/match", n), func(b *testing.B) { benchDecision(b, snap, hit, true) })
		b.Run(fmt.Sprintf("rules=%d/nomatch", n), func(b *testing.B) { benchDecision(b, snap, miss, false) })
	}
}

func benchDecision(b *testing.B, snap *snapshot.Snapshot, f access.Facts, want bool) {
	b.ReportAllocs()
	for b.Loop() {
		if d := access.Evaluate(snap, f); d.Allow != want {
			b.Fatalf("decision %+v", d)
		}
	}
}

// firewallSnapshot builds an account with n distinct public /24 rules in
// 11.0.0.0/8..126.0.0.0/8 and returns facts that match one and that match
// none (a source in 1.0.0.0/8, where no rule lies).
func firewallSnapshot(n int) (*snapshot.Snapshot, access.Facts, access.Facts) {
	const host = "a.cognitiveservices.perimeter.localhost"
	r := rand.New(rand.NewPCG(1, 2))
	a := snapshot.NewAccount("/subscriptions/s/resourceGroups/g/providers/Microsoft.CognitiveServices/accounts/a", "a")
	a.Hosts = []string{host}
	a.DefaultAllow = false
	seen := map[uint32]bool{}
	var last netip.Prefix
	for len(seen) < n {
		v := (11+r.Uint32N(116))<<24 | r.Uint32N(1<<16)<<8
		if seen[v] {
			continue
		}
		seen[v] = true
		var ip [4]byte
		binary.BigEndian.PutUint32(ip[:], v)
		last = netip.PrefixFrom(netip.AddrFrom4(ip), 24)
		a.AddIPRule(last.String(), last)
	}
	b := snapshot.NewBuilder(1)
	b.AddAccount(a)
	hitIP := last.Addr().Next()
	hit := access.Facts{Direction: access.Inbound, Source: hitIP, Path: access.PathPublic, Host: host}
	miss := hit
	miss.Source = netip.MustParseAddr("1.2.3.4")
	return b.Build(), hit, miss
}
