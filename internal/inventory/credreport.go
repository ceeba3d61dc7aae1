package inventory

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/report"
)

// The credential report (iam:GetCredentialReport) is CSV, one row per user
// plus "<root_account>". Its cells hold "N/A" (does not apply: no key in the
// slot, a key never used), "no_information" (AWS did not record it: a
// password last used before October 2014, a key last used before April
// 2015) and "not_supported" (root's password columns). Timestamps end in
// "Z" or "+00:00". Reports from before 2015 have 16 columns: no last-used
// date, region or service for keys. Columns are therefore found by name,
// never by position.

// RootUserName is how the credential report names the root user.
const RootUserName = "<root_account>"

// MaxCredentialReportSize bounds a credential report read from a file:
// AWS's report for 5,000 users is under 2 MiB.
const MaxCredentialReportSize = 64 << 20

// ReportRow is one row of the credential report, parsed.
type ReportRow struct {
	Line       int
	User       string
	ARN        string
	Created    time.Time
	Password   Password
	MFAActive  Tri
	Keys       []*AccessKey
	CertActive Tri
	newest     time.Time
}

// CredentialReport is a parsed report.
type CredentialReport struct {
	Rows      []ReportRow
	Generated time.Time
	// Columns is the number of columns in the header (22 today, 16 in
	// reports from before 2015).
	Columns int
	// HasLastUsed is false for old reports that lack the keys' last-used
	// columns.
	HasLastUsed bool
}

// credentialReportJSON is what `aws iam get-credential-report` prints.
type credentialReportJSON struct {
	Content       *string `json:"Content"`
	ReportFormat  string  `json:"ReportFormat"`
	GeneratedTime string  `json:"GeneratedTime"`
}

// ParseCredentialReport reads a credential report: the CSV itself, or the
// JSON the AWS CLI prints (the CSV base64-encoded in Content). name is used
// in errors.
func ParseCredentialReport(name string, data []byte) (*CredentialReport, error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if bytes.HasPrefix(trimmed, []byte("\xef\xbb\xbf")) {
		trimmed = trimmed[3:]
	}
	var generated time.Time
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var j credentialReportJSON
		if err := json.Unmarshal(trimmed, &j); err != nil {
			return nil, fmt.Errorf("%s: %s", name, jsonErr(trimmed, err))
		}
		if j.Content == nil {
			return nil, fmt.Errorf("%s: a JSON credential report needs a Content field (the output of `aws iam get-credential-report`)", name)
		}
		if j.ReportFormat != "" && !strings.EqualFold(j.ReportFormat, "text/csv") {
			return nil, fmt.Errorf("%s: ReportFormat %q is not text/csv", name, j.ReportFormat)
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(*j.Content))
		if err != nil {
			return nil, fmt.Errorf("%s: Content is not base64: %v", name, err)
		}
		if j.GeneratedTime != "" {
			generated, _ = parseTime(j.GeneratedTime)
		}
		trimmed = bytes.TrimLeft(raw, "\ufeff")
		if bytes.HasPrefix(trimmed, []byte("\xef\xbb\xbf")) {
			trimmed = trimmed[3:]
		}
	}
	rep, err := parseReportCSV(name, trimmed)
	if err != nil {
		return nil, err
	}
	rep.Generated = generated
	return rep, nil
}

// column indexes of the fields we read; -1 when absent.
type reportCols struct {
	user, arn, created                                 int
	pwEnabled, pwLastUsed, pwLastChanged, pwNextRotate int
	mfa                                                int
	key                                                [2]struct{ active, rotated, usedDate, usedRegion, usedService int }
	cert                                               [2]int
}

func parseReportCSV(name string, data []byte) (*CredentialReport, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	header, err := r.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: the credential report is empty", name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %s", name, csvErr(err))
	}
	idx := map[string]int{}
	for i, h := range header {
		idx[strings.ToLower(strings.TrimSpace(h))] = i
	}
	col := func(n string) int {
		if i, ok := idx[n]; ok {
			return i
		}
		return -1
	}
	c := reportCols{user: col("user"), arn: col("arn"), created: col("user_creation_time"),
		pwEnabled: col("password_enabled"), pwLastUsed: col("password_last_used"),
		pwLastChanged: col("password_last_changed"), pwNextRotate: col("password_next_rotation"),
		mfa: col("mfa_active")}
	if c.user < 0 || c.arn < 0 {
		return nil, fmt.Errorf("%s:1: not a credential report: the header has no \"user\" and \"arn\" columns", name)
	}
	for i := 0; i < 2; i++ {
		p := fmt.Sprintf("access_key_%d_", i+1)
		c.key[i].active = col(p + "active")
		c.key[i].rotated = col(p + "last_rotated")
		c.key[i].usedDate = col(p + "last_used_date")
		c.key[i].usedRegion = col(p + "last_used_region")
		c.key[i].usedService = col(p + "last_used_service")
		c.cert[i] = col(fmt.Sprintf("cert_%d_active", i+1))
	}
	rep := &CredentialReport{Columns: len(header), HasLastUsed: c.key[0].usedDate >= 0}
	line := 1
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		line++
		if err != nil {
			return nil, fmt.Errorf("%s: %s", name, csvErr(err))
		}
		if l, _ := r.FieldPos(0); l > 0 {
			line = l
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if len(rec) != len(header) {
			return nil, fmt.Errorf("%s:%d: %d fields, the header has %d", name, line, len(rec), len(header))
		}
		row, err := parseReportRow(rec, &c, line, rep.HasLastUsed)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %v", name, line, err)
		}
		rep.Rows = append(rep.Rows, row)
	}
	return rep, nil
}

