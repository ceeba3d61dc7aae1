package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	gdapi "github.com/aws/aws-sdk-go-v2/service/guardduty"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/keywarden/keywarden/internal/cloudtrail"
	"github.com/keywarden/keywarden/internal/cloudtrail/baseline"
	"github.com/keywarden/keywarden/internal/cloudtrail/detect"
	"github.com/keywarden/keywarden/internal/guardduty"
	"github.com/keywarden/keywarden/internal/notify"
	"github.com/keywarden/keywarden/internal/report"
)

// This file holds detect's inputs and outputs besides CloudTrail and
// stdout: GuardDuty findings read with --guardduty, alerts sent with
// --notify.

// detectAlertHooks are test doubles for --guardduty and --notify; nil
// fields mean the real thing.
type detectAlertHooks struct {
	GuardDutyClient guardduty.API
	SNSClient       notify.SNSAPI
	HTTPClient      *http.Client
	NotifyPolicy    notify.Policy
}

// detectGuardDutySources checks the --guardduty values before any work.
func detectGuardDutySources(srcs []string) error {
	for _, s := range srcs {
		if s == "-" {
			return usageErrorf("--guardduty -: stdin is for CloudTrail; name a file, a directory, s3://bucket/prefix or api")
		}
	}
	return nil
}

// detectGuardDuty reads the --guardduty sources and returns their findings
// about keys and credentials whose activity falls within --since/--until,
// as detect findings. Input problems go to errs (the run exits 2); what
// was skipped is said on stderr.
func detectGuardDuty(ctx context.Context, opts *detectOptions, since, until time.Time, getenv func(string) string, errs *detectErrors) []*detect.Finding {
	if len(opts.GuardDuty) == 0 {
		return nil
	}
	set := &guardduty.Set{}
	onErr := func(e *guardduty.InputError) {
		errs.add(&cloudtrail.InputError{Source: "GuardDuty " + e.Error(), Offset: -1, Err: errGuardDutySkipped})
	}
	onInputErr := func(e *cloudtrail.InputError) {
		e.Source = "GuardDuty " + e.Source
		errs.add(e)
	}
	inputs, empty := 0, 0
	var paths []string
	for _, src := range opts.GuardDuty {
		if src != "api" {
			paths = append(paths, src)
			continue
		}
		client := opts.Hooks.GuardDutyClient
		if client == nil {
			cfg, err := opts.AWS.load(ctx)
			if err != nil {
				onInputErr(&cloudtrail.InputError{Source: "API", Offset: -1, Err: fmt.Errorf("AWS configuration: %w", err)})
				continue
			}
			client = gdapi.NewFromConfig(cfg)
		}
		st, err := guardduty.FromAPI(ctx, client, since, set.Add, onErr)
		set.Merge(st)
		inputs++
		if err != nil {
			onInputErr(&cloudtrail.InputError{Source: "API", Offset: -1, Err: err})
		}
	}
	if len(paths) > 0 {
		// The same listing as CloudTrail's: files, directories (walked
		// for *.json, *.jsonl, *.gz ...), s3://bucket/prefix.
		o := *opts
		o.Lookup = false
		o.Athena = detectAthenaOptions{}
		srcs, err := detectBuildSources(ctx, &o, nil, paths, time.Time{}, time.Time{}, time.Time{}, getenv)
		if err != nil {
			onInputErr(&cloudtrail.InputError{Source: strings.Join(paths, " "), Offset: -1, Err: err})
			srcs = &detectSources{}
		}
		ch := make(chan cloudtrail.Input)
		go func() {
			defer close(ch)
			srcs.feed(ctx, nil, ch, onInputErr, nil)
		}()
		for in := range ch {
			rc, err := in.Open(ctx)
			if err != nil {
				onInputErr(&cloudtrail.InputError{Source: in.Name, Offset: -1, Err: err})
				continue
			}
			before := set.Kept + set.OtherFindings + set.Archived + set.Duplicates + set.OverLimit
			st := guardduty.Decode(in.Name, rc, set.Add, onErr)
			rc.Close()
			set.Merge(st)
			inputs++
			if set.Kept+set.OtherFindings+set.Archived+set.Duplicates+set.OverLimit == before && st.Errors == 0 {
				empty++
			}
		}
	}
	var out []*detect.Finding
	outside := 0
	for _, f := range set.Findings() {
		if (!since.IsZero() && !f.LastSeen.IsZero() && f.LastSeen.Before(since)) || (!until.IsZero() && !f.FirstSeen.Before(until)) {
			outside++
			continue
		}
		out = append(out, f.Detect())
	}
	line := fmt.Sprintf("GuardDuty: %s about keys and credentials from %s", detectPlural(len(out), "finding", "findings"), detectPlural(inputs, "input", "inputs"))
	var skipped []string
	for _, s := range []struct {
		n         int
		one, many string
	}{
		{set.OtherFindings, "finding about another kind of resource", "findings about other kinds of resources"},
		{set.Archived, "archived finding", "archived findings"},
		{set.Duplicates, "earlier version of an updated finding", "earlier versions of updated findings"},
		{outside, "finding outside --since/--until", "findings outside --since/--until"},
		{set.NotFindings, "JSON value that is not a finding", "JSON values that are not findings"},
		{set.OverLimit, fmt.Sprintf("finding over the limit of %d", guardduty.MaxFindings), fmt.Sprintf("findings over the limit of %d", guardduty.MaxFindings)},
		{set.Errors, "malformed value (see below)", "malformed values (see below)"},
		{empty, "input without a finding", "inputs without a finding"},
	} {
		if s.n > 0 {
			skipped = append(skipped, detectPlural(s.n, s.one, s.many))
		}
	}
	if len(skipped) > 0 {
		line += "; skipped " + strings.Join(skipped, ", ")
	}
	fmt.Fprintf(opts.IO.ErrOut, "keywarden: %s\n", line)
	return out
}

