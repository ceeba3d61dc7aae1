package respond

import (
	"context"
	"fmt"
	"sync"

	"github.com/keywarden/keywarden/internal/cloudtrail"
)

// Logs are the events of one key read from CloudTrail logs (files, S3).
type Logs struct {
	Events  []Event
	Sources []string
	// Records counts every record read (both passes count once);
	// Skipped counts unreadable inputs and records, which onErr was told.
	Records int64
	Skipped int
}

// LoadLogs reads the inputs that open returns twice, the way `detect
// --key` should: a first pass builds the key graph (sessions and keys
// made from the key, and for an ASIA key the key that made it), a second
// keeps only the events signed by the key's whole family. Memory holds
// the graph and the kept events, not the logs.
func LoadLogs(ctx context.Context, open func() <-chan cloudtrail.Input, names []string, key string, onErr func(*cloudtrail.InputError)) *Logs {
	logs := &Logs{Sources: names}
	var mu sync.Mutex
	errs := func(e *cloudtrail.InputError) {
		mu.Lock()
		defer mu.Unlock()
		logs.Skipped++
		onErr(e)
	}
	g := NewGraph()
	var st cloudtrail.Stats
	cloudtrail.Process(ctx, open(), 2, func(_ int, r *cloudtrail.Record) {
		mu.Lock()
		defer mu.Unlock()
		g.Observe(r)
	}, errs, &st)
	logs.Records = st.Records.Load()
	f := NewFilter(g, g.Root(key))
	var st2 cloudtrail.Stats
	cloudtrail.Process(ctx, open(), 2, func(_ int, r *cloudtrail.Record) {
		if !f.Keep(r) {
			return
		}
		e := EventOf(r)
		mu.Lock()
		defer mu.Unlock()
		logs.Events = append(logs.Events, e)
	}, func(*cloudtrail.InputError) {}, &st2)
	if n := st2.Records.Load(); n != logs.Records {
		errs(&cloudtrail.InputError{Source: "logs", Offset: -1, Err: fmt.Errorf("the logs changed between the two passes (%d records, then %d)", logs.Records, n)})
	}
	return logs
}
