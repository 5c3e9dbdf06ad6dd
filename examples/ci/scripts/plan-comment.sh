#!/bin/sh
# Plan a pull/merge request with a READ-only token and post the Markdown plan as ONE
# comment per environment, edited in place on every push: the comment is found by the
# hidden marker that the Markdown plan starts with. A failed plan replaces the comment
# too, so a reviewer never reads a plan that no longer holds.
#
# The plan is made with --skip-secrets: this job needs no webhook secret (a branch that
# can open a pull request can read whatever its job gets). Applying the saved plan reads
# them, and applies it only if everything else is as reviewed.
#
# Needs WEBHOOKS_API_URL and WEBHOOKS_API_TOKEN (scope read) from the CI's secret store.
# WEBHOOKS_ENVIRONMENT: the config's environment to plan (and the comment's marker).
# WEBHOOKS_BASE: the pull request's base commit; the plan then marks the changes the pull
# request makes apart from drift and from what the base already asked for (the checkout
# needs that commit: fetch-depth 0 / GIT_DEPTH 0).
# Leaves plan.md (the comment) and plan.json (the saved plan, for the pipeline's
# artifacts) in $WEBHOOKS_PLAN_DIR (default: .).
#
# Where the comment goes (COMMENT_ON, default: detected from the CI):
#   github: GITHUB_TOKEN (pull-requests: write), GITHUB_REPOSITORY, PR_NUMBER,
#           GITHUB_API_URL (set by Actions; https://api.github.com by default)
#   gitlab: GITLAB_COMMENT_TOKEN (a project access token, scope api), CI_API_V4_URL,
#           CI_PROJECT_ID, CI_MERGE_REQUEST_IID (all but the token set by GitLab)
#   none:   no comment; plan.md is still written
# Exit 0 when the plan is good (with or without changes), 1 when it failed or is unsafe.
set -eu

config="${WEBHOOKS_CONFIG:-webhooks.yaml}"
dir="${WEBHOOKS_PLAN_DIR:-.}"
if [ -n "${WEBHOOKS_ENVIRONMENT:-}" ]; then
  marker="<!-- webhooks-reconciler:plan environment=$WEBHOOKS_ENVIRONMENT -->"
else
  marker='<!-- webhooks-reconciler:plan -->'
fi
per_page=100

if [ -n "${COMMENT_ON:-}" ]; then
  platform=$COMMENT_ON
elif [ "${GITHUB_ACTIONS:-}" = "true" ]; then
  platform=github
elif [ "${GITLAB_CI:-}" = "true" ]; then
  platform=gitlab
else
  platform=none
fi

status=0
set -- --skip-secrets
if [ -n "${WEBHOOKS_BASE:-}" ]; then
  set -- "$@" --base "$WEBHOOKS_BASE"
fi
webhooks plan -f "$config" --format markdown --out "$dir/plan.json" "$@" \
  > "$dir/plan.md" 2> "$dir/plan.err" || status=$?
cat "$dir/plan.err" >&2

commit="${COMMIT_SHA:-${CI_COMMIT_SHA:-${GITHUB_SHA:-}}}"
if [ -n "${GITHUB_RUN_ID:-}" ]; then
  job="${GITHUB_SERVER_URL:-https://github.com}/${GITHUB_REPOSITORY:-}/actions/runs/$GITHUB_RUN_ID"
else
  job="${CI_JOB_URL:-}"
fi

{
  if [ -s "$dir/plan.md" ]; then
    cat "$dir/plan.md"  # begins with the marker
  else
    printf '%s\n### Webhooks plan failed\n\n' "$marker"
    printf '`webhooks plan` failed: nothing can be applied from this commit until it passes.\n\n'
    printf '~~~text\n'
    tail -n 30 "$dir/plan.err"
    printf '~~~\n'
  fi
  printf '\n<sub>Commit %s%s. This comment is updated on every push.</sub>\n' \
    "${commit:-unknown}" "${job:+, [pipeline job]($job)}"
} > "$dir/comment.md"

if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  cat "$dir/comment.md" >> "$GITHUB_STEP_SUMMARY"
fi

# call METHOD URL [JSON_FILE]: the API, with the token passed on standard input (curl
# --config -) so it never shows in a process listing.
call() {
  case $platform in
    github)
      printf 'header = "Authorization: Bearer %s"\n' "$GITHUB_TOKEN"
      printf 'header = "Accept: application/vnd.github+json"\n'
      printf 'header = "X-GitHub-Api-Version: 2022-11-28"\n'
      ;;
    gitlab) printf 'header = "PRIVATE-TOKEN: %s"\n' "$GITLAB_COMMENT_TOKEN" ;;
  esac | if [ $# -ge 3 ]; then
    curl --silent --show-error --fail --config - --request "$1" \
      --header 'Content-Type: application/json' --data-binary "@$3" "$2"
  else
    curl --silent --show-error --fail --config - --request "$1" "$2"
  fi
}

# Reads a JSON list of comments; prints the id of the first that starts with the marker
# (or nothing) and, on a second line, how many comments the page held.
find_marked() {
  python3 -c '
import json, sys
page = json.load(sys.stdin)
ids = [str(c["id"]) for c in page if str(c.get("body") or "").startswith(sys.argv[1])]
print(ids[0] if ids else "")
print(len(page))
' "$marker"
}

case $platform in
  github)
    base="${GITHUB_API_URL:-https://api.github.com}/repos/$GITHUB_REPOSITORY/issues"
    list="$base/$PR_NUMBER/comments"
    edit="$base/comments"
    update=PATCH
    ;;
  gitlab)
    list="$CI_API_V4_URL/projects/$CI_PROJECT_ID/merge_requests/$CI_MERGE_REQUEST_IID/notes"
    edit=$list
    update=PUT
    ;;
  none)
    echo "No comment posted (COMMENT_ON=none); the comment is in $dir/comment.md." >&2
    exit "$status"
    ;;
  *)
    echo "COMMENT_ON must be github, gitlab or none, not '$platform'" >&2
    exit 64
    ;;
esac

python3 -c 'import json, sys; json.dump({"body": sys.stdin.read()}, sys.stdout)' \
  < "$dir/comment.md" > "$dir/comment.json"

found=""
page=1
while :; do
  comments=$(call GET "$list?per_page=$per_page&page=$page&sort=asc")
  answer=$(printf '%s' "$comments" | find_marked)
  found=$(printf '%s\n' "$answer" | sed -n 1p)
  count=$(printf '%s\n' "$answer" | sed -n 2p)
  if [ -n "$found" ] || [ "$count" -lt "$per_page" ]; then
    break
  fi
  page=$((page + 1))
done

if [ -n "$found" ]; then
  call "$update" "$edit/$found" "$dir/comment.json" > /dev/null
  echo "Updated the plan comment ($found)."
else
  call POST "$list" "$dir/comment.json" > /dev/null
  echo "Posted the plan comment."
fi
exit "$status"
