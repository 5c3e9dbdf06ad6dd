#!/bin/sh
# Scheduled drift check: does the backoffice still match the config? Needs only a READ
# token (WEBHOOKS_API_URL, WEBHOOKS_API_TOKEN; WEBHOOKS_ENVIRONMENT: which of the
# config's environments), and no webhook secret: a secret changed in the backoffice shows
# against what the last apply recorded (--skip-secrets leaves the config's unread).
#
# Drift is a change made outside the config (shown apart, field by field, with what the
# last apply left), a webhook whose labels were stripped, or an unmanaged webhook of the
# merchant (--fail-on-unmanaged: one created by hand in the backoffice).
# Exit 0 in sync, 2 on drift (the plan shows what differs), 1 when the check failed.
set -eu

config="${WEBHOOKS_CONFIG:-webhooks.yaml}"

status=0
webhooks plan -f "$config" --detailed-exitcode --fail-on-unmanaged --skip-secrets \
  || status=$?
case $status in
  0)
    echo "No drift: the backoffice matches $config."
    ;;
  2)
    message="Drift: the backoffice no longer matches $config${WEBHOOKS_ENVIRONMENT:+ \
(environment $WEBHOOKS_ENVIRONMENT)} (the plan above shows how). Someone changed webhooks \
outside this repository: apply the config again (re-run the apply job), change the config \
to match, or import the unmanaged ones."
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
