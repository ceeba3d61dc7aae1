package athena

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/keywarden/keywarden/internal/lazyregexp"
)

// Lister is the part of the S3 client the layout and cost guard use.
type Lister interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// Layout is where a trail's logs lie: s3://Bucket/Base<account>/CloudTrail/<region>/yyyy/MM/dd/,
// Base being "…AWSLogs/" or, for an organization trail, "…AWSLogs/o-xxxx/".
type Layout struct {
	Bucket, Base string
	OrgID        string
	Accounts     []string
	Regions      []string
}

var orgRE = lazyregexp.New(`^o-[a-z0-9]{10,32}$`)

// MaxPrefixes bounds the accounts and regions a listing takes.
const MaxPrefixes = 10000

// folders lists the sub-folders of prefix.
func folders(ctx context.Context, c Lister, bucket, prefix string) ([]string, error) {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix), Delimiter: aws.String("/")}
	var out []string
	for {
		page, err := c.ListObjectsV2(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("listing s3://%s/%s: %w", bucket, prefix, err)
		}
		for _, p := range page.CommonPrefixes {
			name := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(p.Prefix), prefix), "/")
			if name != "" {
				out = append(out, name)
			}
		}
		if len(out) > MaxPrefixes {
			return nil, fmt.Errorf("s3://%s/%s holds more than %d folders", bucket, prefix, MaxPrefixes)
		}
		if !aws.ToBool(page.IsTruncated) || page.NextContinuationToken == nil {
			return out, nil
		}
		in.ContinuationToken = page.NextContinuationToken
	}
}

// Discover fills in what the listing of s3://bucket/prefix says about a
// trail: whether it is an organization trail (AWSLogs/o-xxxx/), its
// accounts and their regions. orgID, accounts and regions given are kept
// (not listed). It returns the folders it skipped (neither an account nor
// an organization), so the caller can say so.
func Discover(ctx context.Context, c Lister, bucket, prefix, orgID string, accounts, regions []string) (*Layout, []string, error) {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	if !strings.HasSuffix(prefix, "AWSLogs/") && !orgRE().MatchString(lastFolder(prefix)) {
		return nil, nil, fmt.Errorf("s3://%s/%s: want the trail's AWSLogs/ folder (s3://bucket/[prefix/]AWSLogs/)", bucket, prefix)
	}
	l := &Layout{Bucket: bucket, Base: prefix, OrgID: orgID, Accounts: accounts, Regions: regions}
	if orgRE().MatchString(lastFolder(prefix)) {
		l.OrgID = lastFolder(prefix)
	} else if orgID != "" {
		if !orgRE().MatchString(orgID) {
			return nil, nil, fmt.Errorf("--org-id %q: want o- and 10 to 32 letters or digits", orgID)
		}
		l.Base += orgID + "/"
	}
	var skipped []string
	if len(l.Accounts) == 0 {
		names, err := folders(ctx, c, bucket, l.Base)
		if err != nil {
			return nil, nil, err
		}
		var orgs []string
		for _, n := range names {
			switch {
			case accountRE().MatchString(n):
				l.Accounts = append(l.Accounts, n)
			case orgRE().MatchString(n) && l.OrgID == "":
				orgs = append(orgs, n)
			default:
				skipped = append(skipped, n)
			}
		}
		if len(l.Accounts) == 0 && len(orgs) == 1 {
			// An organization trail: its accounts are one level down.
			return Discover(ctx, c, bucket, l.Base, orgs[0], nil, regions)
		}
		if len(l.Accounts) == 0 && len(orgs) > 1 {
			return nil, nil, fmt.Errorf("s3://%s/%s holds several organizations (%s): choose one with --org-id", bucket, l.Base, strings.Join(orgs, ", "))
		}
		if len(l.Accounts) == 0 {
			return nil, skipped, fmt.Errorf("s3://%s/%s holds no account folders (12 digits)", bucket, l.Base)
		}
	}
	if len(l.Regions) == 0 {
		seen := map[string]bool{}
		for _, a := range l.Accounts {
			names, err := folders(ctx, c, bucket, l.Base+a+"/CloudTrail/")
			if err != nil {
				return nil, nil, err
			}
			for _, n := range names {
				if regionRE().MatchString(n) && !seen[n] {
					seen[n] = true
					l.Regions = append(l.Regions, n)
				} else if !regionRE().MatchString(n) {
					skipped = append(skipped, a+"/CloudTrail/"+n)
				}
			}
		}
		sort.Strings(l.Regions)
		if len(l.Regions) == 0 {
			return nil, skipped, fmt.Errorf("s3://%s/%s: no CloudTrail/<region>/ folders under its accounts", bucket, l.Base)
		}
	}
	return l, skipped, nil
}

func lastFolder(prefix string) string {
	p := strings.TrimSuffix(prefix, "/")
	return p[strings.LastIndex(p, "/")+1:]
}

// Scan is the cost guard's estimate: the bytes of log objects in the
// partitions a window reads.
type Scan struct {
	Bytes, Objects int64
	// Prefixes is the number of account/region folders listed.
	Prefixes int
}

// Estimate sums the sizes of the objects in the window's date partitions
// for each account and region (limited by the window's lists, if any).
func Estimate(ctx context.Context, c Lister, l *Layout, w Window, now time.Time) (Scan, error) {
	var s Scan
	first, last := w.Days(now)
	accounts, regions := pick(l.Accounts, w.Accounts), pick(l.Regions, w.Regions)
	for _, a := range accounts {
		for _, r := range regions {
			base := l.Base + a + "/CloudTrail/" + r + "/"
			s.Prefixes++
			in := &s3.ListObjectsV2Input{Bucket: aws.String(l.Bucket), Prefix: aws.String(base),
				StartAfter: aws.String(base + first.Format(dayLayout))}
			end := last.Format(dayLayout)
		pages:
			for {
				page, err := c.ListObjectsV2(ctx, in)
				if err != nil {
					return s, fmt.Errorf("listing s3://%s/%s: %w", l.Bucket, base, err)
				}
				for _, o := range page.Contents {
					key := strings.TrimPrefix(aws.ToString(o.Key), base)
					if len(key) >= len(end) && key[:len(end)] > end {
						break pages
					}
					s.Bytes += aws.ToInt64(o.Size)
					s.Objects++
				}
				if !aws.ToBool(page.IsTruncated) || page.NextContinuationToken == nil {
					break
				}
				in.ContinuationToken = page.NextContinuationToken
			}
		}
	}
	return s, nil
}

// pick keeps the listed values that want names (all when want is empty).
func pick(have, want []string) []string {
	if len(want) == 0 {
		return have
	}
	return want
}

// DefaultPricePerTB is Athena's SQL query price in US dollars per TB
// scanned in most regions (aws.amazon.com/athena/pricing, 2024–2026);
// workgroups on provisioned capacity pay per DPU-hour instead.
const DefaultPricePerTB = 5.0

// Cost is the price of scanning bytes once per query, at pricePerTB
// (1 TB = 10^12 bytes; Athena rounds each query up to 10 MB).
func Cost(bytes int64, queries int, pricePerTB float64) float64 {
	per := max(bytes, 10_000_000)
	return float64(per) * float64(queries) / 1e12 * pricePerTB
}
