#!/bin/sh
# azd preprovision hook (azure.yaml). Runs before `azd provision` (and the provision step of `azd up`),
# with the azd environment exported: what infra/main.bicep needs but cannot do or check itself.
# Idempotent: safe to run again.
#
#  1. Cost exports write into Vigil's storage account only once its subscription is registered with
#     the Microsoft.CostManagementExports resource provider ("This is required once per subscription.
#     When creating an export in the Azure portal, it is done automatically. However, API users need to
#     register the subscription": ExportDeliveryDestination in the Microsoft.CostManagement/exports
#     API, ../shared/bicep-types/microsoft.costmanagement/2025-03-01/types.md). ARM registers the
#     providers of the resource types a template deploys, but this one is not among them.
#  2. A subscription can have only one Microsoft.Resources.Subscriptions system topic. When a monitored
#     subscription already has one that is not Vigil's, provisioning would fail on it: stop here and say
#     which topic it is and what to do.
#
# Needs: az (logged in), python3. Run by hand with: azd env get-values > .env; set -a; . ./.env; set +a
set -eu
set -f # no globbing: lists below are split on spaces only

: "${AZURE_SUBSCRIPTION_ID:?not set: run through azd, or export the azd environment (azd env get-values)}"
: "${AZURE_ENV_NAME:?not set}"
VIGIL_MONITORED_SUBSCRIPTIONS="${VIGIL_MONITORED_SUBSCRIPTIONS:-}"
VIGIL_COST_EXPORT_ENABLED="${VIGIL_COST_EXPORT_ENABLED:-true}"

HOOK="preprovision"
# shellcheck source=scripts/hooklib.sh
. "$(dirname "$0")/hooklib.sh"

EXPORTS_PROVIDER="Microsoft.CostManagementExports"
EVENTGRID_API_VERSION="2022-06-15"

# --- 1. resource provider registration ------------------------------------------------------------
if [ "$VIGIL_COST_EXPORT_ENABLED" != "false" ]; then
  state="$(az provider show --namespace "$EXPORTS_PROVIDER" --subscription "$AZURE_SUBSCRIPTION_ID" \
    --query registrationState --output tsv)"
  if [ "$state" != "Registered" ]; then
    log "registering $EXPORTS_PROVIDER in subscription $AZURE_SUBSCRIPTION_ID (cost exports write into Vigil's storage there)"
    az provider register --namespace "$EXPORTS_PROVIDER" --subscription "$AZURE_SUBSCRIPTION_ID" --wait --output none
  fi
fi

# --- 2. one subscription system topic per subscription ---------------------------------------------
ARM="$(az cloud show --query endpoints.resourceManager --output tsv)"
ARM="${ARM%/}"
subscriptions="$(printf '%s' "${VIGIL_MONITORED_SUBSCRIPTIONS:-$AZURE_SUBSCRIPTION_ID}" | tr ',;' '  ')"
foreign=""
for subscription_id in $subscriptions; do
  az rest --method get --output json \
    --uri "$ARM/subscriptions/$subscription_id/providers/Microsoft.EventGrid/systemTopics?api-version=$EVENTGRID_API_VERSION" \
    >"$WORK/topics.json"
  # Vigil's own topic carries the azd-env-name tag of this environment (a re-run finds it: that is fine).
  # The first page holds up to 100 topics; a subscription with more is not expected.
  found="$(python3 -c '
import json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))
for topic in doc.get("value", []):
    properties = topic.get("properties") or {}
    tags = topic.get("tags") or {}
    if str(properties.get("topicType", "")).lower() == "microsoft.resources.subscriptions" \
            and tags.get("azd-env-name") != sys.argv[2]:
        sys.stdout.write(topic["id"] + " ")
' "$WORK/topics.json" "$AZURE_ENV_NAME")"
  foreign="$foreign$found"
done
if [ -n "$foreign" ]; then
  for topic_id in $foreign; do
    log "subscription $(printf '%s' "$topic_id" | cut -d/ -f3) already has an Azure subscription system topic: $topic_id"
  done
  log "Azure allows one per subscription, so Vigil cannot create its own there. Either delete that topic, or"
  log "leave the subscription out of VIGIL_MONITORED_SUBSCRIPTIONS and add Vigil's event subscription to the"
  log "existing topic by hand (docs/deployment.md, 'An existing subscription system topic')."
  exit 1
fi

log "done"
