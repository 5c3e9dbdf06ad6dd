#!/bin/sh
# Validate the config on every push: offline, so it needs no backoffice and no secrets.
#
#   validate.sh [text|github|gitlab]
#
# github: problems become annotations on the pull request's files.
# gitlab: also writes a Code Quality report ($CODE_QUALITY_REPORT, default
#         gl-code-quality-report.json) for the merge request widget.
# Exit 0 when the config is valid, 1 when it is not.
set -eu

config="${WEBHOOKS_CONFIG:-webhooks.yaml}"
format="${1:-text}"

case "$format" in
  text | github)
    exec webhooks validate --offline --format "$format" "$config"
    ;;
  gitlab)
    # The report is for the widget, the listing for the job log; the listing decides.
    webhooks validate --offline --format gitlab "$config" \
      > "${CODE_QUALITY_REPORT:-gl-code-quality-report.json}" 2> /dev/null || true
    exec webhooks validate --offline --format text "$config"
    ;;
  *)
    echo "usage: validate.sh [text|github|gitlab]" >&2
    exit 64
    ;;
esac
