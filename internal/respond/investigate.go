package respond

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/cloudtrail"
	"github.com/keywarden/keywarden/internal/cloudtrail/detect"
	"github.com/keywarden/keywarden/internal/report"
)

// Event is a CloudTrail record copied out of the reader's buffer, with
// what the investigation needs.
type Event struct {
	Time      time.Time
	Source    string
	Name      string
	Region    string
	IP        string
	UserAgent string
	ErrorCode string
	EventID   string
	Account   string
	ReadOnly  cloudtrail.Bool
	Identity  cloudtrail.UserIdentity
	Request   []byte
	Response  []byte
}

// EventOf copies r (whose strings alias the reader's buffer).
func EventOf(r *cloudtrail.Record) Event {
	u := r.UserIdentity
	c := strings.Clone
	return Event{
		Time: r.EventTime, Source: c(r.EventSource), Name: c(r.EventName), Region: c(r.AWSRegion),
		IP: c(r.SourceIPAddress), UserAgent: c(r.UserAgent), ErrorCode: c(r.ErrorCode), EventID: c(r.EventID),
		Account: c(r.RecipientAccount), ReadOnly: r.ReadOnly,
		Identity: cloudtrail.UserIdentity{Type: c(u.Type), PrincipalID: c(u.PrincipalID), ARN: c(u.ARN), AccountID: c(u.AccountID),
			AccessKeyID: c(u.AccessKeyID), UserName: c(u.UserName), InvokedBy: c(u.InvokedBy), HasSession: u.HasSession,
			MFAAuthenticated: u.MFAAuthenticated, IssuerType: c(u.IssuerType), IssuerARN: c(u.IssuerARN), IssuerUserName: c(u.IssuerUserName)},
		Request: slices.Clone(r.RequestParameters), Response: slices.Clone(r.ResponseElements),
	}
}

// Record turns the copy back into a record (for the detect engine and
// the key graph).
func (e *Event) Record() *cloudtrail.Record {
	return &cloudtrail.Record{EventTime: e.Time, EventSource: e.Source, EventName: e.Name, AWSRegion: e.Region,
		SourceIPAddress: e.IP, UserAgent: e.UserAgent, ErrorCode: e.ErrorCode, EventID: e.EventID,
		RecipientAccount: e.Account, ReadOnly: e.ReadOnly, UserIdentity: e.Identity,
		RequestParameters: e.Request, ResponseElements: e.Response}
}

// Investigation is what the key and everything derived from it did.
type Investigation struct {
	// Sources read, e.g. "LookupEvents us-east-1 (4 requests)" or a path.
	Sources []string `json:"sources"`
	// Keys are the keys investigated: the key and those derived from it.
	Keys    []string `json:"keys"`
	Derived []Edge   `json:"derived,omitempty"`
	Events  int      `json:"events"`
	// Skipped counts records or inputs that could not be read; Problems
	// says which.
	Skipped  int      `json:"skipped"`
	Problems []string `json:"problems,omitempty"`

	First time.Time `json:"first_use,omitzero"`
	Last  time.Time `json:"last_use,omitzero"`

	Addresses  []Count `json:"source_addresses,omitempty"`
	UserAgents []Count `json:"user_agents,omitempty"`
	Regions    []Count `json:"regions,omitempty"`
	Services   []Count `json:"calls_by_service,omitempty"`
	Errors     []Count `json:"errors,omitempty"`
	// Timeline lists the calls that changed something or failed, oldest
	// first (at most MaxTimeline; TimelineOmitted counts the rest).
	Timeline        []TimelineEntry `json:"timeline,omitempty"`
	TimelineOmitted int             `json:"timeline_omitted,omitempty"`

	Findings []report.Finding `json:"findings,omitempty"`
	Created  []Resource       `json:"created_or_changed,omitempty"`
}

// Count is a value seen in the events and how often. Network is the /24
// or /48 of an address; Detail lists the event names (for services and
// errors).
type Count struct {
	Value   string   `json:"value"`
	Network string   `json:"network,omitempty"`
	Count   int      `json:"count"`
	Detail  []string `json:"detail,omitempty"`
}

// TimelineEntry is one call in the timeline.
type TimelineEntry struct {
	Time   time.Time `json:"time"`
	KeyID  string    `json:"key_id"`
	Call   string    `json:"call"`
	Region string    `json:"region,omitempty"`
	IP     string    `json:"source_ip,omitempty"`
	Error  string    `json:"error,omitempty"`
}

