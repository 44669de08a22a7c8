package accesslog

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

// stdJSON is what encoding/json makes of r, HTML escaping off (as
// AppendJSON leaves <, > and & alone).
func stdJSON(t testing.TB, r Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func fullRecord() Record {
	return Record{
		Seq: 7, Time: time.Date(2026, 11, 22, 8, 0, 1, 123456789, time.UTC), RequestID: "3f2c9a1e-7b4d-4e5f-9a8b-000000000001",
		Plane: PlaneIngress, Direction: Inbound, SourceIP: "203.0.113.9", SourcePort: 40123, SourceVia: ViaForwardedFor,
		ArrivalPath: PathServiceEndpoint, SubnetID: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/a",
		PrivateEndpointID: "/pe", ResourceID: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a",
		SubscriptionID: "s", Host: "a.openai.perimeter.localhost", DestinationPort: 443, Deployment: "gpt", Operation: "chat/completions",
		Result: Allowed, Layer: LayerNetworkACLs, Rule: "ipRules[0]: 203.0.113.0/24", Code: "Allowed", Reason: "source matches <ipRules[0]> & more",
		Category: CategoryPublicInboundResourceRulesAllowed, SnapshotRevision: 1234, PrincipalID: "p", AuthType: AuthBearer,
		Status: 200, LatencyMs: 3.417, PromptTokens: 42, CompletionTokens: 128,
	}
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	cases := map[string]Record{
		"every field":  fullRecord(),
		"empty":        {},
		"local time":   {Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 5*3600+1800)), Result: Denied},
		"escapes":      {Reason: "quote \" backslash \\ newline \n tab \t cr \r bell \a nul \x00 del \x7f", Rule: "\u2028\u2029 é 漢 🙂"},
		"invalid utf8": {Reason: "bad \xff\xfe byte, cut \xe6\xbc", Host: "\xc0\x80"},
		"tiny latency": {LatencyMs: 1e-7},
		"huge latency": {LatencyMs: 1e22},
		"negative":     {LatencyMs: -0.5, SourcePort: -1, SnapshotRevision: -3},
		"exponent 2":   {LatencyMs: 1.5e-300},
	}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := r.AppendJSON(nil)
			if err != nil {
				t.Fatal(err)
			}
			if want := stdJSON(t, r); !bytes.Equal(got, want) {
				t.Fatalf("AppendJSON\n %s\nencoding/json\n %s", got, want)
			}
		})
	}
}

func TestAppendJSONRefusesWhatJSONCannotSay(t *testing.T) {
	for name, r := range map[string]Record{
		"NaN":        {LatencyMs: math.NaN()},
		"infinity":   {LatencyMs: math.Inf(1)},
		"year 10000": {Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		if _, err := r.AppendJSON(nil); err == nil {
			t.Errorf("%s: no error", name)
		}
		if _, _, err := Encode(r); err == nil {
			t.Errorf("%s: Encode gave no error", name)
		}
	}
}

func TestAppendJSONAppends(t *testing.T) {
	r := fullRecord()
	got, err := r.AppendJSON([]byte("prefix:"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(got), "prefix:{") {
		t.Fatalf("%.20s", got)
	}
}

// FuzzAppendJSON: for any strings and numbers, the bytes are those of
// encoding/json and decode back to the same record.
func FuzzAppendJSON(f *testing.F) {
	f.Add("id", "203.0.113.9", "reason \" \\ \n", "rule\xff", int64(5), 3.25, int64(0))
	f.Add("", "", "\u2028", "<&>", int64(-1), 1e-9, int64(1700000000123456789))
	f.Fuzz(func(t *testing.T, id, ip, reason, rule string, n int64, latency float64, ns int64) {
		if math.IsNaN(latency) || math.IsInf(latency, 0) {
			return
		}
		r := Record{Time: time.Unix(0, ns).UTC(), RequestID: id, SourceIP: ip, Reason: reason, Rule: rule,
			SnapshotRevision: n, Status: int(n % 1000), LatencyMs: latency, Result: Allowed}
		if r.Time.Year() > 9999 || r.Time.Year() < 0 {
			return
		}
		got, err := r.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := stdJSON(t, r); !bytes.Equal(got, want) {
			t.Fatalf("AppendJSON\n %s\nencoding/json\n %s", got, want)
		}
		var back Record
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%s: %v", got, err)
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	r := fullRecord()
	b.Run("AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf, _ = r.AppendJSON(buf[:0])
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(r)
		}
	})
}
