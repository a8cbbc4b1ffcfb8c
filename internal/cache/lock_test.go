package cache

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// lockStore is a store on the real clock with fast lock timings.
func lockStore(t *testing.T) *Store {
	t.Helper()
	s, _, _ := testStore(t)
	s.now = time.Now
	s.lockPoll = 5 * time.Millisecond
	s.lockStale = 400 * time.Millisecond
	return s
}

func TestLockExcludes(t *testing.T) {
	s := lockStore(t)
	key := testKey("a")
	ctx := context.Background()
	l1, err := s.Lock(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	var got atomic.Bool
	done := make(chan error)
	go func() {
		l2, err := s.Lock(ctx, key)
		got.Store(true)
		if err == nil {
			err = l2.Unlock()
		}
		done <- err
	}()
	// Longer than the stale limit: the heartbeat must keep the lock alive.
	time.Sleep(2 * s.lockStale)
	if got.Load() {
		t.Fatal("second Lock taken while the first is held")
	}
	if err := l1.Unlock(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("second Lock not taken after Unlock")
	}
	if n := dirNames(t, filepath.Join(s.Dir(), locksDir)); n != "" {
		t.Errorf(".locks holds %s after both unlocked", n)
	}
	// Other keys are independent.
	la, _ := s.Lock(ctx, testKey("a"))
	lb, err := s.Lock(ctx, testKey("b"))
	if err != nil {
		t.Fatal(err)
	}
	la.Unlock()
	lb.Unlock()
}

func TestLockBreaksStale(t *testing.T) {
	s := lockStore(t)
	key := testKey("a")
	// The lock file of a process killed a minute ago.
	p := filepath.Join(s.Dir(), locksDir, "model-"+key.String()+".lock")
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.WriteFile(p, []byte("host=dead pid=1\n"), 0o644)
	old := time.Now().Add(-time.Minute)
	os.Chtimes(p, old, old)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l, err := s.Lock(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); !strings.Contains(string(b), "nonce=") {
		t.Errorf("lock file holds %q, want ours", b)
	}
	l.Unlock()
}

func TestLockContext(t *testing.T) {
	s := lockStore(t)
	key := testKey("a")
	l, err := s.Lock(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = s.Lock(ctx, key)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "cache: waiting for lock ") {
		t.Errorf("Lock with expiring context: %v", err)
	}
}

// TestUnlockLeavesOthersLock: a lock broken while its holder stalled is not
// removed by the stalled holder's Unlock.
func TestUnlockLeavesOthersLock(t *testing.T) {
	s := lockStore(t)
	key := testKey("a")
	l, err := s.Lock(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(l.path, []byte("someone else\n"), 0o644)
	if err := l.Unlock(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(l.path); err != nil || string(b) != "someone else\n" {
		t.Errorf("other's lock file: %q, %v", b, err)
	}
}
