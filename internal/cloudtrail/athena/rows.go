package athena

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// MaxRowBytes bounds one result row: CloudTrail caps an event at 256 KB,
// so a larger row is not a CloudTrail event.
const MaxRowBytes = 1 << 20

// recordKeys maps result columns back to the keys of a CloudTrail record.
var recordKeys = map[string]string{
	"eventversion": "eventVersion", "eventtime": "eventTime", "eventsource": "eventSource",
	"eventname": "eventName", "eventtype": "eventType", "eventcategory": "eventCategory",
	"eventid": "eventID", "requestid": "requestID", "awsregion": "awsRegion",
	"sourceipaddress": "sourceIPAddress", "useragent": "userAgent", "errorcode": "errorCode",
	"errormessage": "errorMessage", "recipientaccountid": "recipientAccountId",
	"vpcendpointid": "vpcEndpointId", "vpcendpointaccountid": "vpcEndpointAccountId", "readonly": "readOnly",
	"sessioncredentialfromconsole": "sessionCredentialFromConsole",
	"requestparameters":            "requestParameters", "responseelements": "responseElements",
	"additionaleventdata": "additionalEventData",
	"ui_type":             "type", "ui_principalid": "principalId", "ui_arn": "arn", "ui_accountid": "accountId",
	"ui_accesskeyid": "accessKeyId", "ui_username": "userName", "ui_invokedby": "invokedBy",
}

var rawKeys = map[string]bool{"requestparameters": true, "responseelements": true, "additionaleventdata": true}

// AppendRecord appends the CloudTrail record (one JSON line) that a result
// row of a family query stands for. row holds Columns' values in order,
// nil for SQL NULL. JSON text columns are embedded as JSON when they hold
// JSON, as a string otherwise.
func AppendRecord(dst []byte, row []*string) ([]byte, error) {
	if len(row) != len(Columns) {
		return dst, fmt.Errorf("row has %d columns, want %d", len(row), len(Columns))
	}
	size := 0
	for _, v := range row {
		if v != nil {
			size += len(*v)
		}
	}
	if size > MaxRowBytes {
		return dst, fmt.Errorf("row of %d bytes is larger than any CloudTrail event (limit %d)", size, MaxRowBytes)
	}
	top := map[string]json.RawMessage{}
	ui := map[string]json.RawMessage{}
	var session bool
	issuer := map[string]json.RawMessage{}
	var mfa *string
	var resources []map[string]string
	for i, name := range Columns {
		v := row[i]
		if v == nil {
			continue
		}
		switch name {
		case "ui_session":
			session = *v == "true"
			continue
		case "ui_mfa":
			mfa = v
			continue
		case EventsColumn:
			// How many events a reduced query's row stands for.
			n, err := strconv.ParseInt(*v, 10, 64)
			if err != nil || n < 1 || n > 1<<40 {
				return dst, fmt.Errorf("column %s: %.40q is not a count of events", EventsColumn, *v)
			}
			top["keywardenEvents"] = json.RawMessage(strconv.FormatInt(n, 10))
			continue
		case "res_arn1", "res_arn2", "res_arn3":
			resources = append(resources, map[string]string{"ARN": *v})
			continue
		case "ui_issuertype", "ui_issuerarn", "ui_issuerusername":
			issuer[map[string]string{"ui_issuertype": "type", "ui_issuerarn": "arn", "ui_issuerusername": "userName"}[name]] = quote(*v)
			continue
		}
		key := recordKeys[name]
		var enc json.RawMessage
		if rawKeys[name] && json.Valid([]byte(*v)) {
			enc = json.RawMessage(*v)
		} else {
			enc = quote(*v)
		}
		if name[:3] == "ui_" {
			ui[key] = enc
		} else {
			top[key] = enc
		}
	}
	if session {
		sc := map[string]any{}
		if mfa != nil {
			sc["attributes"] = map[string]json.RawMessage{"mfaAuthenticated": quote(*mfa)}
		}
		if len(issuer) > 0 {
			sc["sessionIssuer"] = issuer
		}
		b, _ := json.Marshal(sc)
		ui["sessionContext"] = b
	}
	if len(ui) > 0 {
		b, _ := json.Marshal(ui)
		top["userIdentity"] = b
	}
	if len(resources) > 0 {
		b, _ := json.Marshal(resources)
		top["resources"] = b
	}
	b, err := json.Marshal(top)
	if err != nil {
		return dst, err
	}
	dst = append(dst, b...)
	return append(dst, '\n'), nil
}

func quote(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}