func parseReportRow(rec []string, c *reportCols, line int, hasLastUsed bool) (ReportRow, error) {
	cell := func(i int) string {
		if i < 0 {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	row := ReportRow{Line: line, User: cell(c.user), ARN: cell(c.arn)}
	if row.User == "" {
		return row, errors.New("the user column is empty")
	}
	var err error
	track := func(t time.Time) {
		if t.After(row.newest) {
			row.newest = t
		}
	}
	timeCell := func(i int, what string) (time.Time, Usage, error) {
		t, u, e := reportTime(cell(i))
		if e != nil {
			return t, u, fmt.Errorf("%s: %v", what, e)
		}
		track(t)
		return t, u, nil
	}
	if row.Created, _, err = timeCell(c.created, "user_creation_time"); err != nil {
		return row, err
	}
	row.Password.Enabled = reportBool(cell(c.pwEnabled))
	if row.Password.LastUsed, row.Password.LastUsedState, err = timeCell(c.pwLastUsed, "password_last_used"); err != nil {
		return row, err
	}
	if row.Password.LastChanged, _, err = timeCell(c.pwLastChanged, "password_last_changed"); err != nil {
		return row, err
	}
	if row.Password.NextRotation, _, err = timeCell(c.pwNextRotate, "password_next_rotation"); err != nil {
		return row, err
	}
	row.MFAActive = reportBool(cell(c.mfa))
	for i := 0; i < 2; i++ {
		kc := c.key[i]
		active := reportBool(cell(kc.active))
		rotated, _, err := timeCell(kc.rotated, fmt.Sprintf("access_key_%d_last_rotated", i+1))
		if err != nil {
			return row, err
		}
		// A slot holds a key when it is active, or inactive with a
		// creation date (an inactive key left lying around).
		if active != Yes && rotated.IsZero() {
			continue
		}
		k := &AccessKey{Slot: i + 1, Active: active == Yes, Created: rotated}
		if hasLastUsed {
			used, state, err := timeCell(kc.usedDate, fmt.Sprintf("access_key_%d_last_used_date", i+1))
			if err != nil {
				return row, err
			}
			k.LastUsed, k.LastUsedState = used, state
			k.LastUsedRegion = naToEmpty(cell(kc.usedRegion))
			k.LastUsedService = naToEmpty(cell(kc.usedService))
		}
		row.Keys = append(row.Keys, k)
	}
	certs := No
	for i := 0; i < 2; i++ {
		switch reportBool(cell(c.cert[i])) {
		case Yes:
			certs = Yes
		case Unknown:
			if certs == No && c.cert[i] < 0 {
				certs = Unknown
			}
		}
	}
	row.CertActive = certs
	return row, nil
}

// reportBool reads "true"/"false" in any case; anything else (N/A,
// not_supported) is Unknown.
func reportBool(s string) Tri {
	switch {
	case strings.EqualFold(s, "true"):
		return Yes
	case strings.EqualFold(s, "false"):
		return No
	}
	return Unknown
}

func naToEmpty(s string) string {
	switch strings.ToLower(s) {
	case "n/a", "no_information", "not_supported":
		return ""
	}
	return s
}

// reportTime reads a timestamp cell. "N/A" means never (or does not apply),
// "no_information" and "not_supported" mean unknown.
func reportTime(s string) (time.Time, Usage, error) {
	switch strings.ToLower(s) {
	case "n/a":
		return time.Time{}, UsageNever, nil
	case "", "no_information", "not_supported":
		return time.Time{}, UsageUnknown, nil
	}
	t, err := parseTime(s)
	if err != nil {
		return time.Time{}, UsageUnknown, err
	}
	return t, UsageUsed, nil
}

var timeLayouts = []string{
	time.RFC3339Nano,                   // 2016-08-30T17:37:35Z, +00:00, fractions
	"2006-01-02 15:04:05Z07:00",        // authorization details from some tools
	"2006-01-02 15:04:05.999999Z07:00", // the same with microseconds
	"2006-01-02T15:04:05-0700",         // +0000
	"2006-01-02T15:04:05.999999-0700",  // +0000 with fractions
	"2006-01-02T15:04:05",              // no zone: UTC
	"2006-01-02 15:04:05",              // no zone: UTC
}

// parseTime reads the timestamp forms AWS exports use. A time without a
// zone is taken as UTC, which is what IAM reports in.
func parseTime(s string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a timestamp", truncate(s, 40))
}

func truncate(s string, n int) string {
	if len(s) > n {
		s = s[:n] + "..."
	}
	return report.Printable(s)
}

func csvErr(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Sprintf("%d:%d: %v", pe.Line, pe.Column, pe.Err)
	}
	return err.Error()
}

// jsonKind names the JSON shape a Go type decodes from.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "a string"
		}
		return "a list"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	default:
		return "a number"
	}
}