// errGuardDutySkipped completes a GuardDuty decoding error's line: the
// value was skipped, the rest of the input read where it could be.
var errGuardDutySkipped = fmt.Errorf("skipped")

// detectMergeFindings adds GuardDuty's findings to keywarden's, in the
// order the text output groups them: by actor, most severe first, then
// rule (keywarden's ct- rules before guardduty/ ones) and time.
func detectMergeFindings(own, gd []*detect.Finding) []*detect.Finding {
	if len(gd) == 0 {
		return own
	}
	all := append(own, gd...)
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		switch {
		case a.Actor != b.Actor:
			return a.Actor < b.Actor
		case a.Rule.Severity != b.Rule.Severity:
			return a.Rule.Severity > b.Rule.Severity
		case a.Rule.ID != b.Rule.ID:
			return a.Rule.ID < b.Rule.ID
		}
		return a.First.Before(b.First)
	})
	return all
}

// detectTarget is one --notify destination.
type detectTarget struct {
	target notify.Target
	// id names the target in the state store: a hash, since a webhook's
	// URL is often a credential.
	id string
}

// detectNotifyTargets checks the --notify values and builds their
// clients, before any log is read.
func detectNotifyTargets(ctx context.Context, opts *detectOptions) ([]detectTarget, error) {
	var out []detectTarget
	for _, v := range opts.Notify {
		kind, val, err := notify.ParseTarget(v)
		if err != nil {
			return nil, UsageError(fmt.Errorf("--notify %s", report.Printable(err.Error())))
		}
		h := sha256.Sum256([]byte(v))
		t := detectTarget{id: hex.EncodeToString(h[:8])}
		switch kind {
		case "sns":
			client := opts.Hooks.SNSClient
			if client == nil {
				cfg, err := opts.AWS.load(ctx)
				if err != nil {
					return nil, UsageError(fmt.Errorf("AWS configuration: %w", err))
				}
				region := strings.Split(val, ":")[3]
				client = sns.NewFromConfig(cfg, func(o *sns.Options) { o.Region = region })
			}
			t.target = &notify.SNS{Client: client, TopicARN: val}
		default:
			t.target = &notify.Webhook{URL: val, Client: opts.Hooks.HTTPClient, Now: opts.Now}
		}
		out = append(out, t)
	}
	return out, nil
}

