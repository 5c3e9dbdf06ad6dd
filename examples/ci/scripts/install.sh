#!/bin/sh
# Install webhooks-reconciler from its git repository, pinned to a commit you reviewed.
# No package index holds it: pip installs it from the repository at that very commit.
#
#   WEBHOOKS_RECONCILER_GIT     the tool's repository: https://github.com/<org>/webhooks-reconciler
#                               (your fork or mirror; https://, ssh:// or file://)
#   WEBHOOKS_RECONCILER_COMMIT  the full commit id you reviewed (40 hex digits; 64 for a
#                               SHA-256 repository): `git ls-remote <repository> HEAD`
#
# A branch or tag name is refused: a commit cannot move under you. PYTHON picks the
# interpreter (default python3). Exit 0 installed, 64 when a setting is missing or wrong.
set -eu

repo="${WEBHOOKS_RECONCILER_GIT:-}"
commit="${WEBHOOKS_RECONCILER_COMMIT:-}"

refuse() {
  echo "install.sh: $1" >&2
  echo "Set WEBHOOKS_RECONCILER_GIT to the tool's repository (https://github.com/<org>/webhooks-reconciler) and WEBHOOKS_RECONCILER_COMMIT to the full commit id you reviewed (git ls-remote <repository> HEAD)." >&2
  exit 64
}

[ -n "$repo" ] || refuse "WEBHOOKS_RECONCILER_GIT is not set"
[ -n "$commit" ] || refuse "WEBHOOKS_RECONCILER_COMMIT is not set"
case $repo in
  https://?* | ssh://?* | file:///?*) ;;
  *) refuse "WEBHOOKS_RECONCILER_GIT must be an https://, ssh:// or file:// URL" ;;
esac
case $repo in
  *[!A-Za-z0-9._~:/@%+-]*) refuse "WEBHOOKS_RECONCILER_GIT holds characters a repository URL does not" ;;
esac
case $commit in
  *[!0-9a-f]*) refuse "WEBHOOKS_RECONCILER_COMMIT must be a full commit id (lower-case hex), not a branch or tag" ;;
esac
if [ ${#commit} -ne 40 ] && [ ${#commit} -ne 64 ]; then
  refuse "WEBHOOKS_RECONCILER_COMMIT must be a full commit id (40 or 64 hex digits)"
fi

echo "Installing webhooks-reconciler from $repo at $commit."
exec "${PYTHON:-python3}" -m pip install --quiet "git+$repo@$commit"
