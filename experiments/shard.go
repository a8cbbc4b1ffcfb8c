package experiments

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/purview-lab/purview/datasets"
	"github.com/purview-lab/purview/internal/atomicfile"
	"github.com/purview-lab/purview/internal/cache"
)

// Shard is part I (0-based) of N of a run's per-sample work.
type Shard struct{ I, N int }

func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.I, s.N) }

func (s Shard) check() error {
	if s.N < 1 || s.I < 0 || s.I >= s.N {
		return fmt.Errorf("shard %d/%d: want 0 ≤ I < N", s.I, s.N)
	}
	return nil
}

// ParseShard parses "I/N" (0-based I).
func ParseShard(text string) (Shard, error) {
	i, n, err := cache.ParseShard(text)
	return Shard{i, n}, err
}

// shardSet returns the samples of s in shard sh: a contiguous range of whole
// blocks of blockRows samples (cache.ShardRange over the block count), so
// its blocks are exactly blocks of the whole set.
func shardSet(s *datasets.Set, sh Shard) *datasets.Set {
	nb := (s.Len() + blockRows - 1) / blockRows
	blo, bhi := cache.ShardRange(nb, sh.I, sh.N)
	lo, hi := blo*blockRows, min(bhi*blockRows, s.Len())
	idx := make([]int, 0, max(hi-lo, 0))
	for i := lo; i < hi; i++ {
		idx = append(idx, i)
	}
	out := s.Subset(idx)
	return out
}

// receipt is what a finished shard leaves for Merge.
type receipt struct {
	Config   string    `json:"config_sha256"`
	Shard    string    `json:"shard"`
	Cache    string    `json:"cache"`
	Reused   int64     `json:"blocks_reused"`
	Computed int64     `json:"blocks_computed"`
	Finished time.Time `json:"finished"`
}

// receiptPath is <out>/.shards/<name>/<i>-of-<n>.json: outside the run
// directory, which Merge replaces whole.
func receiptPath(out, name string, sh Shard) string {
	return filepath.Join(out, ".shards", name, fmt.Sprintf("%d-of-%d.json", sh.I, sh.N))
}

func writeReceipt(out string, cfg *Config, sh Shard, cacheDir string, net *cachedNet) error {
	path := receiptPath(out, cfg.Name, sh)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(receipt{Config: configSHA(cfg), Shard: sh.String(), Cache: cacheDir,
		Reused: net.hits.Load(), Computed: net.misses.Load(), Finished: time.Now().UTC()}, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'))
}

// CheckShards reports an error naming every shard of n whose receipt for
// this configuration is missing under out (or cfg.Out when out is "").
func CheckShards(cfg *Config, out string, n int) error {
	if out == "" {
		out = cfg.Out
	}
	var missing []int
	for i := 0; i < n; i++ {
		b, err := os.ReadFile(receiptPath(out, cfg.Name, Shard{i, n}))
		var r receipt
		if err != nil || json.Unmarshal(b, &r) != nil || r.Config != configSHA(cfg) {
			missing = append(missing, i)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("merge: shards %v of %d have no receipt for this configuration under %s (run them, or merge anyway with --force: the merge computes what they did not)",
			missing, n, filepath.Join(out, ".shards", cfg.Name))
	}
	return nil
}

// configSHA is the hex SHA-256 of the configuration file's bytes.
func configSHA(cfg *Config) string {
	sum := sha256.Sum256(cfg.Raw)
	return hex.EncodeToString(sum[:])
}
