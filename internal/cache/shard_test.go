package cache

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseShard(t *testing.T) {
	for _, c := range []struct {
		in   string
		i, n int
		err  string // substring of the error; "" for success
	}{
		{"0/1", 0, 1, ""},
		{"3/4", 3, 4, ""},
		{"0/4", 0, 4, ""},
		{"07/10", 7, 10, ""},
		{"3/2", 0, 0, `cache: shard "3/2": index 3 out of range: shards are numbered 0 to 1`},
		{"2/2", 0, 0, "index 2 out of range"},
		{"-1/4", 0, 0, `cache: shard "-1/4": index "-1" is not a non-negative integer`},
		{"+1/4", 0, 0, `index "+1" is not`},
		{"a/b", 0, 0, `index "a" is not`},
		{"1/b", 0, 0, `count "b" is not`},
		{"1/0", 0, 0, `cache: shard "1/0": count must be at least 1, got 0`},
		{"0/0", 0, 0, "count must be at least 1"},
		{"", 0, 0, `cache: shard "": want i/n`},
		{"1", 0, 0, "want i/n"},
		{"1/2/3", 0, 0, `count "2/3" is not`},
		{" 1/2", 0, 0, `index " 1" is not`},
		{"1/ 2", 0, 0, `count " 2" is not`},
		{"/2", 0, 0, `index "" is not`},
		{"99999999999999999999/2", 0, 0, "is not a non-negative integer"},
	} {
		i, n, err := ParseShard(c.in)
		switch {
		case c.err == "" && (err != nil || i != c.i || n != c.n):
			t.Errorf("ParseShard(%q) = %d, %d, %v; want %d, %d", c.in, i, n, err, c.i, c.n)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("ParseShard(%q) error %v; want %q", c.in, err, c.err)
		}
	}
}

func TestShardFromEnv(t *testing.T) {
	slurm := func(id, lo, hi, count string) map[string]string {
		return map[string]string{"SLURM_ARRAY_TASK_ID": id, "SLURM_ARRAY_TASK_MIN": lo, "SLURM_ARRAY_TASK_MAX": hi, "SLURM_ARRAY_TASK_COUNT": count}
	}
	with := func(m map[string]string, k, v string) map[string]string { m[k] = v; return m }
	for _, c := range []struct {
		name string
		env  map[string]string
		i, n int
		ok   bool
		err  string
	}{
		{"nothing set", nil, 0, 0, false, ""},
		{"PURVIEW_SHARD", map[string]string{"PURVIEW_SHARD": "2/5"}, 2, 5, true, ""},
		{"PURVIEW_SHARD wins", with(slurm("0", "0", "3", "4"), "PURVIEW_SHARD", "1/2"), 1, 2, true, ""},
		{"bad PURVIEW_SHARD", map[string]string{"PURVIEW_SHARD": "5/5"}, 0, 0, false, "cache: PURVIEW_SHARD: cache: shard \"5/5\": index 5 out of range"},
		{"slurm 0-based", slurm("3", "0", "7", "8"), 3, 8, true, ""},
		{"slurm 1-based", slurm("1", "1", "8", "8"), 0, 8, true, ""},
		{"slurm last", slurm("8", "1", "8", "8"), 7, 8, true, ""},
		{"slurm step 2", with(slurm("2", "0", "6", "4"), "SLURM_ARRAY_TASK_STEP", "2"), 0, 0, false, "cache: Slurm array 0-6 (step 2) with 4 tasks is not a contiguous range"},
		{"slurm list", slurm("3", "1", "5", "3"), 0, 0, false, "not a contiguous range"},
		{"slurm no count", map[string]string{"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_MAX": "7"}, 0, 0, false, "cache: SLURM_ARRAY_TASK_COUNT is not set"},
		{"slurm bad id", slurm("x", "0", "7", "8"), 0, 0, false, `cache: SLURM_ARRAY_TASK_ID="x" is not a non-negative integer`},
		{"k8s", map[string]string{"JOB_COMPLETION_INDEX": "4", "PURVIEW_SHARD_COUNT": "6"}, 4, 6, true, ""},
		{"k8s without count", map[string]string{"JOB_COMPLETION_INDEX": "4"}, 0, 0, false, "cache: PURVIEW_SHARD_COUNT is not set (set it to the Indexed Job's completions)"},
		{"k8s index too big", map[string]string{"JOB_COMPLETION_INDEX": "6", "PURVIEW_SHARD_COUNT": "6"}, 0, 0, false, "index 6 out of range"},
	} {
		i, n, ok, err := ShardFromEnv(func(k string) string { return c.env[k] })
		switch {
		case c.err == "" && (err != nil || i != c.i || n != c.n || ok != c.ok):
			t.Errorf("%s: got %d, %d, %v, %v; want %d, %d, %v", c.name, i, n, ok, err, c.i, c.n, c.ok)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: error %v; want %q", c.name, err, c.err)
		}
	}
}

func TestShardRange(t *testing.T) {
	for _, c := range []struct {
		total, n int
		want     string // the ranges of shards 0 … n−1, worked out by hand
	}{
		{10, 1, "[0,10)"},
		{10, 3, "[0,4) [4,7) [7,10)"},
		{10, 4, "[0,3) [3,6) [6,8) [8,10)"},
		{12, 4, "[0,3) [3,6) [6,9) [9,12)"},
		{2, 4, "[0,1) [1,2) [2,2) [2,2)"},
		{0, 3, "[0,0) [0,0) [0,0)"},
	} {
		var got []string
		for i := range c.n {
			lo, hi := ShardRange(c.total, i, c.n)
			got = append(got, fmt.Sprintf("[%d,%d)", lo, hi))
		}
		if s := strings.Join(got, " "); s != c.want {
			t.Errorf("ShardRange(%d, ·, %d) = %s, want %s", c.total, c.n, s, c.want)
		}
	}
	// Properties over many sizes: the ranges tile [0, total) in order and
	// their sizes differ by at most one.
	for total := range 40 {
		for n := 1; n <= 9; n++ {
			next, smallest, largest := 0, total+1, -1
			for i := range n {
				lo, hi := ShardRange(total, i, n)
				if lo != next || hi < lo {
					t.Fatalf("ShardRange(%d, %d, %d) = [%d,%d), want it to start at %d", total, i, n, lo, hi, next)
				}
				next = hi
				smallest, largest = min(smallest, hi-lo), max(largest, hi-lo)
			}
			if next != total || largest-smallest > 1 {
				t.Fatalf("total %d, n %d: ranges end at %d, sizes %d…%d", total, n, next, smallest, largest)
			}
		}
	}
}

func TestShardRangePanics(t *testing.T) {
	for _, c := range [][3]int{{-1, 0, 1}, {10, 0, 0}, {10, 3, 3}, {10, -1, 3}} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.HasPrefix(fmt.Sprint(r), "cache: ShardRange(") {
					t.Errorf("ShardRange%v: recovered %v, want a cache: panic", c, r)
				}
			}()
			ShardRange(c[0], c[1], c[2])
		}()
	}
}
