package identity

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestPasswordLockout: after lockoutThreshold wrong passwords a name is
// locked, even for the right password, without a hint of whether the user
// exists; the lockout ends after its duration, grows when repeated, and a
// success forgets earlier failures.
func TestPasswordLockout(t *testing.T) {
	env := newUserEnv(t)
	const scope = "https://management.azure.com/.default"
	try := func(username, password string) (int, float64) {
		t.Helper()
		rec, body := env.post(t, env.tenant, passwordForm(AzureCLIClientID, username, password, scope), nil)
		codes, _ := body["error_codes"].([]any)
		if len(codes) == 0 {
			return rec.Code, 0
		}
		return rec.Code, codes[0].(float64)
	}

	for i := range lockoutThreshold - 1 {
		if _, code := try("alice@contoso.com", fmt.Sprintf("Wrong-Pass-%d", i)); code != 50126 {
			t.Fatalf("wrong password %d: %v, want 50126", i, code)
		}
	}
	// A success before the threshold forgets the failures.
	if status, _ := try("alice@contoso.com", alicePassword); status != http.StatusOK {
		t.Fatalf("right password after %d failures: %d", lockoutThreshold-1, status)
	}
	for i := range lockoutThreshold {
		if _, code := try("alice@contoso.com", fmt.Sprintf("Wrong-Pass-%d", i)); code != 50126 {
			t.Fatalf("wrong password %d after a success: %v, want 50126", i, code)
		}
	}
	if _, code := try("ALICE@contoso.com", alicePassword); code != 50053 {
		t.Fatalf("right password while locked: %v, want 50053", code)
	}
	// Unknown names lock the same way, so a lockout says nothing about
	// who exists.
	for range lockoutThreshold {
		try("nobody@contoso.com", "Wrong-Pass-0")
	}
	if _, code := try("nobody@contoso.com", "Wrong-Pass-0"); code != 50053 {
		t.Fatalf("unknown name after %d failures: %v, want 50053", lockoutThreshold, code)
	}

	// Guessing on after a lockout ends locks the name for longer.
	env.clock.Advance(lockoutDuration)
	for i := range lockoutThreshold {
		if _, code := try("alice@contoso.com", fmt.Sprintf("Wrong-Pass-%d", i)); code != 50126 {
			t.Fatalf("wrong password %d after the lockout: %v, want 50126", i, code)
		}
	}
	env.clock.Advance(lockoutDuration)
	if _, code := try("alice@contoso.com", alicePassword); code != 50053 {
		t.Fatalf("a second lockout lasted only %s: %v", lockoutDuration, code)
	}
	env.clock.Advance(lockoutDuration + time.Second)
	if status, _ := try("alice@contoso.com", alicePassword); status != http.StatusOK {
		t.Fatalf("right password after the second lockout: %d", status)
	}
}

// TestLockoutBoundsMemory: the counts never hold more than lockoutMaxNames
// names.
func TestLockoutBoundsMemory(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	l := newLockout(clock.Now)
	for i := range lockoutMaxNames + 10 {
		l.failed("t", fmt.Sprintf("user%d@contoso.com", i))
	}
	if n := len(l.names); n > lockoutMaxNames {
		t.Fatalf("%d names kept, want at most %d", n, lockoutMaxNames)
	}
}
