// Command detectgen writes a synthetic CloudTrail corpus for bench/detect.sh:
// gzip files laid out as CloudTrail delivers them to S3
// (AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/...json.gz), mostly
// {"Records":[...]} with some bare arrays and JSON-lines files, and records
// shaped like real ones (nested userIdentity, requestParameters and
// responseElements of varying size, service host names and "AWS Internal"
// as source addresses, booleans as strings, assumed-role sessions, a few
// suspicious events).
//
//	go run ./bench/detectgen -out DIR -files 1000 -events 1000000
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/keywarden/keywarden/internal/awskey"
	"github.com/klauspost/compress/gzip"
)

func main() {
	out := flag.String("out", "", "output directory")
	files := flag.Int("files", 1000, "number of .json.gz files")
	events := flag.Int("events", 1000000, "total number of records")
	seed := flag.Uint64("seed", 7, "random seed")
	flag.Parse()
	if *out == "" || *files < 1 || *events < *files {
		log.Fatal("usage: detectgen -out DIR [-files N] [-events M]")
	}
	accounts := []string{"111122223333", "444455556666"}
	regions := []string{"us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"}
	r := rand.NewChaCha8([32]byte{byte(*seed)})
	keys := make([]string, 40)
	for i := range keys {
		acct, _ := strconv.ParseUint(accounts[i%2], 10, 64)
		k, err := awskey.NewID("AKIA", acct, r)
		if err != nil {
			log.Fatal(err)
		}
		keys[i] = k
	}
	start := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	per := *events / *files
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for f := 0; f < *files; f++ {
		n := per
		if f == *files-1 {
			n = *events - per*(*files-1)
		}
		acct := accounts[f%len(accounts)]
		region := regions[f%len(regions)]
		t := start.Add(time.Duration(f) * 30 * time.Minute)
		wg.Add(1)
		sem <- struct{}{}
		go func(f, n int, acct, region string, t time.Time) {
			defer wg.Done()
			defer func() { <-sem }()
			g := &gen{r: rand.New(rand.NewPCG(*seed, uint64(f)+2)), keys: keys, acct: acct, region: region, t: t}
			shape := "records"
			switch f % 10 {
			case 3:
				shape = "array"
			case 7:
				shape = "lines"
			}
			dir := filepath.Join(*out, "AWSLogs", acct, "CloudTrail", region, t.Format("2006/01/02"))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				log.Fatal(err)
			}
			name := fmt.Sprintf("%s_CloudTrail_%s_%sZ_%08x.json.gz", acct, region, t.Format("20060102T1504"), g.r.Uint32())
			if err := os.WriteFile(filepath.Join(dir, name), g.file(shape, n), 0o644); err != nil {
				log.Fatal(err)
			}
		}(f, n, acct, region, t)
	}
	wg.Wait()
}

type gen struct {
	r      *rand.Rand
	keys   []string
	acct   string
	region string
	t      time.Time
	b      []byte
}

func (g *gen) file(shape string, n int) []byte {
	var raw bytes.Buffer
	switch shape {
	case "records":
		raw.WriteString(`{"Records":[`)
	case "array":
		raw.WriteString("[\n")
	}
	for i := 0; i < n; i++ {
		if i > 0 {
			if shape == "lines" {
				raw.WriteByte('\n')
			} else {
				raw.WriteByte(',')
			}
		}
		raw.Write(g.record(i))
	}
	switch shape {
	case "records":
		raw.WriteString("]}")
	case "array":
		raw.WriteString("\n]")
	default:
		raw.WriteByte('\n')
	}
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.DefaultCompression)
	zw.Write(raw.Bytes())
	zw.Close()
	return z.Bytes()
}

func (g *gen) uuid() string {
	a, b := g.r.Uint64(), g.r.Uint64()
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", uint32(a), uint16(a>>32), uint16(a>>48), uint16(b), b>>16)
}

var agents = []string{
	"aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0-1016-aws exe/x86_64.ubuntu.22 prompt/off command/ec2.describe-instances",
	"APN/1.0 HashiCorp/1.0 Terraform/1.7.4 (+https://www.terraform.io) terraform-provider-aws/5.40.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.25.2 os/linux lang/go#1.21.8 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.149.1",
	"Boto3/1.34.60 md/Botocore#1.34.60 ua/2.0 os/linux#5.10.213-201.855.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.60",
	"aws-sdk-java/2.25.6 Linux/5.10.210-201.852.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10 vendor/Amazon.com_Inc. io/async http/NettyNio cfg/retry-mode/legacy",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36",
}

