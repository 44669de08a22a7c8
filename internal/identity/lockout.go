package identity

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Password sign-in is open to anyone who can reach the token endpoint, and
// each attempt costs a PBKDF2 run of about a tenth of a second of CPU
// (see password.go). Two guards keep guessing and flooding in check:
//
//   - Smart lockout, as Entra has it: after lockoutThreshold failed
//     attempts for one userPrincipalName, attempts are refused for
//     lockoutDuration without checking the password (AADSTS50053), longer
//     for each further lockout. Unknown names are counted like known ones,
//     so the answers do not tell which exist. Counts are per process.
//   - At most half the CPUs hash passwords at once, so a flood of sign-ins
//     queues rather than starving the gateway and the control plane.
const (
	lockoutThreshold   = 10
	lockoutDuration    = time.Minute
	lockoutMaxDuration = 30 * time.Minute
	// lockoutForget is how long a name's failures are remembered after its
	// last one (or after its lockout ends).
	lockoutForget = 15 * time.Minute
	// lockoutMaxNames bounds the memory the counts take (makeRoomLocked).
	lockoutMaxNames = 100_000
)

// lockout counts failed password sign-ins per tenant and name.
type lockout struct {
	now func() time.Time

	mu    sync.Mutex
	names map[string]*lockoutEntry
}

type lockoutEntry struct {
	failures    int
	lockouts    int // how many times the name was locked, for the growing duration
	lockedUntil time.Time
	last        time.Time
}

func newLockout(now func() time.Time) *lockout {
	return &lockout{now: now, names: map[string]*lockoutEntry{}}
}

func lockoutKey(tenantID, username string) string {
	return strings.ToLower(tenantID) + "/" + strings.ToLower(strings.TrimSpace(username))
}

// locked reports whether sign-ins for the name are refused now.
func (l *lockout) locked(tenantID, username string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.names[lockoutKey(tenantID, username)]
	return e != nil && l.now().Before(e.lockedUntil)
}

// failed counts a failed attempt, locking the name once it reaches the
// threshold.
func (l *lockout) failed(tenantID, username string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	key := lockoutKey(tenantID, username)
	e := l.names[key]
	if e == nil {
		l.makeRoomLocked(now)
		e = &lockoutEntry{}
		l.names[key] = e
	} else if now.Sub(e.last) > lockoutForget && !now.Before(e.lockedUntil) {
		*e = lockoutEntry{lockouts: e.lockouts}
	}
	e.failures++
	e.last = now
	if e.failures >= lockoutThreshold {
		d := min(lockoutDuration<<min(e.lockouts, 5), lockoutMaxDuration)
		e.lockedUntil, e.failures = now.Add(d), 0
		e.lockouts++
	}
}

// succeeded forgets the name's failures.
func (l *lockout) succeeded(tenantID, username string) {
	l.mu.Lock()
	delete(l.names, lockoutKey(tenantID, username))
	l.mu.Unlock()
}

// makeRoomLocked makes room when the map is full: it drops the names with
// nothing left to remember and, if that frees too little, arbitrary others
// (a hundredth of the map), so that a flood of made-up names costs one
// sweep per many insertions. l.mu must be held.
func (l *lockout) makeRoomLocked(now time.Time) {
	if len(l.names) < lockoutMaxNames {
		return
	}
	for k, e := range l.names {
		if now.Sub(e.last) > lockoutForget && !now.Before(e.lockedUntil) {
			delete(l.names, k)
		}
	}
	for k := range l.names {
		if len(l.names) < lockoutMaxNames-lockoutMaxNames/100 {
			break
		}
		delete(l.names, k)
	}
}

// hashSlots bounds the password hashes computed at once.
var hashSlots = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))

// withHashSlot runs f once a hashing slot is free, or returns ctx's error.
func withHashSlot(ctx context.Context, f func()) error {
	select {
	case hashSlots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-hashSlots }()
	f()
	return nil
}
