package cloudtrail

import (
	"fmt"
	"strconv"
)

// decodeRecord decodes the object at s.pos into r (which it resets).
// Fields of an unexpected type are skipped, not errors: CloudTrail changes
// types between events and a detector must not drop a record for it.
func decodeRecord(s *scanner, r *Record) error {
	*r = Record{}
	c, err := s.ws()
	if err != nil {
		return err
	}
	if c != '{' {
		return s.errf("expected a record object, found %q", c)
	}
	var eventTime string
	err = s.object(func(k string) error {
		var err error
		switch k {
		case "eventVersion":
			r.EventVersion, _, err = s.scalar()
		case "eventTime":
			eventTime, _, err = s.scalar()
		case "eventSource":
			r.EventSource, _, err = s.scalar()
		case "eventName":
			r.EventName, _, err = s.scalar()
		case "eventType":
			r.EventType, _, err = s.scalar()
		case "eventCategory":
			r.EventCategory, _, err = s.scalar()
		case "eventID":
			r.EventID, _, err = s.scalar()
		case "requestID":
			r.RequestID, _, err = s.scalar()
		case "awsRegion":
			r.AWSRegion, _, err = s.scalar()
		case "sourceIPAddress":
			r.SourceIPAddress, _, err = s.scalar()
		case "userAgent":
			r.UserAgent, _, err = s.scalar()
		case "errorCode":
			r.ErrorCode, _, err = s.scalar()
		case "errorMessage":
			r.ErrorMessage, _, err = s.scalar()
		case "recipientAccountId":
			r.RecipientAccount, _, err = s.scalar()
		case "vpcEndpointId":
			r.VPCEndpointID, _, err = s.scalar()
		case "vpcEndpointAccountId":
			r.VPCEndpointAccount, _, err = s.scalar()
		case "readOnly":
			var v string
			v, _, err = s.scalar()
			r.ReadOnly = parseBool(v)
		case "sessionCredentialFromConsole":
			var v string
			v, _, err = s.scalar()
			r.FromConsole = parseBool(v)
		case "managementEvent":
			var v string
			v, _, err = s.scalar()
			r.ManagementEvent = parseBool(v)
		case "requestParameters":
			r.RequestParameters, err = s.raw()
		case "responseElements":
			r.ResponseElements, err = s.raw()
		case "additionalEventData":
			r.AdditionalData, err = s.raw()
		case "resources":
			r.Resources, err = s.raw()
		case "userIdentity":
			err = decodeIdentity(s, &r.UserIdentity)
		case "keywardenEvents":
			var v string
			v, _, err = s.scalar()
			r.Events = parseEvents(v)
		default:
			err = s.skip(0)
		}
		return err
	})
	if err != nil {
		return err
	}
	if eventTime != "" {
		t, ok := parseTime(eventTime)
		if !ok {
			return &FieldError{Field: "eventTime", Msg: fmt.Sprintf("not a timestamp: %.40q", eventTime)}
		}
		r.EventTime = t
	}
	return nil
}

// FieldError is a well-formed record with an unusable field.
type FieldError struct {
	Field, Msg string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func decodeIdentity(s *scanner, u *UserIdentity) error {
	return s.objectOrSkip(func(k string) error {
		var err error
		switch k {
		case "type":
			u.Type, _, err = s.scalar()
		case "principalId":
			u.PrincipalID, _, err = s.scalar()
		case "arn":
			u.ARN, _, err = s.scalar()
		case "accountId":
			u.AccountID, _, err = s.scalar()
		case "accessKeyId":
			u.AccessKeyID, _, err = s.scalar()
		case "userName":
			u.UserName, _, err = s.scalar()
		case "invokedBy":
			u.InvokedBy, _, err = s.scalar()
		case "sessionContext":
			c, err := s.ws()
			if err != nil {
				return err
			}
			if c == '{' {
				u.HasSession = true
			}
			return s.objectOrSkip(func(k string) error {
				switch k {
				case "attributes":
					return s.objectOrSkip(func(k string) error {
						if k == "mfaAuthenticated" {
							v, _, err := s.scalar()
							u.MFAAuthenticated = parseBool(v)
							return err
						}
						return s.skip(0)
					})
				case "sessionIssuer":
					return s.objectOrSkip(func(k string) error {
						var err error
						switch k {
						case "type":
							u.IssuerType, _, err = s.scalar()
						case "arn":
							u.IssuerARN, _, err = s.scalar()
						case "userName":
							u.IssuerUserName, _, err = s.scalar()
						default:
							err = s.skip(0)
						}
						return err
					})
				}
				return s.skip(0)
			})
		default:
			err = s.skip(0)
		}
		return err
	})
}

// maxRecordEvents bounds a reduced record's count of events: a row
// standing for more than a trillion events is not a CloudTrail table's.
const maxRecordEvents = 1 << 40

// parseEvents reads keywardenEvents: a positive decimal count, anything
// else 0 (not a reduced record).
func parseEvents(v string) int64 {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 || n > maxRecordEvents {
		return 0
	}
	return n
}