// detectNotify sends each new finding (not suppressed, not delivered to
// the same target by an earlier run with the same state store) to every
// target, records what was delivered, and says on stderr what happened.
// It returns how many deliveries failed: those are not recorded, and so
// are tried again on the next run. Without a usable store (--no-state, or
// a store that could not be used) every finding is new, and that is said.
func detectNotify(ctx context.Context, opts *detectOptions, targets []detectTarget, fs []*detect.Finding, statePath string, stateOK bool, now time.Time) int {
	if len(targets) == 0 {
		return 0
	}
	var msgs []notify.Message
	for _, f := range fs {
		if f.Suppressed != "" {
			continue
		}
		r := detectReport(f)
		m, err := notify.FromFinding(r, r.Properties["source"].(string))
		if err != nil {
			fmt.Fprintf(opts.IO.ErrOut, "keywarden: notify: %s\n", report.Printable(err.Error()))
			continue
		}
		msgs = append(msgs, m)
	}
	var ids []string
	for _, t := range targets {
		for _, m := range msgs {
			ids = append(ids, t.id+"/"+m.ID)
		}
	}
	sent := map[string]bool{}
	useState := stateOK && !opts.NoState
	switch {
	case opts.NoState:
		fmt.Fprintf(opts.IO.ErrOut, "keywarden: notify: --no-state: every finding counts as new and is sent\n")
	case !stateOK:
		fmt.Fprintf(opts.IO.ErrOut, "keywarden: notify: the state store is not usable: every finding counts as new and is sent\n")
	default:
		var err error
		if sent, err = baseline.Notified(statePath, ids); err != nil {
			fmt.Fprintf(opts.IO.ErrOut, "keywarden: notify: %s: every finding counts as new and is sent\n", report.Printable(err.Error()))
			sent, useState = map[string]bool{}, false
		}
	}
	jobs := make([]notify.Job, len(targets))
	for i, t := range targets {
		jobs[i].Target = t.target
		for _, m := range msgs {
			if !sent[t.id+"/"+m.ID] {
				jobs[i].Messages = append(jobs[i].Messages, m)
			}
		}
	}
	policy := opts.Hooks.NotifyPolicy
	if policy.Now == nil {
		policy.Now = func() time.Time { return now }
	}
	outcomes := notify.Deliver(ctx, policy, jobs)
	failed := 0
	var delivered []string
	for i, o := range outcomes {
		for _, id := range o.Delivered {
			delivered = append(delivered, targets[i].id+"/"+id)
		}
		before := len(msgs) - len(jobs[i].Messages)
		line := fmt.Sprintf("notify %s: %s delivered", report.Printable(o.Target), detectPlural(len(o.Delivered), "new finding", "new findings"))
		if before > 0 {
			line += fmt.Sprintf(" (%d sent by an earlier run, not again)", before)
		}
		if n := o.Failed + o.Skipped; n > 0 {
			failed += n
			line += fmt.Sprintf("; %d NOT delivered (%d failed, %d not tried once the target failed; %d attempts in all), tried again on the next run: %s",
				n, o.Failed, o.Skipped, o.Attempts, report.Printable(o.Err.Error()))
		}
		fmt.Fprintf(opts.IO.ErrOut, "keywarden: %s\n", line)
	}
	if useState {
		if err := baseline.MarkNotified(statePath, delivered, now); err != nil {
			fmt.Fprintf(opts.IO.ErrOut, "keywarden: notify: could not record the deliveries (they will be sent again): %s\n", report.Printable(err.Error()))
		}
	}
	return failed
}
