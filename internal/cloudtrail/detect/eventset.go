package detect

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// maxEvents bounds the events remembered for the duplicate check (8 to 16
// bytes each): past it, records are no longer checked, and the run says
// so.
const maxEvents = 1 << 23

const eventShards = 64

// eventSet remembers events as 64-bit hashes in open-addressing tables (a
// Go map costs several times more per entry, and a run holds one entry
// per event), sharded so that workers rarely wait for each other.
type eventSet struct {
	seed   maphash.Seed
	limit  int // entries per shard
	full   atomic.Bool
	shards [eventShards]struct {
		mu    sync.Mutex
		slots []uint64 // 0: empty; a power of two long
		n     int
	}
}

func newEventSet() *eventSet {
	return &eventSet{seed: maphash.MakeSeed(), limit: maxEvents / eventShards}
}

// add records a record's identity and reports whether it was new. The
// event ID alone is the identity CloudTrail promises; the event name and
// time are hashed with it so that hand-made or anonymised logs that reuse
// an ID for different events do not lose one.
func (s *eventSet) add(id, name string, t time.Time) bool {
	h := maphash.String(s.seed, id) ^ maphash.String(s.seed, name)*0x9e3779b97f4a7c15 ^ mix(uint64(t.UnixNano()))
	if h == 0 {
		h = 1
	}
	sh := &s.shards[h%eventShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.slots == nil {
		sh.slots = make([]uint64, 1024)
	}
	if sh.n >= s.limit {
		if probe(sh.slots, h, false) {
			return false
		}
		s.full.Store(true)
		return true
	}
	if probe(sh.slots, h, true) {
		return false
	}
	sh.n++
	if sh.n*4 >= len(sh.slots)*3 {
		grown := make([]uint64, len(sh.slots)*2)
		for _, v := range sh.slots {
			if v != 0 {
				probe(grown, v, true)
			}
		}
		sh.slots = grown
	}
	return true
}

// mix spreads the bits of x (the finaliser of SplitMix64).
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// probe looks h up in the table (linear probing), adding it when absent
// and add is set, and reports whether it was there. The table always has
// a free slot: it grows at three quarters full and stops taking entries
// at the limit.
func probe(slots []uint64, h uint64, add bool) (present bool) {
	mask := uint64(len(slots) - 1)
	for i := (h >> 7) & mask; ; i = (i + 1) & mask {
		switch slots[i] {
		case h:
			return true
		case 0:
			if add {
				slots[i] = h
			}
			return false
		}
	}
}
