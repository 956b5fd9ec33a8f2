# shellcheck shell=sh
# Shared by the azd hooks (scripts/preprovision.sh, postprovision.sh, postdeploy.sh). POSIX sh; sourced, not run.
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

# write_secret_file FILE VALUE: VALUE as FILE's exact bytes (no trailing newline or carriage return), for
# `az keyvault secret set --file`, which stores a file's content as it is.
write_secret_file() {
  if [ -z "$2" ]; then
    log "refusing to store an empty secret ($1)"
    return 1
  fi
  printf '%s' "$2" | tr -d '\r\n' >"$1"
}

# refresh_key_vault_references ARM_ENDPOINT SITE_ID: makes App Service fetch the app's Key Vault references
# again now instead of at its 24-hour refresh. Documented in "Understand rotation",
# https://learn.microsoft.com/azure/app-service/app-service-key-vault-references#understand-rotation
KEY_VAULT_REFERENCES_API_VERSION="2022-03-01"
refresh_key_vault_references() {
  log "refreshing the Key Vault references of ${2##*/}"
  retry 5 20 az rest --method post --output none \
    --uri "$1$2/config/configreferences/appsettings/refresh?api-version=$KEY_VAULT_REFERENCES_API_VERSION"
}
