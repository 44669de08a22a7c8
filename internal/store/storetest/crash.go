package storetest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perimeterhq/perimeter/internal/store"
)

// Opener opens the store at target: a file path or a database URL.
type Opener func(ctx context.Context, target string) (store.Store, error)

const (
	// crashEnv carries the target to the child process; its presence is
	// what turns TestCrashHelper from a skip into the writer.
	crashEnv = "PERIMETER_STORETEST_CRASH_TARGET"
	// crashProgress prefixes the child's "generation N committed" lines.
	crashProgress = "storetest-crash-committed "

	crashRounds   = 3
	childLifetime = 30 * time.Second // the child stops on its own after this
	roundTimeout  = 20 * time.Second // the parent gives up on a silent child
)

// Crash is the parent half of the crash-safety test: each round it starts
// the test binary again as a child running TestCrashHelper, which writes
// to target in a tight loop; after a random number of committed writes it
// kills the child with SIGKILL, reopens the store and checks that every
// document is whole, every Apply is all-or-nothing, no committed Apply was
// lost, the change feed agrees with the documents, and the store still
// accepts writes.
//
// The calling package must also define
//
//	func TestCrashHelper(t *testing.T) { storetest.CrashHelper(t, open) }
func Crash(t *testing.T, target string, open Opener) {
	for round := range crashRounds {
		committed := runAndKill(t, target)
		ctx, cancel := context.WithTimeout(t.Context(), roundTimeout)
		s, err := open(ctx, target)
		if err != nil {
			cancel()
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		verifyCrash(t, ctx, s, committed)
		id := fmt.Sprintf("/crash-verify/round-%d", round)
		d, err := store.Put(ctx, s, doc(id, "verify", "", `{"round":true}`), store.Precondition{IfNoneMatch: "*"})
		if err != nil {
			t.Fatalf("round %d: write after reopening: %v", round, err)
		}
		if got, err := s.Get(ctx, id); err != nil || got.ETag != d.ETag {
			t.Fatalf("round %d: read back the new write: (%s, %v)", round, show(got), err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("round %d: close: %v", round, err)
		}
		cancel()
		t.Logf("round %d: killed after generation %d committed; store verified", round, committed)
	}
}

// runAndKill runs the writer child, kills it with SIGKILL after a few
// commits, and returns the last generation it reported committed.
func runAndKill(t *testing.T, target string) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), crashEnv+"="+target)
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("child stdout: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	progress := make(chan int, 1024)
	var output lockedBuffer
	go func() {
		defer close(progress)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			gen, ok := strings.CutPrefix(line, crashProgress)
			if !ok {
				fmt.Fprintln(&output, line)
				continue
			}
			if n, err := strconv.Atoi(gen); err == nil {
				progress <- n
			}
		}
	}()

	// Let a random number of Applies commit, then kill at a random moment
	// inside the loop.
	want := 3 + rand.IntN(8)
	last, seen := 0, 0
	deadline := time.After(roundTimeout)
	for seen < want {
		select {
		case gen, ok := <-progress:
			if !ok {
				err := cmd.Wait()
				t.Fatalf("child exited (%v) after %d commits; output:\n%s%s", err, seen, output.String(), stderr.String())
			}
			last, seen = gen, seen+1
		case <-deadline:
			cmd.Process.Kill()
			for range progress {
			}
			cmd.Wait()
			t.Fatalf("child committed %d writes in %v; output:\n%s%s", seen, roundTimeout, output.String(), stderr.String())
		}
	}
	time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("kill child: %v", err)
	}
	// Everything the child printed before it died was committed.
	for gen := range progress {
		last = gen
	}
	cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != -1 {
		t.Fatalf("child exited with code %d instead of being killed; output:\n%s%s", code, output.String(), stderr.String())
	}
	return last
}

// CrashHelper is the child half of Crash: run from a test named
// TestCrashHelper, it writes generation after generation to the store
// until it is killed, printing a line after each committed generation. It
// skips unless started by Crash.
func CrashHelper(t *testing.T, open Opener) {
	target := os.Getenv(crashEnv)
	if target == "" {
		t.Skip("runs only as the child process of a crash test")
	}
	ctx, cancel := context.WithTimeout(context.Background(), childLifetime)
	defer cancel()
	s, err := open(ctx, target)
	if err != nil {
		t.Fatalf("crash helper: open %s: %v", target, err)
	}
	defer s.Close()
	gen, err := currentGeneration(ctx, s)
	if err != nil {
		t.Fatalf("crash helper: %v", err)
	}
	for ctx.Err() == nil {
		gen++
		if err := writeGeneration(ctx, s, gen); err != nil {
			if ctx.Err() != nil {
				return
			}
			t.Fatalf("crash helper: generation %d: %v", gen, err)
		}
	}
}

// writeGeneration commits generation gen: one Apply rewriting the whole
// group (and deleting or re-creating its flip member), then, every few
// generations, a DeleteTree of the tree followed by an Apply re-creating it.
func writeGeneration(ctx context.Context, s store.Store, gen int) error {
	ops := make([]store.Op, 0, len(crashGroup())+1)
	for _, id := range crashGroup() {
		ops = append(ops, store.Op{Put: ptr(crashDoc(id, crashGroupParent, gen))})
	}
	if gen%2 == 0 {
		ops = append(ops, store.Op{Put: ptr(crashDoc(crashFlip, crashGroupParent, gen)), If: store.Precondition{IfNoneMatch: "*"}})
	} else if gen > 1 {
		ops = append(ops, store.Op{Delete: crashFlip, If: store.Precondition{IfMatch: "*"}})
	}
	if _, err := s.Apply(ctx, ops...); err != nil {
		return fmt.Errorf("apply group: %w", err)
	}
	if _, err := fmt.Fprintf(os.Stdout, "%s%d\n", crashProgress, gen); err != nil {
		return fmt.Errorf("report progress: %w", err)
	}
	if gen%crashTreeEvery != 0 {
		return nil
	}
	if _, err := s.DeleteTree(ctx, crashTreeRoot); err != nil {
		return fmt.Errorf("delete tree: %w", err)
	}
	ops = ops[:0]
	for _, id := range crashTree() {
		ops = append(ops, store.Op{Put: ptr(crashDoc(id, crashTreeRoot, gen)), If: store.Precondition{IfNoneMatch: "*"}})
	}
	if _, err := s.Apply(ctx, ops...); err != nil {
		return fmt.Errorf("apply tree: %w", err)
	}
	return nil
}

// currentGeneration returns the generation of the group, 0 if none yet.
func currentGeneration(ctx context.Context, s store.Store) (int, error) {
	d, err := s.Get(ctx, crashGroup()[0])
	if err != nil {
		if isNotFound(err) {
			return 0, nil
		}
		return 0, fmt.Errorf("read generation: %w", err)
	}
	body, err := parseCrashBody(d)
	if err != nil {
		return 0, err
	}
	return body.Gen, nil
}

// lockedBuffer is a bytes.Buffer safe for a writer goroutine and a reader.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
