package detect

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/keywarden/keywarden/internal/cloudtrail"
	"github.com/keywarden/keywarden/internal/lazyregexp"
)

// Facts are what a run learns about resources from its own events: which
// buckets receive CloudTrail logs, which roles were granted administrator
// rights and which instance profiles hold them, which KMS keys are in use.
// Rules of the fact kinds (log-bucket, admin-role, key-in-use) are field
// matches whose finding counts only when the resource the event names
// (the rule's subject) is judged by those facts. Workers read files in any
// order, so events are kept per subject and judged once all are merged: a
// grant logged after the launch that used the role still counts.

// Fact kinds: what is known about a value.
const (
	factLogBucket   = "log-bucket"   // bucket -> the event that said it receives logs
	factAdminRole   = "admin-role"   // "role:NAME" or "group:NAME" -> how it was made an administrator
	factProfileRole = "profile-role" // instance profile name -> the role it holds
	factKeyUsed     = "key-used"     // KMS key id or alias -> the call that used it
	factKeyAlias    = "key-alias"    // alias/NAME -> the key id it points to
)

// maxFacts bounds the facts a worker remembers, and maxFactLen each
// value and what it records (ARNs, bucket, role and alias names are far
// shorter): at most some 40 MB per worker when every fact is hostile.
const (
	maxFacts   = 1 << 15
	maxFactLen = 512
)

type factKey struct{ kind, value string }

// facts maps what is known to how it was learnt (or, for links, to what
// the value points to).
type facts map[factKey]string

func (f facts) add(kind, value, how string) {
	if value == "" || len(value) > maxFactLen || len(how) > maxFactLen || len(f) >= maxFacts {
		return
	}
	k := factKey{kind, value}
	if _, ok := f[k]; !ok {
		f[factKey{kind, strings.Clone(value)}] = strings.Clone(how)
	}
}

func (f facts) merge(src facts) {
	for k, v := range src {
		if _, ok := f[k]; !ok {
			f[k] = v
		}
	}
}

// A learner reads one kind of fact out of one event name.
type learner struct {
	kind  string
	from  []*fieldGetter
	norm  func(string) string
	how   func(r *cloudtrail.Record) (string, bool) // what the fact records; false: learn nothing
	value func(r *cloudtrail.Record) string         // for links: what the value points to
}

func eventName(r *cloudtrail.Record) (string, bool) { return r.EventName, true }

// firstValue is a field's first value ("" for none).
func firstValue(g *fieldGetter, r *cloudtrail.Record) string {
	var out string
	g.each(r, func(v string) bool { out = v; return false })
	return out
}

