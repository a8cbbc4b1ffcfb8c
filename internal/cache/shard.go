package cache

import (
	"cmp"
	"fmt"
	"strconv"
	"strings"
)

// A shard "i/n" is part i of a run split into n parts, with 0-based i:
// 0 ≤ i < n, n ≥ 1. "0/1" is the whole run. Indices are 0-based because
// both Slurm arrays (--array=0-N-1) and Kubernetes Indexed Jobs
// (JOB_COMPLETION_INDEX = 0 … completions−1) count from 0.

// ParseShard parses "i/n" (decimal digits only, no signs or spaces).
func ParseShard(s string) (i, n int, err error) {
	is, ns, found := strings.Cut(s, "/")
	if !found {
		return 0, 0, fmt.Errorf("cache: shard %q: want i/n, e.g. 0/4 (0-based i < n)", s)
	}
	if i, err = parseCount(is); err != nil {
		return 0, 0, fmt.Errorf("cache: shard %q: index %q is not a non-negative integer", s, is)
	}
	if n, err = parseCount(ns); err != nil {
		return 0, 0, fmt.Errorf("cache: shard %q: count %q is not a non-negative integer", s, ns)
	}
	return i, n, checkShard(s, i, n)
}

func checkShard(s string, i, n int) error {
	if n < 1 {
		return fmt.Errorf("cache: shard %q: count must be at least 1, got %d", s, n)
	}
	if i >= n {
		return fmt.Errorf("cache: shard %q: index %d out of range: shards are numbered 0 to %d", s, i, n-1)
	}
	return nil
}

// parseCount accepts only ASCII digits, unlike strconv.Atoi, which also
// takes a sign.
func parseCount(s string) (int, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, strconv.ErrSyntax
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, err
	}
	return v, nil
}

// ShardFromEnv finds the shard in the environment, for runs started without
// --shard. getenv is normally os.Getenv. It tries, in order:
//
//   - PURVIEW_SHARD="i/n";
//   - Slurm job arrays: i = SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN and
//     n = SLURM_ARRAY_TASK_COUNT. The array must be a contiguous range
//     (--array=A-B, step 1, so that MAX − MIN + 1 = COUNT);
//   - Kubernetes Indexed Jobs: i = JOB_COMPLETION_INDEX and
//     n = PURVIEW_SHARD_COUNT, which the pod spec must set to the Job's
//     completions (Kubernetes does not export that number).
//
// ok is false, with a nil error, when none of these is set.
func ShardFromEnv(getenv func(string) string) (i, n int, ok bool, err error) {
	if s := getenv("PURVIEW_SHARD"); s != "" {
		i, n, err := ParseShard(s)
		if err != nil {
			return 0, 0, false, fmt.Errorf("cache: PURVIEW_SHARD: %w", err)
		}
		return i, n, true, nil
	}
	num := func(name string) (int, error) {
		v := getenv(name)
		x, err := parseCount(v)
		if err != nil {
			if v == "" {
				return 0, fmt.Errorf("cache: %s is not set", name)
			}
			return 0, fmt.Errorf("cache: %s=%q is not a non-negative integer", name, v)
		}
		return x, nil
	}
	if getenv("SLURM_ARRAY_TASK_ID") != "" {
		id, err := num("SLURM_ARRAY_TASK_ID")
		if err != nil {
			return 0, 0, false, err
		}
		lo, err := num("SLURM_ARRAY_TASK_MIN")
		if err != nil {
			return 0, 0, false, err
		}
		hi, err := num("SLURM_ARRAY_TASK_MAX")
		if err != nil {
			return 0, 0, false, err
		}
		count, err := num("SLURM_ARRAY_TASK_COUNT")
		if err != nil {
			return 0, 0, false, err
		}
		if step := getenv("SLURM_ARRAY_TASK_STEP"); (step != "" && step != "1") || hi-lo+1 != count || id < lo {
			return 0, 0, false, fmt.Errorf("cache: Slurm array %d-%d (step %s) with %d tasks is not a contiguous range; submit with --array=0-%d or pass --shard i/n", lo, hi, cmp.Or(step, "1"), count, count-1)
		}
		i, n = id-lo, count
		return i, n, true, checkShard(fmt.Sprintf("%d/%d", i, n), i, n)
	}
	if getenv("JOB_COMPLETION_INDEX") != "" {
		i, err := num("JOB_COMPLETION_INDEX")
		if err != nil {
			return 0, 0, false, err
		}
		n, err := num("PURVIEW_SHARD_COUNT")
		if err != nil {
			return 0, 0, false, fmt.Errorf("%w (set it to the Indexed Job's completions)", err)
		}
		return i, n, true, checkShard(fmt.Sprintf("%d/%d", i, n), i, n)
	}
	return 0, 0, false, nil
}

// ShardRange returns the half-open range [lo, hi) of the items 0 … total−1
// that shard i of n processes: contiguous ranges, in order, whose sizes
// differ by at most one (the first total mod n shards get one extra):
//
//	lo = i·⌊total/n⌋ + min(i, total mod n),  hi = lo + ⌊total/n⌋ + [i < total mod n]
//
// ShardRange panics if total < 0, n < 1 or i is not in [0, n): the shard
// should have been checked by ParseShard.
func ShardRange(total, i, n int) (lo, hi int) {
	if total < 0 || n < 1 || i < 0 || i >= n {
		panic(fmt.Sprintf("cache: ShardRange(%d, %d, %d): want total ≥ 0 and 0 ≤ i < n", total, i, n))
	}
	q, r := total/n, total%n
	lo = i*q + min(i, r)
	hi = lo + q
	if i < r {
		hi++
	}
	return lo, hi
}
