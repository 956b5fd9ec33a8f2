#!/usr/bin/env python3
"""A stand-in for the `az` CLI used by tests/infra/test_infra_postdeploy.py.

Records every call (argv, plus the JSON body of `az rest --body @file` and the value of
`az keyvault secret set --file`) as one JSON line in $FAKE_AZ_LOG and prints canned answers.
"""

import json
import os
import sys


def main() -> int:
    args = sys.argv[1:]
    record: dict[str, object] = {"args": args}
    if args[:1] == ["rest"] and "--body" in args:
        body = args[args.index("--body") + 1]
        with open(body.removeprefix("@"), encoding="utf-8") as f:
            record["body"] = json.load(f)
    if args[:3] == ["keyvault", "secret", "set"] and "--file" in args:
        with open(args[args.index("--file") + 1], encoding="utf-8") as f:
            record["secret"] = f.read().strip()
    with open(os.environ["FAKE_AZ_LOG"], "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")

    if args[:2] == ["cloud", "show"]:
        print("https://management.azure.com/")
    elif args[:2] == ["functionapp", "show"]:
        print("func-vigil-test.azurewebsites.net")
    elif args[:3] == ["functionapp", "keys", "list"]:
        print(os.environ["FAKE_AZ_EVENTGRID_KEY"])
    elif args[:4] == ["functionapp", "function", "keys", "set"]:
        print(os.environ.get("FAKE_AZ_FUNCTION_KEY", "card-action-key"))
    elif args[:3] == ["keyvault", "secret", "show"]:
        name = args[args.index("--name") + 1]
        if name not in os.environ.get("FAKE_AZ_EXISTING_SECRETS", "").split():
            print(f"ERROR: (SecretNotFound) A secret with (name/id) {name} was not found", file=sys.stderr)
            return 3
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
