package detect

import (
	"testing"
	"time"

	"github.com/keywarden/keywarden/internal/cloudtrail"
)

// TestKeyWeights: with Options.KeyWeights the key rules learn only from
// records that say how many events they stand for, counted that many
// times (even when another family's record of the same event came
// first); without it, records count once each and the mark is ignored.
func TestKeyWeights(t *testing.T) {
	at := func(min int) time.Time { return time.Date(2024, 6, 3, 9, min, 0, 0, time.UTC) }
	rec := func(id string, min int, events int64) *cloudtrail.Record {
		return &cloudtrail.Record{EventID: id, EventName: "ListBuckets", EventSource: "s3.amazonaws.com", AWSRegion: "us-east-1",
			EventTime: at(min), SourceIPAddress: "203.0.113.50", UserAgent: "aws-cli/2.15.30", Events: events,
			UserIdentity: cloudtrail.UserIdentity{AccessKeyID: "AKIARTX3GSDS2RWAIZGX", AccountID: "111122223333", ARN: "arn:aws:iam::111122223333:user/alice"}}
	}
	for _, tc := range []struct {
		name     string
		weighted bool
		recs     []*cloudtrail.Record
		count    int64
		first    string
		last     time.Time
		days     int64
	}{
		// Another family's copy of e-2 comes first: the weighted e-2
		// still counts its 4 events; e-9 (its group's last) 1.
		{"weighted", true, []*cloudtrail.Record{rec("e-2", 5, 0), rec("e-2", 5, 4), rec("e-9", 40, 1), rec("e-1", 1, 0)}, 5, "e-2", at(40), 5},
		{"unweighted", false, []*cloudtrail.Record{rec("e-2", 5, 0), rec("e-2", 5, 4), rec("e-9", 40, 1), rec("e-1", 1, 7)}, 3, "e-1", at(40), 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(Builtin(), Options{KeyWeights: tc.weighted})
			if err != nil {
				t.Fatal(err)
			}
			w := e.NewWorker()
			for _, r := range tc.recs {
				w.Observe(r)
			}
			o := e.Merge(w).obs["AKIARTX3GSDS2RWAIZGX"]
			if o == nil {
				t.Fatal("key not observed")
			}
			s := o.dims[0]["203.0.113.50"]
			if s == nil || s.Count != tc.count || s.firstID != tc.first || !s.Last.Equal(tc.last) {
				t.Fatalf("address seen %+v, want count %d, first %s, last %v", s, tc.count, tc.first, tc.last)
			}
			var days int64
			for _, d := range o.days {
				days += d.first.Count
			}
			if days != tc.days {
				t.Errorf("day counts %d, want %d", days, tc.days)
			}
		})
	}
}
