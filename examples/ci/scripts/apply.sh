#!/bin/sh
# Apply on merge to the main branch with a MANAGE token, always through a saved plan.
#
#   apply.sh [REVIEWED_PLAN]
#
# With REVIEWED_PLAN (the plan.json the pull request's plan job saved): apply exactly
# that. `webhooks apply` re-plans first and refuses the whole plan, changing nothing,
# if the config or the backoffice changed since it was made.
# Without: plan now, on the merged config, save it (and print it to the job log), then
# apply that saved plan.
#
# Needs WEBHOOKS_API_URL, WEBHOOKS_API_TOKEN (scope manage) and the config's ${env:...}
# secrets, from the CI's secret store (WEBHOOKS_ENVIRONMENT: which of the config's
# environments). A reviewed plan made with --skip-secrets is applied with the secrets,
# when everything else is as reviewed. Exit 0 when everything applied, 1 when not.
set -eu

config="${WEBHOOKS_CONFIG:-webhooks.yaml}"

if [ $# -ge 1 ]; then
  plan=$1
  echo "Applying the reviewed plan $plan."
else
  plan="${WEBHOOKS_PLAN_DIR:-.}/plan.json"
  webhooks plan -f "$config" --out "$plan"
fi
exec webhooks apply -f "$config" "$plan"
