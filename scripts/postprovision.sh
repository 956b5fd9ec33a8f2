#!/bin/sh
# azd postprovision hook (azure.yaml). Runs after `azd provision` (and the provision step of `azd up`),
# before any code is deployed, with the azd environment (infra/main.bicep outputs included) exported.
# Idempotent: safe to run again.
#
#  1. Management-group mode (VIGIL_MANAGEMENT_GROUP_ID set): azd deploys only subscription-scope
#     templates, so this deploys infra/scopes/management-group.bicep, which assigns the read roles (and,
#     when enabled, the remediation role) at the management group.
#  2. Key Vault: creates the link-signing key if it does not exist yet, before the code first starts and
#     resolves its Key Vault reference (and refreshes the app's references), and names every other secret
#     app setting that is still unset.
#  3. Sign-in (VIGIL_AUTH_CLIENT_ID set): adds the Function App's Easy Auth callback
#     (https://<host>/.auth/login/aad/callback) to the Entra ID app registration's redirect URIs, keeping
#     the ones already there. The registration itself (with infra/app-roles.json) is a one-time step before
#     `azd up` (docs/deployment.md, "Sign-in"); without the directory rights to update it, this prints the
#     command to run and goes on.
#
# Needs: az (logged in), python3. Run by hand with: azd env get-values > .env; set -a; . ./.env; set +a
set -eu

: "${AZURE_KEY_VAULT_NAME:?not set: run through azd, or export the azd environment (azd env get-values)}"
: "${AZURE_LOCATION:?not set}"
: "${AZURE_ENV_NAME:?not set}"
: "${VIGIL_APP_PRINCIPAL_ID:?not set}"
: "${AZURE_RESOURCE_GROUP:?not set}"
: "${AZURE_FUNCTION_APP_NAME:?not set}"
VIGIL_MANAGEMENT_GROUP_ID="${VIGIL_MANAGEMENT_GROUP_ID:-}"
VIGIL_REMEDIATION_ENABLED="${VIGIL_REMEDIATION_ENABLED:-false}"
VIGIL_AUTH_CLIENT_ID="${VIGIL_AUTH_CLIENT_ID:-}"

HOOK="postprovision"
# shellcheck source=scripts/hooklib.sh
. "$(dirname "$0")/hooklib.sh"

# --- 1. management-group role assignments ---------------------------------------------------------
if [ -n "$VIGIL_MANAGEMENT_GROUP_ID" ]; then
  log "assigning roles at management group $VIGIL_MANAGEMENT_GROUP_ID"
  az deployment mg create \
    --name "vigil-${AZURE_ENV_NAME}-roles" \
    --management-group-id "$VIGIL_MANAGEMENT_GROUP_ID" \
    --location "$AZURE_LOCATION" \
    --template-file "$ROOT/infra/scopes/management-group.bicep" \
    --parameters appPrincipalId="$VIGIL_APP_PRINCIPAL_ID" \
    environmentName="$AZURE_ENV_NAME" \
    remediationEnabled="$VIGIL_REMEDIATION_ENABLED" \
    --output none
fi

# --- 2. Key Vault secrets ---------------------------------------------------------------------------
secret_exists() {
  az keyvault secret show --vault-name "$AZURE_KEY_VAULT_NAME" --name "$1" --query id --output none 2>/dev/null
}

created_secret=false
python3 -c '
import json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))
for s in doc["settings"]:
    if s["secret"]:
        print(s["secretName"], s["name"])
' "$ROOT/infra/app-settings.json" >"$WORK/secrets.txt"

while read -r secret_name setting_name; do
  if secret_exists "$secret_name"; then
    continue
  fi
  if [ "$setting_name" = "VIGIL_SIGNING_KEY" ]; then
    log "creating Key Vault secret $secret_name (random link-signing key)"
    # `secret set --file` stores the file as it is: no trailing newline.
    python3 -c 'import secrets, sys; sys.stdout.write(secrets.token_urlsafe(48))' >"$WORK/signing-key"
    # The operator's Key Vault Secrets Officer assignment can take a few minutes to propagate.
    retry 10 30 az keyvault secret set --vault-name "$AZURE_KEY_VAULT_NAME" --name "$secret_name" \
      --file "$WORK/signing-key" --output none
    created_secret=true
  else
    log "Key Vault secret $secret_name ($setting_name) is not set: az keyvault secret set --vault-name $AZURE_KEY_VAULT_NAME --name $secret_name --value <value>"
  fi
done <"$WORK/secrets.txt"

# The Function App (created by provision) may already have tried its Key Vault references, and App Service
# caches them for 24 hours: refresh them once a secret has been created.
if [ "$created_secret" = true ]; then
  ARM="$(az cloud show --query endpoints.resourceManager --output tsv)"
  SITE_ID="$(az functionapp show --resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME" \
    --query id --output tsv)"
  refresh_key_vault_references "${ARM%/}" "$SITE_ID"
fi

# --- 3. sign-in redirect URI on the app registration --------------------------------------------------
if [ -z "$VIGIL_AUTH_CLIENT_ID" ]; then
  log "VIGIL_AUTH_CLIENT_ID is not set: App Service Authentication is off, the console answers 503 and approvals are refused (docs/deployment.md, Sign-in)"
else
  HOST="$(az functionapp show --resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME" \
    --query properties.defaultHostName --output tsv)"
  CALLBACK="https://${HOST}/.auth/login/aad/callback"
  if az ad app show --id "$VIGIL_AUTH_CLIENT_ID" --query web.redirectUris --output json >"$WORK/redirects.json"; then
    # The URIs to set: the registered ones plus the callback, or nothing when it is already there.
    python3 -c '
import json, sys
uris = json.load(open(sys.argv[1], encoding="utf-8")) or []
if sys.argv[2] not in uris:
    print("\n".join(uris + [sys.argv[2]]))
' "$WORK/redirects.json" "$CALLBACK" >"$WORK/redirects.txt"
    if [ -s "$WORK/redirects.txt" ]; then
      log "adding the sign-in redirect URI $CALLBACK to app registration $VIGIL_AUTH_CLIENT_ID"
      # shellcheck disable=SC2046 # one argument per line; redirect URIs contain no spaces
      if ! az ad app update --id "$VIGIL_AUTH_CLIENT_ID" --web-redirect-uris $(cat "$WORK/redirects.txt") --output none; then
        log "could not update the app registration (directory rights?): add the redirect URI $CALLBACK by hand"
      fi
    fi
  else
    log "cannot read app registration $VIGIL_AUTH_CLIENT_ID: check VIGIL_AUTH_CLIENT_ID, then add the redirect URI $CALLBACK by hand"
  fi
fi

log "done"