// MaxTimeline bounds the timeline kept in a report.
const MaxTimeline = 500

// Investigate builds the investigation of key from events (any order):
// the key graph, the timeline of the key and its derived keys, the
// detect findings for just those keys and the resources they created.
func Investigate(key string, events []Event) *Investigation {
	g := NewGraph()
	for i := range events {
		g.Observe(events[i].Record())
	}
	inv := &Investigation{Keys: g.Keys(key), Derived: g.Derived(key)}
	keep := map[string]bool{}
	for _, k := range inv.Keys {
		keep[k] = true
	}
	var mine []*Event
	for i := range events {
		if keep[events[i].Identity.AccessKeyID] {
			mine = append(mine, &events[i])
		}
	}
	slices.SortStableFunc(mine, func(a, b *Event) int { return a.Time.Compare(b.Time) })
	inv.Events = len(mine)
	if len(mine) == 0 {
		return inv
	}
	inv.First, inv.Last = mine[0].Time, mine[len(mine)-1].Time

	addrs, agents, regions := counter{}, counter{}, counter{}
	services, errs := counter{}, counter{}
	engine, err := detect.New(detect.Builtin(), detect.Options{})
	var w *detect.Worker
	if err == nil {
		w = engine.NewWorker()
	} else {
		inv.Problems = append(inv.Problems, "detect rules: "+err.Error())
	}
	for _, e := range mine {
		if a, ok := cloudtrail.ParseAddr(e.IP); ok {
			addrs.add(a.String(), cloudtrail.Network(a).String(), "")
		} else if e.IP != "" {
			addrs.add(e.IP, "", "")
		}
		agents.add(e.UserAgent, "", "")
		regions.add(e.Region, "", "")
		services.add(strings.TrimSuffix(e.Source, ".amazonaws.com"), "", e.Name)
		if e.ErrorCode != "" {
			errs.add(e.ErrorCode, "", e.Name)
		}
		if e.ReadOnly != cloudtrail.True || e.ErrorCode != "" {
			if len(inv.Timeline) < MaxTimeline {
				inv.Timeline = append(inv.Timeline, TimelineEntry{Time: e.Time, KeyID: e.Identity.AccessKeyID,
					Call: strings.TrimSuffix(e.Source, ".amazonaws.com") + ":" + e.Name, Region: e.Region, IP: e.IP, Error: e.ErrorCode})
			} else {
				inv.TimelineOmitted++
			}
		}
		if w != nil {
			w.Observe(e.Record())
		}
		if e.ErrorCode == "" {
			inv.Created = append(inv.Created, resourcesOf(e)...)
		}
	}
	inv.Addresses, inv.UserAgents, inv.Regions = addrs.sorted(), agents.sorted(), regions.sorted()
	inv.Services, inv.Errors = services.sorted(), errs.sorted()
	if w != nil {
		for _, f := range engine.Merge(w).Findings(nil) {
			inv.Findings = append(inv.Findings, f.Report())
		}
		report.Sort(inv.Findings)
	}
	return inv
}

type counter map[string]*Count

func (c counter) add(v, network, detail string) {
	if v == "" {
		return
	}
	n := c[v]
	if n == nil {
		n = &Count{Value: v, Network: network}
		c[v] = n
	}
	n.Count++
	if detail != "" && !slices.Contains(n.Detail, detail) && len(n.Detail) < 20 {
		n.Detail = append(n.Detail, detail)
	}
}

func (c counter) sorted() []Count {
	out := make([]Count, 0, len(c))
	for _, n := range c {
		slices.Sort(n.Detail)
		out = append(out, *n)
	}
	slices.SortFunc(out, func(a, b Count) int {
		if a.Count != b.Count {
			return cmp.Compare(b.Count, a.Count)
		}
		return strings.Compare(a.Value, b.Value)
	})
	return out
}

