#!/bin/sh
# azd postdeploy hook (azure.yaml). Runs after `azd up` / `azd deploy`, with the azd environment
# (infra/main.bicep outputs included) exported. Idempotent: safe to run again.
#
# Creates the Event Grid subscriptions on the system topics Bicep made. They cannot be made in Bicep:
# the webhook needs the function's eventgrid_extension system key, which exists only once the deployed
# code has started. Each subscription is filtered to the event types Vigil handles, retries for 24 h
# and dead-letters into Vigil's storage with the Event Grid managed identity.
#
# Needs: az (logged in), python3. Run by hand with: azd env get-values > .env; set -a; . ./.env; set +a
set -eu
set -f # no globbing: lists below are split on spaces only

# Function names (vigil/functions.py, ingest/functions.py); tests/infra/test_infra_postdeploy.py checks them.
RESOURCE_EVENTS_FUNCTION="resource_events"
COST_MANIFEST_FUNCTION="cost_manifest"
FOCUS_EXPORT_FUNCTION="focus_export"
# Event types each function handles; tests/infra/test_infra_postdeploy.py checks them against the code.
RESOURCE_EVENT_TYPES="Microsoft.Resources.ResourceWriteSuccess Microsoft.Resources.ResourceDeleteSuccess Microsoft.Resources.ResourceActionSuccess"
BLOB_EVENT_TYPES="Microsoft.Storage.BlobCreated"
MANIFEST_SUFFIX="manifest.json"
# Other clouds' FOCUS exports land under this prefix of the exports container (vigil/handlers/cost.py FOCUS_PREFIX).
FOCUS_PREFIX="focus/"
# Delivery: up to 30 attempts within 24 hours, then dead-letter.
MAX_DELIVERY_ATTEMPTS=30
EVENT_TTL_MINUTES=1440
EVENTGRID_API_VERSION="2022-06-15"

: "${AZURE_RESOURCE_GROUP:?not set: run through azd, or export the azd environment (azd env get-values)}"
: "${AZURE_FUNCTION_APP_NAME:?not set}"
: "${AZURE_STORAGE_ACCOUNT_ID:?not set}"
: "${VIGIL_EVENTS_IDENTITY_ID:?not set}"
: "${VIGIL_STORAGE_TOPIC_NAME:?not set}"
: "${VIGIL_SUBSCRIPTION_TOPIC_NAME:?not set}"
: "${VIGIL_MONITORED_SUBSCRIPTION_IDS:?not set}"
: "${VIGIL_EVENTS_RESOURCE_GROUPS:?not set}"
: "${VIGIL_EXPORTS_CONTAINER:?not set}"
: "${VIGIL_DEADLETTER_CONTAINER:?not set}"

HOOK="postdeploy"
# shellcheck source=scripts/hooklib.sh
. "$(dirname "$0")/hooklib.sh"

# --- Event Grid subscriptions -----------------------------------------------------------------------
ARM="$(az cloud show --query endpoints.resourceManager --output tsv)"
ARM="${ARM%/}"
# For a Flex Consumption app `az functionapp show` prints the raw ARM resource, where the host name is
# properties.defaultHostName (a top-level defaultHostName, and so `--query defaultHostName`, is empty);
# for other plans it prints the SDK's flattened object. Read whichever is there.
az functionapp show --resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME" --output json \
  >"$WORK/site.json"
site_field() {
  python3 -c '
import json, sys
site = json.load(open(sys.argv[1], encoding="utf-8"))
value = site.get(sys.argv[2]) or (site.get("properties") or {}).get(sys.argv[2]) or ""
sys.stdout.write(str(value))
' "$WORK/site.json" "$1"
}
HOST_NAME="$(site_field defaultHostName)"
SITE_ID="$(site_field id)"
if [ -z "$HOST_NAME" ] || [ -z "$SITE_ID" ]; then
  log "az functionapp show $AZURE_FUNCTION_APP_NAME gave no defaultHostName or id; not creating webhooks to https:///"
  exit 1
fi

eventgrid_key() {
  az functionapp keys list --resource-group "$AZURE_RESOURCE_GROUP" --name "$AZURE_FUNCTION_APP_NAME" \
    --query "systemKeys.eventgrid_extension" --output tsv 2>/dev/null
}

# The host creates the eventgrid_extension key when it first starts with an Event Grid trigger.
have_key() {
  EVENTGRID_KEY="$(eventgrid_key)" && [ -n "$EVENTGRID_KEY" ]
}
log "waiting for the eventgrid_extension system key of $AZURE_FUNCTION_APP_NAME"
if ! retry 30 10 have_key; then
  log "no eventgrid_extension key after 5 minutes: is the app running? (az functionapp show -n $AZURE_FUNCTION_APP_NAME)"
  exit 1
fi

