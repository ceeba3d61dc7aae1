package notify

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/keywarden/keywarden/internal/report"
)

// maxText bounds the summary line (Slack truncates a message's text
// past 40,000 characters and folds it long before).
const maxText = 3000

// slackEscaper escapes the three characters Slack gives meaning to in
// text: "<" and ">" would make a link or a mention (<!channel>) out of a
// hostile user agent, "&" starts an entity
// (https://api.slack.com/reference/surfaces/formatting#escaping).
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// clean makes an input-derived string safe for a chat line: terminal
// controls become "?", Slack's control characters are escaped.
func clean(s string) string { return slackEscaper.Replace(report.Printable(s)) }

// FromFinding builds the message for one finding: a JSON object with
// "text" (a Slack-compatible summary line: severity, rule, key, principal,
// what happened, what to do first), "source" and the finding as
// `keywarden detect --format json` prints it. Key IDs are identifiers and
// appear in full; findings hold no secrets.
func FromFinding(f report.Finding, source string) (Message, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "keywarden detect: %s %s (%s)", strings.ToUpper(f.Severity.String()), clean(f.Title), clean(f.RuleID))
	if key, _ := f.Properties["key"].(string); key != "" {
		fmt.Fprintf(&b, " - %s", clean(key))
	}
	var about []string
	if p, _ := f.Properties["principal"].(string); p != "" && p != f.Properties["key"] {
		about = append(about, clean(p))
	}
	if a, _ := f.Properties["account"].(string); a != "" {
		about = append(about, "account "+clean(a))
	}
	if len(about) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(about, ", "))
	}
	if f.Message != "" {
		fmt.Fprintf(&b, ": %s", clean(f.Message))
	}
	if next, _ := f.Properties["next"].([]string); len(next) > 0 {
		fmt.Fprintf(&b, ". Next: %s", clean(next[0]))
	}
	text := b.String()
	if r := []rune(text); len(r) > maxText {
		text = string(r[:maxText-3]) + "..."
	}
	var body bytes.Buffer
	enc := report.NewJSONEncoder(&body)
	enc.SetEscapeHTML(false)
	err := enc.Encode(struct {
		Text    string         `json:"text"`
		Source  string         `json:"source"`
		Finding report.Finding `json:"finding"`
	}{text, source, f})
	if err != nil {
		return Message{}, err
	}
	return Message{ID: f.Fingerprint, Text: text, Body: bytes.TrimRight(body.Bytes(), "\n")}, nil
}
