package report

import (
	"io"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
)

// SARIF 2.1.0, the subset GitHub code scanning reads: tool.driver with its
// rules, results with a level, a message, physical locations, partial
// fingerprints (so alerts survive line moves) and suppressions.

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name,omitempty"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      *sarifText     `json:"fullDescription,omitempty"`
	Help                 *sarifText     `json:"help,omitempty"`
	HelpURI              string         `json:"helpUri,omitempty"`
	DefaultConfiguration sarifConfig    `json:"defaultConfiguration"`
	Properties           map[string]any `json:"properties,omitempty"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifResult struct {
	RuleID              string             `json:"ruleId"`
	RuleIndex           int                `json:"ruleIndex"`
	Level               string             `json:"level"`
	Message             sarifText          `json:"message"`
	Locations           []sarifLocation    `json:"locations,omitempty"`
	PartialFingerprints map[string]string  `json:"partialFingerprints,omitempty"`
	Suppressions        []sarifSuppression `json:"suppressions,omitempty"`
	Properties          map[string]any     `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
	LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
	Message          *sarifText     `json:"message,omitempty"`
	Properties       map[string]any `json:"properties,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
	EndLine     int `json:"endLine,omitempty"`
	EndColumn   int `json:"endColumn,omitempty"`
}

type sarifLogical struct {
	Name               string `json:"name,omitempty"`
	FullyQualifiedName string `json:"fullyQualifiedName,omitempty"`
	Kind               string `json:"kind,omitempty"`
}

type sarifSuppression struct {
	Kind          string `json:"kind"`
	Justification string `json:"justification,omitempty"`
}

// sarifLevel maps a severity to SARIF's level.
func sarifLevel(s Severity) string {
	switch {
	case s >= SeverityHigh:
		return "error"
	case s == SeverityMedium:
		return "warning"
	default:
		return "note"
	}
}

// securitySeverity is GitHub's numeric "security-severity" (0-10), which
// it maps back to critical/high/medium/low in its UI.
func securitySeverity(s Severity) string {
	switch s {
	case SeverityCritical:
		return "9.5"
	case SeverityHigh:
		return "8.0"
	case SeverityMedium:
		return "5.5"
	case SeverityLow:
		return "3.0"
	}
	return "0.5"
}

// sarifURI turns a path into a relative URI reference with forward slashes.
func sarifURI(p string) string {
	p = filepath.ToSlash(p)
	p = strings.TrimPrefix(p, "./")
	return (&url.URL{Path: p}).String()
}

// WriteSARIF writes one SARIF 2.1.0 log. rules may be nil: any rule id a
// finding uses that is not in rules is described from the finding itself.
func WriteSARIF(w io.Writer, tool Tool, rules []Rule, fs []Finding) error {
	index := map[string]int{}
	var srules []sarifRule
	addRule := func(r Rule) {
		if _, ok := index[r.ID]; ok {
			return
		}
		index[r.ID] = len(srules)
		sr := sarifRule{
			ID:                   r.ID,
			Name:                 ruleName(r.ID),
			ShortDescription:     sarifText{Text: nonEmpty(r.Title, r.ID)},
			DefaultConfiguration: sarifConfig{Level: sarifLevel(r.Severity)},
			Properties: map[string]any{
				"security-severity": securitySeverity(r.Severity),
				"tags":              append([]string{"security"}, r.Tags...),
			},
		}
		if r.Description != "" {
			sr.FullDescription = &sarifText{Text: r.Description}
		}
		if r.Remediation != "" {
			sr.Help = &sarifText{Text: r.Remediation}
		}
		if len(r.References) > 0 {
			sr.HelpURI = r.References[0]
		}
		srules = append(srules, sr)
	}
	for _, r := range rules {
		addRule(r)
	}
	for _, f := range fs {
		addRule(Rule{ID: f.RuleID, Title: f.Title, Severity: f.Severity, Remediation: f.Remediation, References: f.References})
	}

	results := make([]sarifResult, 0, len(fs))
	for _, f := range fs {
		msg := f.Title
		if f.Message != "" {
			msg += ": " + f.Message
		}
		if f.Remediation != "" {
			msg += " Fix: " + f.Remediation
		}
		res := sarifResult{
			RuleID:    f.RuleID,
			RuleIndex: index[f.RuleID],
			Level:     sarifLevel(f.Severity),
			Message:   sarifText{Text: msg},
		}
		if f.Location.Path != "" {
			loc := sarifLocation{PhysicalLocation: &sarifPhysical{
				ArtifactLocation: sarifArtifact{URI: sarifURI(f.Location.Path), URIBaseID: "%SRCROOT%"},
			}}
			if f.Location.Line > 0 {
				loc.PhysicalLocation.Region = &sarifRegion{
					StartLine: f.Location.Line, StartColumn: f.Location.Column,
					EndLine: f.Location.EndLine, EndColumn: f.Location.EndColumn,
				}
			}
			if f.Location.Resource != "" {
				loc.LogicalLocations = []sarifLogical{{FullyQualifiedName: f.Location.Resource}}
			}
			res.Locations = []sarifLocation{loc}
		} else if f.Location.Resource != "" {
			res.Locations = []sarifLocation{{LogicalLocations: []sarifLogical{{FullyQualifiedName: f.Location.Resource, Kind: "resource"}}}}
		}
		if f.Fingerprint != "" {
			res.PartialFingerprints = map[string]string{"keywarden/v1": f.Fingerprint}
		}
		if f.Suppressed != "" {
			kind := "external"
			if f.Suppressed == "inline" {
				kind = "inSource"
			}
			res.Suppressions = []sarifSuppression{{Kind: kind, Justification: f.Suppressed}}
		}
		props := map[string]any{"severity": f.Severity.String()}
		if f.Evidence != "" {
			props["evidence"] = f.Evidence
		}
		if f.Location.Commit != "" {
			props["commit"] = f.Location.Commit
		}
		keys := make([]string, 0, len(f.Properties))
		for k := range f.Properties {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			props[k] = f.Properties[k]
		}
		res.Properties = props
		results = append(results, res)
	}
	if srules == nil {
		srules = []sarifRule{}
	}
	log := sarifLog{
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Version: "2.1.0",
		Runs: []sarifRun{{
			Tool:    sarifTool{Driver: sarifDriver{Name: tool.Name, Version: tool.Version, InformationURI: tool.InfoURI, Rules: srules}},
			Results: results,
		}},
	}
	enc := NewJSONEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}

// ruleName turns "kw-mfa-bool-deny" into "KwMfaBoolDeny", SARIF's
// PascalCase convention for rule names.
func ruleName(id string) string {
	var b strings.Builder
	up := true
	for _, r := range id {
		if r == '-' || r == '_' || r == '.' || r == '/' {
			up = true
			continue
		}
		if up && r >= 'a' && r <= 'z' {
			r -= 'a' - 'A'
		}
		up = false
		b.WriteRune(r)
	}
	return b.String()
}

func nonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
