package guardduty

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	gd "github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/aws-sdk-go-v2/service/guardduty/types"
)

// API is the part of the GuardDuty client FromAPI uses.
type API interface {
	ListDetectors(ctx context.Context, in *gd.ListDetectorsInput, opts ...func(*gd.Options)) (*gd.ListDetectorsOutput, error)
	ListFindings(ctx context.Context, in *gd.ListFindingsInput, opts ...func(*gd.Options)) (*gd.ListFindingsOutput, error)
	GetFindings(ctx context.Context, in *gd.GetFindingsInput, opts ...func(*gd.Options)) (*gd.GetFindingsOutput, error)
}

// getBatch is GetFindings' limit of finding IDs per call.
const getBatch = 50

// FromAPI reads the findings of every detector of the client's region:
// ListDetectors, then ListFindings (not archived; updated at or after
// since when it is set) and GetFindings 50 IDs at a time. Each finding goes
// through the same decoding as an export's, and to fn. An API error ends
// the read; what was read before it stands.
func FromAPI(ctx context.Context, c API, since time.Time, fn func(*Finding), onErr func(*InputError)) (Stats, error) {
	d := &decoder{name: "GuardDuty API", fn: fn, onErr: onErr}
	criteria := map[string]types.Condition{"service.archived": {Equals: []string{"false"}}}
	if !since.IsZero() {
		criteria["updatedAt"] = types.Condition{GreaterThanOrEqual: aws.Int64(since.UnixMilli())}
	}
	dets := gd.NewListDetectorsPaginator(c, &gd.ListDetectorsInput{})
	for dets.HasMorePages() {
		page, err := dets.NextPage(ctx)
		if err != nil {
			return d.st, fmt.Errorf("GuardDuty ListDetectors: %w", err)
		}
		for _, det := range page.DetectorIds {
			list := gd.NewListFindingsPaginator(c, &gd.ListFindingsInput{
				DetectorId:      aws.String(det),
				FindingCriteria: &types.FindingCriteria{Criterion: criteria},
				MaxResults:      aws.Int32(getBatch),
			})
			for list.HasMorePages() {
				lp, err := list.NextPage(ctx)
				if err != nil {
					return d.st, fmt.Errorf("GuardDuty ListFindings (detector %s): %w", det, err)
				}
				for i := 0; i < len(lp.FindingIds); i += getBatch {
					ids := lp.FindingIds[i:min(i+getBatch, len(lp.FindingIds))]
					out, err := c.GetFindings(ctx, &gd.GetFindingsInput{DetectorId: aws.String(det), FindingIds: ids})
					if err != nil {
						return d.st, fmt.Errorf("GuardDuty GetFindings (detector %s): %w", det, err)
					}
					for i := range out.Findings {
						d.sdkFinding(&out.Findings[i])
					}
				}
			}
		}
	}
	return d.st, nil
}

// sdkFinding decodes an SDK finding through the export decoder: the SDK's
// field names are the export's, capitalised, so one mapping (and one set
// of checks) serves both.
func (d *decoder) sdkFinding(f *types.Finding) {
	raw, err := json.Marshal(f)
	if err != nil {
		d.fail(0, fmt.Errorf("finding %s: %v", aws.ToString(f.Id), err))
		return
	}
	d.value(0, raw, 1)
}
