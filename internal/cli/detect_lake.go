package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cloudtrailsdk "github.com/aws/aws-sdk-go-v2/service/cloudtrail"
	"github.com/keywarden/keywarden/internal/cloudtrail/athena"
	"github.com/keywarden/keywarden/internal/iampolicy"
)

// detectLakeSources returns one source per rule family on CloudTrail
// Lake. Lake cannot estimate a scan before it runs: each query is
// cancelled once it has scanned more than --max-scan (none with --yes).
func detectLakeSources(opts *detectOptions, plan *athena.Plan, w athena.Window, maxScan int64, loadCfg func() (aws.Config, error), now time.Time) ([]*athena.Source, error) {
	a := &opts.Athena
	client := a.LakeClient
	if client == nil {
		cfg, err := loadCfg()
		if err != nil {
			return nil, UsageError(fmt.Errorf("AWS configuration: %w", err))
		}
		client = cloudtrailsdk.NewFromConfig(cfg)
	}
	limit := maxScan
	if a.Yes {
		limit = 0
	}
	fmt.Fprintf(opts.IO.ErrOut, "keywarden: lake: CloudTrail Lake cannot estimate the bytes a query scans before it runs: %s, each stopped once it has scanned more than %s (--max-scan; --yes lifts it)\n",
		detectPlural(len(plan.Families), "query", "queries"), detectBytes(maxScan))
	detectAthenaWidened(opts.IO, plan)
	runner := &athena.LakeRunner{Client: client, MaxScan: limit, Backoff: a.Backoff}
	var out []*athena.Source
	for _, f := range plan.Families {
		out = append(out, &athena.Source{Lake: runner, Family: f, SQL: f.SQL(athena.Table{}, w, now)})
	}
	return out, nil
}

// detectLakePolicy prints the IAM policy detect --lake needs: Lake's
// query calls on the event data store (its ARN, or any region's and
// account's store of that ID).
func detectLakePolicy(opts *detectOptions) error {
	sch, err := athena.LakeSchema(opts.Athena.Lake)
	if err != nil {
		return UsageError(fmt.Errorf("--lake: %w", err))
	}
	store := "arn:aws:cloudtrail:*:*:eventdatastore/" + sch.Store()
	if strings.HasPrefix(opts.Athena.Lake, "arn:") {
		store = opts.Athena.Lake
	}
	doc := iampolicy.Document{Version: iampolicy.Version2012, Statement: []iampolicy.DocStatement{
		{Sid: "KeywardenLakeQueries", Effect: iampolicy.Allow, Action: iampolicy.StringOrList(athena.LakeRequiredActions), Resource: iampolicy.StringOrList{store}},
	}}
	b, err := doc.Marshal()
	if err != nil {
		return err
	}
	_, err = opts.IO.Out.Write(b)
	return err
}
