#!/usr/bin/env python3
"""A stand-in for the `az` CLI used by tests/infra/test_infra_postdeploy.py.

Records every call (argv, plus the JSON body of `az rest --body @file` and the exact content of
`az keyvault secret set --file`) as one JSON line in $FAKE_AZ_LOG and prints what the real CLI prints
for a Flex Consumption app:

- `functionapp show` prints the raw ARM resource (the Flex code path of the CLI does not flatten it),
  so the host name is properties.defaultHostName and `--query defaultHostName` prints an empty line;
- `--output tsv` values end with a newline, as the CLI prints them.

$FAKE_AZ_SITE (JSON) replaces the site, $FAKE_AZ_SYSTEM_TOPICS (JSON list) are the system topics every
subscription lists, $FAKE_AZ_PROVIDER_STATE is the registration state `provider show` reports,
$FAKE_AZ_APP_ID the one app registration `ad app show` knows and $FAKE_AZ_REDIRECT_URIS (JSON list)
its redirect URIs.
"""

import json
import os
import sys

RG_ID = "/subscriptions/00000000-0000-0000-0000-00000000000a/resourceGroups/rg-test"
SITE_ID = f"{RG_ID}/providers/Microsoft.Web/sites/func-vigil-test"
# Trimmed from `az functionapp show` on a Flex Consumption app (raw ARM JSON).
FLEX_SITE = {
    "id": SITE_ID,
    "name": "func-vigil-test",
    "type": "Microsoft.Web/sites",
    "kind": "functionapp,linux",
    "location": "Sweden Central",
    "properties": {
        "state": "Running",
        "defaultHostName": "func-vigil-test.azurewebsites.net",
        "hostNames": ["func-vigil-test.azurewebsites.net"],
        "sku": "FlexConsumption",
        "functionAppConfig": {"runtime": {"name": "python", "version": "3.11"}},
    },
}


def _option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def _query(document: object, query: str) -> object:
    """The dotted-path subset of JMESPath the hooks use (`a.b.c`)."""
    for part in query.split("."):
        document = document.get(part) if isinstance(document, dict) else None
    return document


def _print(value: object, args: list[str]) -> None:
    query = _option(args, "--query")
    if query is not None:
        value = _query(value, query)
    if _option(args, "--output") == "tsv":
        print("" if value is None else value)  # one value per line, newline-terminated, as the CLI does
    elif _option(args, "--output") != "none":
        print(json.dumps(value))


def main() -> int:
    args = sys.argv[1:]
    record: dict[str, object] = {"args": args}
    body = _option(args, "--body")
    if args[:1] == ["rest"] and body is not None:
        with open(body.removeprefix("@"), encoding="utf-8") as f:
            record["body"] = json.load(f)
    if args[:3] == ["keyvault", "secret", "set"] and "--file" in args:
        with open(str(_option(args, "--file")), "rb") as f:
            record["secret"] = f.read().decode("utf-8")  # exactly what Key Vault would store
    with open(os.environ["FAKE_AZ_LOG"], "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")

    uri = _option(args, "--uri") or ""
    if args[:2] == ["cloud", "show"]:
        _print({"endpoints": {"resourceManager": "https://management.azure.com/"}}, args)
    elif args[:2] == ["functionapp", "show"]:
        _print(json.loads(os.environ.get("FAKE_AZ_SITE") or json.dumps(FLEX_SITE)), args)
    elif args[:3] == ["functionapp", "keys", "list"]:
        _print({"systemKeys": {"eventgrid_extension": os.environ["FAKE_AZ_EVENTGRID_KEY"]}}, args)
    elif args[:4] == ["functionapp", "function", "keys", "set"]:
        _print({"name": "vigil-card-links", "value": os.environ.get("FAKE_AZ_FUNCTION_KEY", "card-action-key")}, args)
    elif args[:3] == ["keyvault", "secret", "show"]:
        name = _option(args, "--name")
        if name not in os.environ.get("FAKE_AZ_EXISTING_SECRETS", "").split():
            print(f"ERROR: (SecretNotFound) A secret with (name/id) {name} was not found", file=sys.stderr)
            return 3
    elif args[:3] == ["ad", "app", "show"]:
        if _option(args, "--id") != os.environ.get("FAKE_AZ_APP_ID"):
            print(f"ERROR: Resource '{_option(args, '--id')}' does not exist", file=sys.stderr)
            return 3
        _print({"web": {"redirectUris": json.loads(os.environ.get("FAKE_AZ_REDIRECT_URIS", "[]"))}}, args)
    elif args[:2] == ["provider", "show"]:
        _print({"registrationState": os.environ.get("FAKE_AZ_PROVIDER_STATE", "NotRegistered")}, args)
    elif args[:1] == ["rest"] and "/providers/Microsoft.EventGrid/systemTopics?" in uri:
        _print({"value": json.loads(os.environ.get("FAKE_AZ_SYSTEM_TOPICS", "[]"))}, args)
    elif args[:1] == ["rest"] and uri.endswith("/config/configreferences/appsettings/refresh?api-version=2022-03-01"):
        _print({"value": []}, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
