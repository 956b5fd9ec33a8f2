# shellcheck shell=sh
# Shared by the azd hooks (scripts/postprovision.sh, scripts/postdeploy.sh). POSIX sh; sourced, not run.
# Callers set HOOK to their name before sourcing.

HOOK="${HOOK:-hook}"
# shellcheck disable=SC2034 # used by the hooks that source this file
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT INT TERM
umask 077

log() {
  printf 'vigil %s: %s\n' "$HOOK" "$*" >&2
}

# retry ATTEMPTS DELAY_SECONDS COMMAND...: runs COMMAND until it succeeds.
# POSIX sh has no local variables: the retry_ prefix keeps callers' variables intact.
retry() {
  retry_attempts="$1"
  retry_delay="$2"
  shift 2
  retry_n=1
  until "$@"; do
    if [ "$retry_n" -ge "$retry_attempts" ]; then
      return 1
    fi
    log "attempt $retry_n failed; retrying in ${retry_delay}s"
    sleep "$retry_delay"
    retry_n=$((retry_n + 1))
  done
}
