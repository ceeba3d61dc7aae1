package detect

import (
	"testing"

	"github.com/keywarden/keywarden/internal/cloudtrail"
)

// An undo command is filled from the event, left out when a field is
// missing, and, with a [EventName] prefix, given only for those events.
func TestUndo(t *testing.T) {
	disable := &cloudtrail.Record{EventName: "DisableKey", RequestParameters: []byte(`{"keyId":"k1"}`)}
	schedule := &cloudtrail.Record{EventName: "ScheduleKeyDeletion", RequestParameters: []byte(`{"keyId":"k1"}`)}
	odd := &cloudtrail.Record{EventName: "DisableKey", RequestParameters: []byte(`{"keyId":"k 1'"}`)}
	for _, tc := range []struct {
		tmpl string
		rec  *cloudtrail.Record
		want string
	}{
		{"aws kms enable-key --key-id {requestParameters.keyId}", disable, "aws kms enable-key --key-id k1"},
		{"aws kms enable-key --key-id {requestParameters.keyId}", odd, `aws kms enable-key --key-id 'k 1'\'''`},
		{"aws kms enable-key --key-id {requestParameters.keyName}", disable, ""},
		{"[ScheduleKeyDeletion] aws kms cancel-key-deletion --key-id {requestParameters.keyId}", schedule, "aws kms cancel-key-deletion --key-id k1"},
		{"[ScheduleKeyDeletion] aws kms cancel-key-deletion --key-id {requestParameters.keyId}", disable, ""},
		{"[PutObjectAcl, DisableKey] x {requestParameters.keyId}", disable, "x k1"},
	} {
		u, err := compileUndo(tc.tmpl)
		if err != nil {
			t.Fatalf("%q: %v", tc.tmpl, err)
		}
		if got := u.fill(tc.rec); got != tc.want {
			t.Errorf("%q on %s: %q, want %q", tc.tmpl, tc.rec.EventName, got, tc.want)
		}
	}
	for _, bad := range []string{"", "[] x", "[A] ", "x {requestParameters.keyId", "x {nope}"} {
		if _, err := compileUndo(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