// resourcesOf lists what a successful event created or changed, with the
// command that undoes it.
func resourcesOf(e *Event) []Resource {
	acct := e.Account
	if acct == "" {
		acct = e.Identity.AccountID
	}
	req := func(p ...string) string { return firstValue(e.Request, p...) }
	resp := func(p ...string) string { return firstValue(e.Response, p...) }
	mk := func(kind, arn, region, undo string) Resource {
		return Resource{Kind: kind, ARN: arn, Region: region, Event: e.Name, Time: e.Time, KeyID: e.Identity.AccessKeyID, EventID: e.EventID, Undo: undo}
	}
	iamARN := func(kind, name string) string { return fmt.Sprintf("arn:aws:iam::%s:%s/%s", acct, kind, name) }
	q := shellQuote
	switch e.Name {
	case "CreateAccessKey":
		id, user := resp("accessKey", "accessKeyId"), resp("accessKey", "userName")
		if id == "" {
			return nil
		}
		return []Resource{mk("access-key", id, "", fmt.Sprintf("aws iam delete-access-key --user-name %s --access-key-id %s", q(user), q(id)))}
	case "CreateUser", "CreateRole":
		// Both name the principal in the request and its ARN in the
		// response: userName/user.arn, roleName/role.arn.
		kind := strings.ToLower(strings.TrimPrefix(e.Name, "Create"))
		name := req(kind + "Name")
		arn := resp(kind, "arn")
		if arn == "" {
			arn = iamARN(kind, name)
		}
		undo := fmt.Sprintf("aws iam delete-%s --%s-name %s (detach its policies first", kind, kind, q(name))
		if kind == "user" {
			undo += "; delete its keys and login profile"
		}
		return []Resource{mk(kind, arn, "", undo+")")}
	case "CreateLoginProfile", "UpdateLoginProfile":
		user := req("userName")
		if user == "" {
			user = e.Identity.UserName
		}
		return []Resource{mk("login-profile", iamARN("user", user), "", "aws iam delete-login-profile --user-name "+q(user))}
	case "UpdateAssumeRolePolicy":
		role := req("roleName")
		return []Resource{mk("trust-policy", iamARN("role", role), "", "restore the previous trust policy: aws iam update-assume-role-policy --role-name "+q(role)+" --policy-document file://previous.json")}
	case "CreatePolicy":
		arn := resp("policy", "arn")
		return []Resource{mk("policy", arn, "", "aws iam delete-policy --policy-arn "+q(arn)+" (detach it first)")}
	case "CreatePolicyVersion":
		arn, v := req("policyArn"), resp("policyVersion", "versionId")
		return []Resource{mk("policy-version", arn, "", fmt.Sprintf("aws iam set-default-policy-version --policy-arn %s --version-id PREVIOUS && aws iam delete-policy-version --policy-arn %s --version-id %s", q(arn), q(arn), q(v)))}
	case "AttachUserPolicy", "AttachRolePolicy", "AttachGroupPolicy":
		kind, name := attachTarget(e.Name, req)
		arn := req("policyArn")
		return []Resource{mk("policy-attachment", iamARN(kind, name), "", fmt.Sprintf("aws iam detach-%s-policy --%s-name %s --policy-arn %s", kind, kind, q(name), q(arn)))}
	case "PutUserPolicy", "PutRolePolicy", "PutGroupPolicy":
		kind, name := attachTarget(e.Name, req)
		pol := req("policyName")
		return []Resource{mk("inline-policy", iamARN(kind, name), "", fmt.Sprintf("aws iam delete-%s-policy --%s-name %s --policy-name %s", kind, kind, q(name), q(pol)))}
	case "AddUserToGroup":
		user, group := req("userName"), req("groupName")
		return []Resource{mk("group-membership", iamARN("user", user), "", fmt.Sprintf("aws iam remove-user-from-group --user-name %s --group-name %s", q(user), q(group)))}
	case "CreateVirtualMFADevice", "EnableMFADevice":
		serial := resp("virtualMFADevice", "serialNumber")
		if serial == "" {
			serial = req("serialNumber")
		}
		user := req("userName")
		undo := "aws iam delete-virtual-mfa-device --serial-number " + q(serial)
		if e.Name == "EnableMFADevice" {
			undo = fmt.Sprintf("aws iam deactivate-mfa-device --user-name %s --serial-number %s", q(user), q(serial))
		}
		return []Resource{mk("mfa-device", serial, "", undo)}
	case "RunInstances":
		var out []Resource
		cloudtrail.EachValue(e.Response, []string{"instancesSet", "items", "instanceId"}, func(id string) bool {
			out = append(out, mk("instance", fmt.Sprintf("arn:aws:ec2:%s:%s:instance/%s", e.Region, acct, id), e.Region,
				fmt.Sprintf("aws ec2 terminate-instances --region %s --instance-ids %s", q(e.Region), q(id))))
			return true
		})
		if out == nil {
			typ := req("instanceType")
			out = append(out, mk("instance", fmt.Sprintf("arn:aws:ec2:%s:%s:instance/* (%s; the event lists no instance ID)", e.Region, acct, typ), e.Region,
				"aws ec2 describe-instances --region "+q(e.Region)+" --filters Name=instance-type,Values="+q(typ)))
		}
		return out
	case "CreateKeyPair", "ImportKeyPair":
		name := req("keyName")
		return []Resource{mk("ec2-key-pair", fmt.Sprintf("arn:aws:ec2:%s:%s:key-pair/%s", e.Region, acct, name), e.Region,
			fmt.Sprintf("aws ec2 delete-key-pair --region %s --key-name %s", q(e.Region), q(name)))}
	case "CreateFunction20150331", "CreateFunction", "UpdateFunctionCode20150331v2", "UpdateFunctionCode":
		arn := resp("functionArn")
		undo := "aws lambda delete-function --function-name " + q(arn)
		if strings.HasPrefix(e.Name, "Update") {
			undo = "restore the previous code: aws lambda update-function-code --function-name " + q(arn) + " --zip-file fileb://previous.zip"
		}
		return []Resource{mk("lambda-function", arn, e.Region, undo)}
	case "CreateBucket":
		b := req("bucketName")
		return []Resource{mk("s3-bucket", "arn:aws:s3:::"+b, e.Region, "aws s3 rb "+q("s3://"+b)+" (after reviewing its content)")}
	case "PutBucketPolicy":
		b := req("bucketName")
		return []Resource{mk("bucket-policy", "arn:aws:s3:::"+b, e.Region, "review, then aws s3api delete-bucket-policy --bucket "+q(b))}
	case "ModifySnapshotAttribute", "ModifyImageAttribute":
		// Sharing with other accounts: the IDs added to the permission.
		perm, idKey, kind, typ := "createVolumePermission", "snapshotId", "snapshot-shared", "snapshot"
		if e.Name == "ModifyImageAttribute" {
			perm, idKey, kind, typ = "launchPermission", "imageId", "image-shared", "image"
		}
		var who []string
		cloudtrail.EachValue(e.Request, []string{perm, "add", "items", "userId"}, func(v string) bool {
			if v != "" && strings.Trim(v, "0123456789") == "" {
				who = append(who, strings.Clone(v)) // account IDs only: they go into a command
			}
			return true
		})
		if len(who) == 0 {
			return nil
		}
		id := req(idKey)
		undo := fmt.Sprintf("aws ec2 modify-snapshot-attribute --region %s --snapshot-id %s --attribute createVolumePermission --operation-type remove --user-ids %s", q(e.Region), q(id), strings.Join(who, " "))
		if typ == "image" {
			undo = fmt.Sprintf("aws ec2 modify-image-attribute --region %s --image-id %s --launch-permission 'Remove=[{UserId=%s}]'", q(e.Region), q(id), strings.Join(who, "},{UserId="))
		}
		return []Resource{mk(kind, fmt.Sprintf("arn:aws:ec2:%s::%s/%s", e.Region, typ, id), e.Region, undo)}
	}
	return nil
}

// attachTarget reads the user, role or group an IAM attach/put names.
func attachTarget(event string, req func(...string) string) (kind, name string) {
	switch {
	case strings.Contains(event, "Role"):
		return "role", req("roleName")
	case strings.Contains(event, "Group"):
		return "group", req("groupName")
	}
	return "user", req("userName")
}

// RolesAssumed returns the names of the roles the key (or its sessions)
// assumed, from the investigation's derived edges.
func RolesAssumed(inv *Investigation) []string {
	if inv == nil {
		return nil
	}
	var out []string
	for _, e := range inv.Derived {
		if e.RoleARN == "" {
			continue
		}
		_, name, ok := strings.Cut(e.RoleARN, ":role/")
		if !ok {
			continue
		}
		if i := strings.LastIndexByte(name, '/'); i >= 0 {
			name = name[i+1:]
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// CreatedKeys returns the access keys the investigation found created by
// the key or its sessions.
func CreatedKeys(inv *Investigation) []KeyState {
	if inv == nil {
		return nil
	}
	var out []KeyState
	for _, e := range inv.Derived {
		if e.Event == "CreateAccessKey" && e.User != "" {
			out = append(out, KeyState{ID: e.Child, User: e.User})
		}
	}
	return out
}
