package detect

import (
	"encoding/binary"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// maxEvents bounds the event IDs remembered (about 40 bytes each): past
// it, records are no longer checked for duplicates, and the run says so.
const maxEvents = 1 << 23

// eventSet remembers event IDs as 64-bit hashes, sharded so that workers
// rarely wait for each other.
type eventSet struct {
	seed   maphash.Seed
	full   atomic.Bool
	shards [64]struct {
		mu sync.Mutex
		m  map[uint64]struct{}
	}
}

func newEventSet() *eventSet {
	s := &eventSet{seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i].m = map[uint64]struct{}{}
	}
	return s
}

// add records a record's identity and reports whether it was new. The
// event ID alone is the identity CloudTrail promises; the event name and
// time are hashed with it so that hand-made or anonymised logs that reuse
// an ID for different events do not lose one.
func (s *eventSet) add(id, name string, t time.Time) bool {
	var mh maphash.Hash
	mh.SetSeed(s.seed)
	mh.WriteString(id)
	mh.WriteByte(0)
	mh.WriteString(name)
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(t.UnixNano()))
	mh.Write(b[:])
	h := mh.Sum64()
	sh := &s.shards[h%uint64(len(s.shards))]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.m[h]; ok {
		return false
	}
	if len(sh.m) >= maxEvents/len(s.shards) {
		s.full.Store(true)
		return true
	}
	sh.m[h] = struct{}{}
	return true
}
