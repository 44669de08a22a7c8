package ingress

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"
)

// pipeConn returns a proxyConn reading what the returned function writes
// (then closes).
func pipeConn(t *testing.T) (*proxyConn, func(b []byte)) {
	t.Helper()
	server, client := net.Pipe()
	t.Cleanup(func() { server.Close(); client.Close() })
	return &proxyConn{Conn: server}, func(b []byte) {
		go func() { _, _ = client.Write(b); client.Close() }()
	}
}

func TestProxyConn(t *testing.T) {
	v2 := proxyproto.HeaderProxyFromAddrs(2, &net.TCPAddr{IP: net.ParseIP("203.0.113.9"), Port: 4711}, &net.TCPAddr{IP: net.ParseIP("10.0.0.1"), Port: 443})
	if err := v2.SetTLVs([]proxyproto.TLV{{Type: TLVSubnetID, Value: []byte("/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/subnets/a")}}); err != nil {
		t.Fatal(err)
	}
	v2Bytes, err := v2.Format()
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte("\x16\x03\x01 the client's first bytes, longer than nothing at all")
	for _, tc := range []struct {
		name       string
		send       []byte
		wantSource string
		wantErr    bool
	}{
		{"no header", payload, "", false},
		{"v1", append([]byte("PROXY TCP4 198.51.100.7 10.0.0.1 5000 443\r\n"), payload...), "198.51.100.7:5000", false},
		{"v2 with the subnet TLV", append(v2Bytes, payload...), "203.0.113.9:4711", false},
		{"malformed v1", append([]byte("PROXY TCP4 not-an-address\r\n"), payload...), "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, send := pipeConn(t)
			send(tc.send)
			got, err := io.ReadAll(c)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("read %q, want an error", got)
				}
				return
			}
			if err != nil || string(got) != string(payload) {
				t.Fatalf("read %q, %v; want the bytes after the header", got, err)
			}
			info := headerInfo(c.proxyHeader())
			switch {
			case tc.wantSource == "" && info != nil:
				t.Errorf("header %+v, want none", info)
			case tc.wantSource != "" && (info == nil || info.Source.String() != tc.wantSource):
				t.Errorf("header %+v, want source %s", info, tc.wantSource)
			}
			if tc.name == "v2 with the subnet TLV" && info.SubnetID == "" {
				t.Error("the subnet TLV was lost")
			}
		})
	}
}

// TestProxyConnDeadlines: the header's time limit never extends the
// deadline the server set, and that deadline is in force afterwards.
func TestProxyConnDeadlines(t *testing.T) {
	c, _ := pipeConn(t)
	if err := c.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("a silent peer: %v, want the server's deadline", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("the header's limit replaced the server's shorter deadline")
	}

	// The peer stays open: net.Pipe refuses deadlines once it has closed.
	server, client := net.Pipe()
	t.Cleanup(func() { server.Close(); client.Close() })
	c = &proxyConn{Conn: server}
	go func() { _, _ = client.Write([]byte("PROXY TCP4 198.51.100.7 10.0.0.1 5000 443\r\nx")) }()
	if _, err := c.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if err := c.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("after the header, a past deadline: %v", err)
	}
}

// TestProxyConnDeadlineDuringHeader: a deadline set while the header is
// being read never lifts the header's own limit.
func TestProxyConnDeadlineDuringHeader(t *testing.T) {
	server, client := net.Pipe()
	t.Cleanup(func() { server.Close(); client.Close() })
	c := &proxyConn{Conn: server}
	_ = c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	done := make(chan error, 1)
	go func() { _, err := c.Read(make([]byte, 1)); done <- err }()
	time.Sleep(50 * time.Millisecond)
	_ = c.SetReadDeadline(time.Now().Add(time.Hour))
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("header read: %v, want the deadline", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("a later, longer deadline lifted the header's limit")
	}
}
