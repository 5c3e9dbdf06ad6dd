#!/bin/sh
# Scheduled drift check: does the backoffice still match the config? Needs only a READ
# token (WEBHOOKS_API_URL, WEBHOOKS_API_TOKEN) and the config's ${env:...} secrets.
#
# Exit 0 in sync, 2 on drift (the plan shows what differs), 1 when the check failed.
set -eu

config="${WEBHOOKS_CONFIG:-webhooks.yaml}"

status=0
webhooks plan -f "$config" --detailed-exitcode || status=$?
case $status in
  0)
    echo "No drift: the backoffice matches $config."
    ;;
  2)
    message="Drift: the backoffice no longer matches $config (the plan above shows how). \
Someone changed webhooks outside this repository: apply the config again (re-run the \
apply job) or change the config to match."
    if [ "${GITHUB_ACTIONS:-}" = "true" ]; then
      echo "::error title=Webhooks drift::$message"
    fi
    echo "$message" >&2
    exit 2
    ;;
  *)
    echo "The drift check failed: webhooks plan exited with $status (see above)." >&2
    exit 1
    ;;
esac