// learners, by the event name they read. They are built on first use,
// not at start: every command (the pre-commit hook's scan among them)
// would otherwise pay for them.
var learners = sync.OnceValue(func() map[string][]learner {
	adminPolicyARN := regexp.MustCompile(`:policy/(AdministratorAccess|IAMFullAccess)$`)
	policyArn := mustGetter("requestParameters.policyArn")
	policyDocument := mustGetter("requestParameters.policyDocument")
	roleNameField := mustGetter("requestParameters.roleName")
	targetKeyID := mustGetter("requestParameters.targetKeyId")
	m := map[string][]learner{}
	add := func(kind string, names []string, fields []string, norm func(string) string,
		how func(*cloudtrail.Record) (string, bool), value func(*cloudtrail.Record) string) {
		var gs []*fieldGetter
		for _, f := range fields {
			gs = append(gs, mustGetter(f))
		}
		if how == nil {
			how = eventName
		}
		for _, n := range names {
			m[n] = append(m[n], learner{kind: kind, from: gs, norm: norm, how: how, value: value})
		}
	}
	// Log buckets: trails name the bucket they write to; a bucket policy
	// letting CloudTrail write makes one too.
	add(factLogBucket, []string{"CreateTrail", "UpdateTrail"}, []string{"requestParameters.s3BucketName"}, nil, nil, nil)
	add(factLogBucket, []string{"GetTrail"}, []string{"responseElements.trail.s3BucketName"}, nil, nil, nil)
	add(factLogBucket, []string{"DescribeTrails"}, []string{"responseElements.trailList.s3BucketName"}, nil, nil, nil)
	add(factLogBucket, []string{"PutBucketPolicy"}, []string{"requestParameters.bucketName"}, nil,
		func(r *cloudtrail.Record) (string, bool) {
			return r.EventName, bytes.Contains(r.RequestParameters, []byte("cloudtrail.amazonaws.com"))
		}, nil)
	// Administrator roles and groups: AdministratorAccess or IAMFullAccess
	// attached, or an inline policy allowing * on *.
	for _, who := range []string{"Role", "Group"} {
		field := "requestParameters." + strings.ToLower(who) + "Name"
		norm := func(v string) string { return strings.ToLower(who) + ":" + v }
		add(factAdminRole, []string{"Attach" + who + "Policy"}, []string{field}, norm,
			func(r *cloudtrail.Record) (string, bool) {
				arn := firstValue(policyArn, r)
				return r.EventName + " " + arn[strings.LastIndexByte(arn, '/')+1:], adminPolicyARN.MatchString(arn)
			}, nil)
		add(factAdminRole, []string{"Put" + who + "Policy"}, []string{field}, norm,
			func(r *cloudtrail.Record) (string, bool) {
				return r.EventName + " allowing * on *", grantsAdmin(firstValue(policyDocument, r))
			}, nil)
	}
	add(factProfileRole, []string{"AddRoleToInstanceProfile"}, []string{"requestParameters.instanceProfileName"}, nil, nil,
		func(r *cloudtrail.Record) string { return firstValue(roleNameField, r) })
	// KMS keys in use: cryptographic calls (the key is in resources when
	// requestParameters do not name it), and resources configured with it.
	add(factKeyUsed, []string{"Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
		"GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "Sign", "Verify", "GenerateMac", "VerifyMac", "CreateGrant"},
		[]string{"requestParameters.keyId", "requestParameters.destinationKeyId", "resources.ARN"}, keyRef, nil, nil)
	add(factKeyUsed, []string{"CreateVolume", "CopySnapshot", "CopyImage", "CreateSecret", "UpdateSecret", "CreateDBInstance",
		"CreateDBCluster", "CreateLogGroup", "AssociateKmsKey", "CreateTrail", "UpdateTrail", "CreateFileSystem", "CreateTable",
		"CreateStream", "StartStreamEncryption"},
		[]string{"requestParameters.kmsKeyId", "requestParameters.KmsKeyId", "requestParameters.sSESpecification.kMSMasterKeyId",
			"requestParameters.keyId"}, keyRef, nil, nil)
	add(factKeyUsed, []string{"PutBucketEncryption"},
		[]string{"requestParameters.ServerSideEncryptionConfiguration.Rule.ApplyServerSideEncryptionByDefault.KMSMasterKeyID"}, keyRef, nil, nil)
	add(factKeyUsed, []string{"PutObject", "CopyObject", "CreateMultipartUpload"},
		[]string{"requestParameters.x-amz-server-side-encryption-aws-kms-key-id", "additionalEventData.x-amz-server-side-encryption-aws-kms-key-id"}, keyRef, nil, nil)
	add(factKeyAlias, []string{"CreateAlias", "UpdateAlias"}, []string{"requestParameters.aliasName"}, keyRef, nil,
		func(r *cloudtrail.Record) string { return keyRef(firstValue(targetKeyID, r)) })
	return m
})

// learn records the facts a successful event teaches.
func (f facts) learn(r *cloudtrail.Record) {
	for _, l := range learners()[r.EventName] {
		how, ok := l.how(r)
		if !ok {
			continue
		}
		if l.value != nil {
			how = l.value(r)
			if how == "" {
				continue
			}
		}
		for _, g := range l.from {
			g.each(r, func(v string) bool {
				if l.norm != nil {
					v = l.norm(v)
				}
				f.add(l.kind, v, how)
				return true
			})
		}
	}
}

// keyRef reduces a KMS key reference to the key id, or to alias/NAME for
// an alias: "arn:aws:kms:eu-west-1:1:key/ID" and "ID" are one key.
func keyRef(v string) string {
	if strings.HasPrefix(v, "arn:") {
		if i := strings.LastIndex(v, ":key/"); i >= 0 {
			return v[i+len(":key/"):]
		}
		if i := strings.LastIndex(v, ":alias/"); i >= 0 {
			return v[i+1:]
		}
	}
	return v
}

// roleRef reduces what an event names as a role to "role:NAME",
// "profile:NAME" (an instance profile) or "group:NAME": ARNs lose their
// account and path.
func roleRef(field, v string) string {
	kind := "role:"
	if strings.HasSuffix(field, "groupName") {
		kind = "group:"
	} else if strings.Contains(field, "nstanceProfile") || strings.HasSuffix(field, "jobFlowRole") || strings.Contains(v, ":instance-profile/") {
		kind = "profile:"
	}
	if strings.HasPrefix(v, "arn:") {
		v = v[strings.LastIndexByte(v, '/')+1:]
	}
	return kind + v
}

// subjectRef normalises a rule's subject value for its kind.
func subjectRef(kind, field, v string) string {
	switch kind {
	case KindAdminRole:
		return roleRef(field, v)
	case KindKeyInUse:
		return keyRef(v)
	}
	return v
}

// adminName: role and profile names that say administrator. When the
// logs do not show the role's policies, the name is all there is.
var adminName = lazyregexp.New(`(?i)admin|poweruser|fullaccess|superuser|break-?glass|OrganizationAccountAccessRole`)

// judge says whether a fact-kind finding about subject counts, and why.
func (f facts) judge(kind, subject string) (string, bool) {
	switch kind {
	case KindLogBucket:
		if how, ok := f[factKey{factLogBucket, subject}]; ok {
			return fmt.Sprintf("bucket %s receives CloudTrail logs (from %s)", subject, how), true
		}
	case KindAdminRole:
		return f.judgeRole(subject)
	case KindKeyInUse:
		if how, ok := f[factKey{factKeyUsed, subject}]; ok {
			return fmt.Sprintf("key %s is in use: %s in these logs", subject, how), true
		}
		// The key used through an alias, or an alias of a used key.
		var aliases []string
		for k, target := range f {
			if k.kind == factKeyAlias && (target == subject || k.value == subject) {
				aliases = append(aliases, k.value, target)
			}
		}
		sort.Strings(aliases)
		for _, a := range aliases {
			if how, ok := f[factKey{factKeyUsed, a}]; ok && a != subject {
				return fmt.Sprintf("key %s is in use: %s of %s in these logs", subject, how, a), true
			}
		}
	}
	return "", false
}

func (f facts) judgeRole(subject string) (string, bool) {
	if group, ok := strings.CutPrefix(subject, "group:"); ok {
		if how, ok := f[factKey{factAdminRole, subject}]; ok {
			return fmt.Sprintf("group %s was made an administrators group in these logs (%s)", group, how), true
		}
		if adminName().MatchString(group) {
			return fmt.Sprintf("group %s is named like an administrators group (its policies are not in these logs: the name decides)", group), true
		}
		return "", false
	}
	name, isProfile := strings.CutPrefix(subject, "profile:")
	role := strings.TrimPrefix(subject, "role:")
	via := ""
	if isProfile {
		r, ok := f[factKey{factProfileRole, name}]
		if !ok {
			if adminName().MatchString(name) {
				return fmt.Sprintf("instance profile %s is named like an administrator's (its role and policies are not in these logs: the name decides)", name), true
			}
			return "", false
		}
		role, via = r, fmt.Sprintf("instance profile %s holds role %s; ", name, r)
	}
	if how, ok := f[factKey{factAdminRole, "role:" + role}]; ok {
		return fmt.Sprintf("%srole %s was made an administrator in these logs (%s)", via, role, how), true
	}
	if adminName().MatchString(role) {
		return fmt.Sprintf("%srole %s is named like an administrator's (its policies are not in these logs: the name decides)", via, role), true
	}
	return "", false
}
