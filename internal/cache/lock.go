package cache

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Lock is a compute lock on one key (see Store.Lock).
type Lock struct {
	path  string
	token string
	stop  chan struct{}
	done  chan struct{}
}

// Lock takes the compute lock of key, so that of several shards needing the
// same expensive entry (the trained model, say) one computes it while the
// others wait:
//
//	if e, ok, err := s.Get(key); ok { ... }       // fast path
//	l, err := s.Lock(ctx, key)                    // wait for our turn
//	defer l.Unlock()
//	if e, ok, err := s.Get(key); ok { ... }       // another shard made it meanwhile
//	e, err := s.Put(key, ...)                     // we compute it
//
// The lock is the file DIR/.locks/<kind>-<key>.lock, created with O_EXCL.
// While held, its mtime is refreshed every 30 s; a lock file not refreshed
// for 2 minutes belongs to a killed process and is broken. Breaking is not
// perfectly race-free, and clocks of different machines may disagree by
// seconds, so in rare cases two processes compute the same entry: that costs
// time, never correctness, since Put lets exactly one copy in.
//
// Lock returns an error when ctx is done before the lock is taken, or when
// the lock file cannot be created (a read-only store).
func (s *Store) Lock(ctx context.Context, key Key) (*Lock, error) {
	if key.IsZero() {
		return nil, errors.New("cache: lock: zero Key (make keys with cache.NewKey)")
	}
	root := filepath.Join(s.dir, locksDir)
	path := filepath.Join(root, key.kind+"-"+key.String()+".lock")
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("cache: lock %s: %w", path, err)
	}
	host, _ := os.Hostname()
	token := fmt.Sprintf("host=%s pid=%d nonce=%s\n", host, os.Getpid(), rand.Text())
	for {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			_, werr := f.WriteString(token)
			if cerr := f.Close(); werr == nil {
				werr = cerr
			}
			if werr != nil {
				os.Remove(path)
				return nil, fmt.Errorf("cache: lock %s: %w", path, werr)
			}
			l := &Lock{path: path, token: token, stop: make(chan struct{}), done: make(chan struct{})}
			go s.heartbeat(l)
			return l, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("cache: lock %s: %w", path, err)
		}
		if st, err := os.Stat(path); err == nil && s.now().Sub(st.ModTime()) > s.lockStale {
			// Move the abandoned lock aside before deleting it, so that of
			// two waiters breaking it at once only one succeeds.
			aside := path + ".stale-" + rand.Text()
			if os.Rename(path, aside) == nil {
				os.Remove(aside)
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("cache: waiting for lock %s: %w", path, ctx.Err())
		case <-time.After(s.lockPoll):
		}
	}
}

// heartbeat refreshes the lock file's mtime until Unlock.
func (s *Store) heartbeat(l *Lock) {
	defer close(l.done)
	t := time.NewTicker(s.lockStale / 4)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			now := s.now()
			os.Chtimes(l.path, now, now)
		}
	}
}

// Unlock releases the lock. The lock file is removed only if it is still
// ours (it may have been broken while this process was stalled).
func (l *Lock) Unlock() error {
	if l == nil || l.stop == nil {
		return nil
	}
	close(l.stop)
	<-l.done
	l.stop = nil
	b, err := os.ReadFile(l.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("cache: unlock: %w", err)
	}
	if string(b) != l.token {
		return nil
	}
	if err := os.Remove(l.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cache: unlock: %w", err)
	}
	return nil
}