// jsonErr turns a JSON error into "line:col: message".
func jsonErr(data []byte, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	off := int64(-1)
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
		if te.Field != "" && te.Type != nil {
			// Say it in the export's terms, not Go's struct names.
			err = fmt.Errorf("%s: a JSON %s where %s was expected", te.Field, te.Value, jsonKind(te.Type))
		}
	case errors.Is(err, io.ErrUnexpectedEOF):
		// A json.Decoder reports a cut-off document without an offset:
		// the position is the end of the data.
		off = int64(len(data)) + 1
		err = errors.New("unexpected end of file: the JSON is truncated")
	}
	if off < 0 || off > int64(len(data))+1 {
		return err.Error()
	}
	// Offset counts the bytes read up to and including the offending one.
	if off > 0 {
		off--
	}
	line, col := 1, 1
	for _, b := range data[:off] {
		if b == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("%d:%d: %v", line, col, err)
}

// ApplyCredentialReport merges a parsed report into a. A user listed twice
// (AWS has produced such reports) keeps the row with the newest timestamp,
// and the duplicate is noted in a.Warnings.
func (a *Account) ApplyCredentialReport(name string, rep *CredentialReport) {
	a.Sources.CredentialReport = true
	if name != "" {
		a.Sources.Files = append(a.Sources.Files, name)
	} else {
		name = "credential report"
	}
	if !rep.Generated.IsZero() {
		a.ReportGenerated = rep.Generated
	}
	if !rep.HasLastUsed {
		a.ReportLacksLastUse = true
		a.warnf(fmt.Sprintf("%s: an old %d-column credential report without the keys' last-used columns: keys' last use is unknown, so unused keys cannot be found", name, rep.Columns))
	}
	seen := map[string]int{}
	rows := make([]*ReportRow, 0, len(rep.Rows))
	for i := range rep.Rows {
		row := &rep.Rows[i]
		if j, dup := seen[row.User]; dup {
			prev := rows[j]
			keep := prev
			if row.newest.After(prev.newest) {
				keep = row
				rows[j] = row
			}
			a.warnf(fmt.Sprintf("%s: user %q is listed twice (lines %d and %d): using line %d, the more recent", name, row.User, prev.Line, row.Line, keep.Line))
			continue
		}
		seen[row.User] = len(rows)
		rows = append(rows, row)
	}
	for _, row := range rows {
		if a.ID == "" {
			a.ID = AccountFromARN(row.ARN)
		}
		if row.User == RootUserName {
			a.Root = &Root{ARN: row.ARN, Created: row.Created, MFAActive: row.MFAActive, Password: row.Password, Keys: row.Keys}
			a.Root.KeysPresent = No
			for _, k := range row.Keys {
				if k.Active {
					a.Root.KeysPresent = Yes
				}
			}
			continue
		}
		u, _ := a.userFor(row.User)
		u.InReport = true
		if u.ARN == "" {
			u.ARN = row.ARN
		}
		if u.Created.IsZero() {
			u.Created = row.Created
		}
		u.Password = row.Password
		// A live listing of the user's devices is current; the report
		// may be hours old (AWS reuses one generated in the last four).
		// Take the report's flag only where no listing answered.
		if u.MFAActive == Unknown || !a.Sources.MFADevices && len(u.MFADevices) == 0 {
			u.MFAActive = row.MFAActive
		}
		u.CertActive = row.CertActive
		u.Keys = mergeKeys(u.Keys, row.Keys)
	}
	a.sortUsers()
}

// mergeKeys combines keys known by ID (ListAccessKeys) with the report's
// slots. Slots are in creation order, as are IDs once sorted by creation;
// the report adds what the API listing lacks (last use), the listing adds
// IDs. When only one side has keys, it wins.
func mergeKeys(have, slots []*AccessKey) []*AccessKey {
	if len(have) == 0 {
		return slots
	}
	if len(slots) == 0 {
		return have
	}
	used := make([]bool, len(slots))
	for _, k := range have {
		for i, s := range slots {
			// Each slot matches one key: two keys created in the same
			// second pair up in creation order.
			if used[i] || !sameInstant(k.Created, s.Created) {
				continue
			}
			used[i] = true
			k.Slot = s.Slot
			if k.LastUsedState != UsageUsed && s.LastUsedState == UsageUsed {
				k.LastUsed, k.LastUsedState = s.LastUsed, s.LastUsedState
				k.LastUsedRegion, k.LastUsedService = s.LastUsedRegion, s.LastUsedService
			}
			break
		}
	}
	return have
}

// sameInstant compares creation dates to the second: the report truncates.
func sameInstant(a, b time.Time) bool {
	d := a.Sub(b)
	return d > -2*time.Second && d < 2*time.Second
}
