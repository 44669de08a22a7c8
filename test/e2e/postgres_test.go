package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// postgresStore creates a fresh schema for one test and returns the --store
// URL that uses it. The test is skipped when PERIMETER_TEST_POSTGRES_URL is
// unset; CI always sets it.
func postgresStore(t *testing.T) string {
	t.Helper()
	base := os.Getenv("PERIMETER_TEST_POSTGRES_URL")
	if base == "" {
		t.Skip("PERIMETER_TEST_POSTGRES_URL is not set")
	}
	schema := fmt.Sprintf("perimeter_e2e_%d", time.Now().UnixNano())
	conn, err := pgx.Connect(t.Context(), base)
	if err != nil {
		t.Fatalf("connect to %s: %v", base, err)
	}
	defer conn.Close(t.Context())
	if _, err := conn.Exec(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// t.Context() is already cancelled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

// TestResourceGroupsOnPostgres runs the SDK scenario on the PostgreSQL store,
// then starts a second replica on the same database with its own data
// directory and checks it serves the same state.
func TestResourceGroupsOnPostgres(t *testing.T) {
	url := postgresStore(t)
	in := start(t, t.TempDir(), "--store", url)
	runResourceGroupScenario(t, in)

	replica := start(t, t.TempDir(), "--store", url)
	if replica.admin.TenantID != in.admin.TenantID || replica.admin.SubscriptionID != in.admin.SubscriptionID {
		t.Fatalf("replica bootstrapped a new installation: %+v vs %+v", replica.admin, in.admin)
	}
	tok, err := replica.token("https://management.azure.com/.default")
	if err != nil {
		t.Fatal(err)
	}
	resp, body, err := replica.call(t.Context(), http.MethodGet, "/subscriptions/"+in.admin.SubscriptionID+"/resourcegroups/e2e-rg-1?api-version=2025-04-01", tok, nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("replica does not see a group created through the first: %v %s", err, body)
	}
	// The first replica's credential still works: the replica added a
	// secret, it did not replace the first one.
	if _, err := in.token("https://management.azure.com/.default"); err != nil {
		t.Fatalf("first replica's credential stopped working: %v", err)
	}
}