# write_body FILE FUNCTION EVENT_TYPES SUBJECT_BEGINS SUBJECT_ENDS: an eventSubscriptions PUT body.
write_body() {
  python3 -c '
import json, sys, urllib.parse
out, host, function, key, types, begins, ends, ttl, attempts, identity, storage, container = sys.argv[1:]
endpoint = "https://%s/runtime/webhooks/eventgrid?functionName=%s&code=%s" % (
    host, urllib.parse.quote(function, safe=""), urllib.parse.quote(key, safe=""))
body = {
    "properties": {
        "destination": {"endpointType": "WebHook", "properties": {"endpointUrl": endpoint}},
        "eventDeliverySchema": "EventGridSchema",
        "filter": {
            "includedEventTypes": types.split(),
            "subjectBeginsWith": begins,
            "subjectEndsWith": ends,
            "isSubjectCaseSensitive": False,
        },
        "retryPolicy": {"maxDeliveryAttempts": int(attempts), "eventTimeToLiveInMinutes": int(ttl)},
        "deadLetterWithResourceIdentity": {
            "identity": {"type": "UserAssigned", "userAssignedIdentity": identity},
            "deadLetterDestination": {
                "endpointType": "StorageBlob",
                "properties": {"resourceId": storage, "blobContainerName": container},
            },
        },
    }
}
with open(out, "w", encoding="utf-8") as f:
    json.dump(body, f)
' "$1" "$HOST_NAME" "$2" "$EVENTGRID_KEY" "$3" "$4" "$5" "$EVENT_TTL_MINUTES" "$MAX_DELIVERY_ATTEMPTS" \
    "$VIGIL_EVENTS_IDENTITY_ID" "$AZURE_STORAGE_ACCOUNT_ID" "$VIGIL_DEADLETTER_CONTAINER"
}

# put_subscription SUBSCRIPTION_ID RESOURCE_GROUP TOPIC NAME BODY_FILE
put_subscription() {
  uri="$ARM/subscriptions/$1/resourceGroups/$2/providers/Microsoft.EventGrid/systemTopics/$3/eventSubscriptions/$4?api-version=$EVENTGRID_API_VERSION"
  log "event subscription $4 on $3 (subscription $1)"
  # Event Grid validates the webhook while creating the subscription; a cold Flex instance can miss
  # the first handshake, so retry.
  retry 5 20 az rest --method put --uri "$uri" --body "@$5" --output none
}

write_body "$WORK/resource-events.json" "$RESOURCE_EVENTS_FUNCTION" "$RESOURCE_EVENT_TYPES" "" ""
subscriptions="$(printf '%s' "$VIGIL_MONITORED_SUBSCRIPTION_IDS" | tr ',' ' ')"
position=1
for subscription_id in $subscriptions; do
  # The n-th resource group (a Bicep output) holds the n-th subscription's system topic.
  group="$(printf '%s' "$VIGIL_EVENTS_RESOURCE_GROUPS" | cut -d, -f"$position")"
  position=$((position + 1))
  put_subscription "$subscription_id" "$group" "$VIGIL_SUBSCRIPTION_TOPIC_NAME" "vigil-resource-events" \
    "$WORK/resource-events.json"
done

HOME_SUBSCRIPTION="$(printf '%s' "$AZURE_STORAGE_ACCOUNT_ID" | cut -d/ -f3)"
write_body "$WORK/cost-manifest.json" "$COST_MANIFEST_FUNCTION" "$BLOB_EVENT_TYPES" \
  "/blobServices/default/containers/$VIGIL_EXPORTS_CONTAINER/blobs/" "$MANIFEST_SUFFIX"
put_subscription "$HOME_SUBSCRIPTION" "$AZURE_RESOURCE_GROUP" "$VIGIL_STORAGE_TOPIC_NAME" "vigil-cost-manifest" \
  "$WORK/cost-manifest.json"
write_body "$WORK/focus-export.json" "$FOCUS_EXPORT_FUNCTION" "$BLOB_EVENT_TYPES" \
  "/blobServices/default/containers/$VIGIL_EXPORTS_CONTAINER/blobs/$FOCUS_PREFIX" ""
put_subscription "$HOME_SUBSCRIPTION" "$AZURE_RESOURCE_GROUP" "$VIGIL_STORAGE_TOPIC_NAME" "vigil-focus-export" \
  "$WORK/focus-export.json"

# --- Card action links --------------------------------------------------------------------------------
# Card buttons open /api/alerts/action, which needs a function key (function-level auth) besides the
# link's own HMAC signature. A named key of the card_action function goes to Key Vault, where the
# VIGIL_ACTION_KEY app setting reads it through a Key Vault reference.
ACTION_KEY_SECRET="vigil-action-key"
if ! az keyvault secret show --vault-name "$AZURE_KEY_VAULT_NAME" --name "$ACTION_KEY_SECRET" --query id \
  --output none 2>/dev/null; then
  log "creating the card_action function key and Key Vault secret $ACTION_KEY_SECRET"
  # `--output tsv` ends the value with a newline, and `secret set --file` would store it (the key would
  # become "key\n", sent as code=...%0A): the command substitution drops it, write_secret_file the rest.
  action_key="$(az functionapp function keys set --resource-group "$AZURE_RESOURCE_GROUP" \
    --name "$AZURE_FUNCTION_APP_NAME" --function-name card_action --key-name vigil-card-links \
    --query value --output tsv)"
  write_secret_file "$WORK/action-key" "$action_key"
  retry 10 30 az keyvault secret set --vault-name "$AZURE_KEY_VAULT_NAME" --name "$ACTION_KEY_SECRET" \
    --file "$WORK/action-key" --output none
  # The app resolved VIGIL_ACTION_KEY when it started, before this secret existed, and App Service caches
  # Key Vault references for 24 hours: refresh them now, or card buttons fail until then.
  refresh_key_vault_references "$ARM" "$SITE_ID"
fi

log "done"
