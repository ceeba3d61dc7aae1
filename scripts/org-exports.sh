#!/usr/bin/env bash
# Write the exports `keywarden audit --org-exports DIR` reads, with the AWS
# CLI and jq, from the management account (or a delegated administrator):
#
#   DIR/organization.json                      the OU tree, SCPs and RCPs
#   DIR/ACCOUNT-ID/credential-report.json      aws iam get-credential-report
#   DIR/ACCOUNT-ID/authorization-details.json  aws iam get-account-authorization-details
#   DIR/ACCOUNT-ID/password-policy.json        aws iam get-account-password-policy ({} when none)
#
# Usage: scripts/org-exports.sh DIR [ROLE-NAME]
#   ROLE-NAME is assumed in each member account (default
#   OrganizationAccountAccessRole); the caller's own account is read with
#   the caller's credentials. AWS_PROFILE, AWS_REGION and AWS_ENDPOINT_URL
#   are honoured as the AWS CLI honours them. An account that cannot be read
#   is said on stderr and left without a directory: keywarden then reports
#   it as not audited.
set -euo pipefail

dir=${1:?usage: $0 DIR [ROLE-NAME]}
role=${2:-OrganizationAccountAccessRole}
umask 077
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

org() { aws organizations "$@" --output json; }

org describe-organization | jq '.Organization | {Id, MasterAccountId}' >"$tmp/org.json"
org list-roots | jq '.Roots' >"$tmp/roots.json"
org list-accounts | jq '.Accounts' >"$tmp/accounts.json"

# The tree, breadth first: each OU and each account with its parent's ID.
echo '[]' >"$tmp/ous.json"
echo '{}' >"$tmp/parents.json"
queue=$(jq -r '.[].Id' "$tmp/roots.json")
while [ -n "$queue" ]; do
  parent=${queue%%$'\n'*}
  [ "$queue" = "$parent" ] && queue="" || queue=${queue#*$'\n'}
  org list-organizational-units-for-parent --parent-id "$parent" |
    jq --arg p "$parent" '[.OrganizationalUnits[] | {Id, Name, ParentId: $p}]' >"$tmp/children.json"
  jq -s 'add' "$tmp/ous.json" "$tmp/children.json" >"$tmp/ous.next" && mv "$tmp/ous.next" "$tmp/ous.json"
  for ou in $(jq -r '.[].Id' "$tmp/children.json"); do queue=${queue:+$queue$'\n'}$ou; done
  org list-accounts-for-parent --parent-id "$parent" |
    jq --arg p "$parent" --slurpfile m "$tmp/parents.json" '$m[0] + ([.Accounts[] | {(.Id): $p}] | add // {})' >"$tmp/parents.next"
  mv "$tmp/parents.next" "$tmp/parents.json"
done

# The policies attached at every level, for each policy type the root enables.
echo '{}' >"$tmp/targets.json"
echo '[]' >"$tmp/policies.json"
targets=$(jq -r '.[].Id' "$tmp/roots.json" "$tmp/ous.json" "$tmp/accounts.json")
for type in $(jq -r '[.[].PolicyTypes[]? | select(.Status == "ENABLED") | .Type] | unique | .[] | select(. == "SERVICE_CONTROL_POLICY" or . == "RESOURCE_CONTROL_POLICY")' "$tmp/roots.json"); do
  for target in $targets; do
    org list-policies-for-target --target-id "$target" --filter "$type" | jq '[.Policies[].Id]' >"$tmp/ids.json"
    jq --arg t "$target" --slurpfile ids "$tmp/ids.json" '.[$t] = ((.[$t] // []) + $ids[0])' "$tmp/targets.json" >"$tmp/targets.next"
    mv "$tmp/targets.next" "$tmp/targets.json"
    for id in $(jq -r '.[]' "$tmp/ids.json"); do
      if ! jq -e --arg id "$id" 'any(.[]; .PolicySummary.Id == $id)' "$tmp/policies.json" >/dev/null; then
        org describe-policy --policy-id "$id" | jq '.Policy | {PolicySummary: (.PolicySummary | {Id, Name, Type}), Content}' >"$tmp/policy.json"
        jq -s '.[0] + [.[1]]' "$tmp/policies.json" "$tmp/policy.json" >"$tmp/policies.next" && mv "$tmp/policies.next" "$tmp/policies.json"
      fi
    done
  done
done

jq -n --slurpfile o "$tmp/org.json" --slurpfile r "$tmp/roots.json" --slurpfile u "$tmp/ous.json" \
  --slurpfile a "$tmp/accounts.json" --slurpfile pa "$tmp/parents.json" --slurpfile p "$tmp/policies.json" --slurpfile t "$tmp/targets.json" \
  '{Organization: $o[0], Roots: [$r[0][] | {Id, Name, PolicyTypes}], OrganizationalUnits: $u[0],
    Accounts: [$a[0][] | {Id, Name, Email, Status: (.State // .Status), ParentId: $pa[0][.Id]}],
    Policies: $p[0], Targets: $t[0]}' >"$dir/organization.json"

# Each account's exports, with credentials for ROLE in it.
self=$(aws sts get-caller-identity --query Account --output text)
for acct in $(jq -r '.[] | select((.State // .Status) == "ACTIVE") | .Id' "$tmp/accounts.json"); do
  (
    if [ "$acct" != "$self" ]; then
      creds=$(aws sts assume-role --role-arn "arn:aws:iam::$acct:role/$role" --role-session-name keywarden-export \
        --query Credentials --output json) || exit 1
      export AWS_ACCESS_KEY_ID=$(jq -r .AccessKeyId <<<"$creds")
      export AWS_SECRET_ACCESS_KEY=$(jq -r .SecretAccessKey <<<"$creds")
      export AWS_SESSION_TOKEN=$(jq -r .SessionToken <<<"$creds")
      unset AWS_PROFILE
    fi
    mkdir -p "$tmp/$acct"
    aws iam get-account-authorization-details --output json >"$tmp/$acct/authorization-details.json"
    for _ in $(seq 1 30); do
      [ "$(aws iam generate-credential-report --query State --output text)" = COMPLETE ] && break
      sleep 2
    done
    aws iam get-credential-report --output json >"$tmp/$acct/credential-report.json"
    # NoSuchEntity means the account has no password policy: keywarden reads {} as that.
    aws iam get-account-password-policy --output json >"$tmp/$acct/password-policy.json" 2>/dev/null ||
      echo '{}' >"$tmp/$acct/password-policy.json"
    rm -rf "${dir:?}/$acct" && mv "$tmp/$acct" "$dir/$acct"
  ) || echo "org-exports: account $acct could not be exported" >&2
done
echo "org-exports: wrote $dir (keywarden audit --org-exports $dir)" >&2
