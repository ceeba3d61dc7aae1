package athena

import (
	"fmt"
	"strings"
	"time"
)

// tableColumns is AWS's CloudTrail table ("Creating the table for
// CloudTrail logs in Athena using partition projection"), field names in
// lower case as Athena stores them.
const tableColumns = `  eventversion STRING,
  useridentity STRUCT<
    type: STRING,
    principalid: STRING,
    arn: STRING,
    accountid: STRING,
    invokedby: STRING,
    accesskeyid: STRING,
    username: STRING,
    onbehalfof: STRUCT<userid: STRING, identitystorearn: STRING>,
    sessioncontext: STRUCT<
      attributes: STRUCT<mfaauthenticated: STRING, creationdate: STRING>,
      sessionissuer: STRUCT<type: STRING, principalid: STRING, arn: STRING, accountid: STRING, username: STRING>,
      ec2roledelivery: STRING,
      webidfederationdata: STRUCT<federatedprovider: STRING, attributes: MAP<STRING, STRING>>,
      sourceidentity: STRING>>,
  eventtime STRING,
  eventsource STRING,
  eventname STRING,
  awsregion STRING,
  sourceipaddress STRING,
  useragent STRING,
  errorcode STRING,
  errormessage STRING,
  requestparameters STRING,
  responseelements STRING,
  additionaleventdata STRING,
  requestid STRING,
  eventid STRING,
  readonly STRING,
  resources ARRAY<STRUCT<arn: STRING, accountid: STRING, type: STRING>>,
  eventtype STRING,
  apiversion STRING,
  recipientaccountid STRING,
  serviceeventdetails STRING,
  sharedeventid STRING,
  vpcendpointid STRING,
  vpcendpointaccountid STRING,
  eventcategory STRING,
  addendum STRUCT<reason: STRING, updatedfields: STRING, originalrequestid: STRING, originaleventid: STRING>,
  sessioncredentialfromconsole STRING,
  edgedevicedetails STRING,
  tlsdetails STRUCT<tlsversion: STRING, ciphersuite: STRING, clientprovidedhostheader: STRING>`

// CloudTrailStart is the first day CloudTrail logs can have.
var CloudTrailStart = time.Date(2013, 11, 1, 0, 0, 0, 0, time.UTC)

// DDL is the CREATE EXTERNAL TABLE for the trail's logs, partition
// projected over account, region and day, so no partition is ever loaded
// or repaired. from is the first day of the projection's range.
func DDL(t Table, l *Layout, from time.Time) (string, error) {
	if err := t.Check(); err != nil {
		return "", err
	}
	if strings.ContainsAny(l.Base, "'\\`$") || strings.ContainsAny(l.Bucket, "'\\`$/") {
		return "", fmt.Errorf("s3://%s/%s: a bucket or prefix with quotes, backslashes or $ cannot go in the table's location", l.Bucket, l.Base)
	}
	if len(l.Accounts) == 0 || len(l.Regions) == 0 {
		return "", fmt.Errorf("no accounts or regions to project")
	}
	for _, a := range l.Accounts {
		if !accountRE().MatchString(a) {
			return "", fmt.Errorf("account %q: want 12 digits", a)
		}
	}
	for _, r := range l.Regions {
		if !regionRE().MatchString(r) {
			return "", fmt.Errorf("region %q: want a region name", r)
		}
	}
	loc := "s3://" + l.Bucket + "/" + l.Base
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE EXTERNAL TABLE `%s`.`%s` (\n%s\n)\n", t.Database, t.Name, tableColumns)
	b.WriteString("PARTITIONED BY (account STRING, region STRING, `timestamp` STRING)\n")
	b.WriteString("ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'\n")
	b.WriteString("STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'\n")
	b.WriteString("OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'\n")
	fmt.Fprintf(&b, "LOCATION '%s'\n", loc)
	b.WriteString("TBLPROPERTIES (\n")
	props := [][2]string{
		{"projection.enabled", "true"},
		{"projection.account.type", "enum"},
		{"projection.account.values", strings.Join(l.Accounts, ",")},
		{"projection.region.type", "enum"},
		{"projection.region.values", strings.Join(l.Regions, ",")},
		{"projection.timestamp.type", "date"},
		{"projection.timestamp.format", "yyyy/MM/dd"},
		{"projection.timestamp.interval", "1"},
		{"projection.timestamp.interval.unit", "DAYS"},
		{"projection.timestamp.range", from.UTC().Format(dayLayout) + ",NOW"},
		{"storage.location.template", loc + "${account}/CloudTrail/${region}/${timestamp}"},
	}
	for i, p := range props {
		sep := ","
		if i == len(props)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "  '%s'='%s'%s\n", p[0], p[1], sep)
	}
	b.WriteString(");\n")
	return b.String(), nil
}