type ev struct {
	source, name string
	readOnly     bool
}

var common = []ev{
	{"ec2.amazonaws.com", "DescribeInstances", true}, {"kms.amazonaws.com", "Decrypt", true},
	{"sts.amazonaws.com", "AssumeRole", false}, {"s3.amazonaws.com", "GetBucketAcl", true},
	{"iam.amazonaws.com", "GetUser", true}, {"ssm.amazonaws.com", "GetParameter", true},
	{"logs.amazonaws.com", "CreateLogStream", false}, {"lambda.amazonaws.com", "GetFunction20150331v2", true},
	{"ec2.amazonaws.com", "DescribeSecurityGroups", true}, {"secretsmanager.amazonaws.com", "GetSecretValue", true},
	{"ec2.amazonaws.com", "RunInstances", false}, {"sts.amazonaws.com", "GetCallerIdentity", true},
}

var rare = []ev{
	{"iam.amazonaws.com", "CreateAccessKey", false}, {"cloudtrail.amazonaws.com", "StopLogging", false},
	{"iam.amazonaws.com", "AttachUserPolicy", false}, {"iam.amazonaws.com", "DeactivateMFADevice", false},
	{"guardduty.amazonaws.com", "DeleteDetector", false},
}

func (g *gen) record(i int) []byte {
	r := g.r
	b := g.b[:0]
	t := g.t.Add(time.Duration(i) * 30 * time.Minute / time.Duration(2000))
	e := common[r.IntN(len(common))]
	if r.IntN(5000) == 0 {
		e = rare[r.IntN(len(rare))]
	}
	ki := r.IntN(len(g.keys))
	key := g.keys[ki]
	b = append(b, `{"eventVersion":"1.09","userIdentity":{`...)
	switch k := r.IntN(10); {
	case k < 5:
		b = append(b, `"type":"IAMUser","principalId":"AIDA`...)
		b = append(b, key[4:]...)
		b = append(b, `","arn":"arn:aws:iam::`...)
		b = append(b, g.acct...)
		b = append(b, `:user/user`...)
		b = append(b, key[16:]...)
		b = append(b, `","accountId":"`...)
		b = append(b, g.acct...)
		b = append(b, `","accessKeyId":"`...)
		b = append(b, key...)
		b = append(b, `","userName":"user`...)
		b = append(b, key[16:]...)
		b = append(b, `"},`...)
	case k < 9:
		b = append(b, `"type":"AssumedRole","principalId":"AROAEXAMPLEROLEID:session","arn":"arn:aws:sts::`...)
		b = append(b, g.acct...)
		b = append(b, `:assumed-role/deploy/session`...)
		b = strconv.AppendInt(b, int64(r.IntN(50)), 10)
		b = append(b, `","accountId":"`...)
		b = append(b, g.acct...)
		b = append(b, `","accessKeyId":"ASIA`...)
		b = append(b, key[4:]...)
		b = append(b, `","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAEXAMPLEROLEID","arn":"arn:aws:iam::`...)
		b = append(b, g.acct...)
		b = append(b, `:role/deploy","accountId":"`...)
		b = append(b, g.acct...)
		b = append(b, `","userName":"deploy"},"webIdFederationData":{},"attributes":{"creationDate":"`...)
		b = t.AppendFormat(b, time.RFC3339)
		if r.IntN(2) == 0 {
			b = append(b, `","mfaAuthenticated":"false"}}},`...)
		} else {
			b = append(b, `","mfaAuthenticated":false}}},`...)
		}
	default:
		b = append(b, `"type":"AWSService","invokedBy":"ec2.amazonaws.com"},`...)
	}
	b = append(b, `"eventTime":"`...)
	b = t.AppendFormat(b, time.RFC3339)
	b = append(b, `","eventSource":"`...)
	b = append(b, e.source...)
	b = append(b, `","eventName":"`...)
	b = append(b, e.name...)
	b = append(b, `","awsRegion":"`...)
	b = append(b, g.region...)
	b = append(b, `","sourceIPAddress":"`...)
	switch k := r.IntN(20); {
	case k == 0:
		b = append(b, "AWS Internal"...)
	case k == 1:
		b = append(b, e.source...)
	case k == 2:
		// Each key keeps to a couple of addresses, as real keys do.
		b = append(b, "2001:db8:"...)
		b = strconv.AppendInt(b, int64(ki), 16)
		b = append(b, "::"...)
		b = strconv.AppendInt(b, int64(1+r.IntN(2)), 16)
	case k == 3 && r.IntN(2000) == 0:
		b = append(b, "203.0.113."...) // the rare stranger
		b = strconv.AppendInt(b, int64(r.IntN(250)), 10)
	default:
		b = append(b, "198.51."...)
		b = strconv.AppendInt(b, int64(ki), 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(1+r.IntN(3)), 10)
	}
	b = append(b, `","userAgent":"`...)
	b = append(b, agents[(ki+r.IntN(2))%len(agents)]...)
	b = append(b, '"')
	if r.IntN(15) == 0 {
		b = append(b, `,"errorCode":"AccessDenied","errorMessage":"User: arn:aws:iam::`...)
		b = append(b, g.acct...)
		b = append(b, `:user/x is not authorized to perform: `...)
		b = append(b, e.name...)
		b = append(b, `"`...)
	}
	b = append(b, `,"requestParameters":`...)
	switch e.name {
	case "DescribeInstances":
		b = append(b, `{"instancesSet":{"items":[{"instanceId":"i-0abc`...)
		b = strconv.AppendInt(b, int64(r.IntN(1<<30)), 16)
		b = append(b, `"}]},"filterSet":{"items":[{"name":"tag:Name","valueSet":{"items":[{"value":"web"}]}}]}}`...)
	case "RunInstances":
		b = append(b, `{"instancesSet":{"items":[{"imageId":"ami-0123456789abcdef0","minCount":1,"maxCount":1}]},"instanceType":"`...)
		b = append(b, []string{"t3.micro", "m5.large", "c6i.xlarge", "p3.2xlarge"}[r.IntN(4)]...)
		b = append(b, `","blockDeviceMapping":{},"monitoring":{"enabled":false},"disableApiTermination":"false","clientToken":"`...)
		b = append(b, g.uuid()...)
		b = append(b, `"}`...)
	case "Decrypt":
		b = append(b, `{"encryptionAlgorithm":"SYMMETRIC_DEFAULT","encryptionContext":{"aws:lambda:FunctionArn":"arn:aws:lambda:`...)
		b = append(b, g.region...)
		b = append(b, `:`...)
		b = append(b, g.acct...)
		b = append(b, `:function:api"}}`...)
	case "GetParameter":
		b = append(b, `{"name":"/app/config/db-password","withDecryption":`...)
		if r.IntN(2) == 0 {
			b = append(b, `true}`...)
		} else {
			b = append(b, `"true"}`...)
		}
	case "CreateAccessKey", "AttachUserPolicy", "DeactivateMFADevice":
		b = append(b, `{"userName":"someone-else","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess","serialNumber":"arn:aws:iam::`...)
		b = append(b, g.acct...)
		b = append(b, `:mfa/someone-else"}`...)
	case "GetCallerIdentity", "GetUser":
		b = append(b, `null`...)
	default:
		b = append(b, `{"bucketName":"logs-`...)
		b = append(b, g.acct...)
		b = append(b, `","Host":"logs.s3.amazonaws.com","acl":[""]}`...)
	}
	b = append(b, `,"responseElements":`...)
	if e.readOnly {
		b = append(b, `null`...)
	} else {
		b = append(b, `{"credentials":{"accessKeyId":"ASIA`...)
		b = append(b, g.keys[r.IntN(len(g.keys))][4:]...)
		b = append(b, `","sessionToken":"IQoJb3JpZ2luX2VjEXAMPLE","expiration":"Jun 1, 2024, 1:00:00 PM"},"assumedRoleUser":{"assumedRoleId":"AROAEXAMPLEROLEID:s","arn":"arn:aws:sts::`...)
		b = append(b, g.acct...)
		b = append(b, `:assumed-role/deploy/s"}}`...)
	}
	b = append(b, `,"requestID":"`...)
	b = append(b, g.uuid()...)
	b = append(b, `","eventID":"`...)
	b = append(b, g.uuid()...)
	b = append(b, `","readOnly":`...)
	b = strconv.AppendBool(b, e.readOnly)
	b = append(b, `,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"`...)
	b = append(b, g.acct...)
	b = append(b, `","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"`...)
	b = append(b, e.source[:len(e.source)-len(".amazonaws.com")]...)
	b = append(b, `.`...)
	b = append(b, g.region...)
	b = append(b, `.amazonaws.com"}}`...)
	g.b = b
	return b
}
