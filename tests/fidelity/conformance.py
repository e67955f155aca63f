#!/usr/bin/env python3
"""Runs tests/fidelity/scenario.json against a running sheets-emulator with Google's own Python
client (google-api-python-client, static discovery, service-account credentials whose token_uri
is the emulator). Prints one line per step and a closing 'N passed, M failed' line.

usage: conformance.py --base-url http://127.0.0.1:PORT/ --scenario scenario.json --workdir DIR
                      [--log-out responses.json]
"""
import argparse
import json
import os
import stat
import sys
import urllib.request

from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

SCOPES = ["https://www.googleapis.com/auth/spreadsheets"]


def control(base, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base.rstrip("/") + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"{}")


def numbers_equal(a, b):
    return (isinstance(a, (int, float)) and isinstance(b, (int, float))
            and not isinstance(a, bool) and not isinstance(b, bool) and float(a) == float(b))


def match(expected, actual, exact, path="$"):
    """Returns a list of differences (empty = match)."""
    if numbers_equal(expected, actual):
        return []
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected object, got {actual!r}"]
        diffs = []
        for k, v in expected.items():
            if k not in actual:
                diffs.append(f"{path}.{k}: missing")
            else:
                diffs += match(v, actual[k], exact, f"{path}.{k}")
        if exact:
            for k in actual:
                if k not in expected:
                    diffs.append(f"{path}.{k}: unexpected ({actual[k]!r})")
        return diffs
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected {expected!r}, got {actual!r}"]
        diffs = []
        for i, (e, a) in enumerate(zip(expected, actual)):
            diffs += match(e, a, exact, f"{path}[{i}]")
        return diffs
    if type(expected) is not type(actual) or expected != actual:
        return [f"{path}: expected {expected!r}, got {actual!r}"]
    return []


def resource_method(svc, call):
    parts = call.split(".")
    assert parts[0] == "spreadsheets", call
    res = svc.spreadsheets()
    for p in parts[1:-1]:
        res = getattr(res, p)()
    return getattr(res, parts[-1])


def run_step(svc, step):
    """Returns ('status', body) or ('transport', error text)."""
    params = dict(step.get("params", {}))
    if "body" in step:
        params["body"] = step["body"]
    try:
        body = resource_method(svc, step["call"])(**params).execute(num_retries=0)
        return 200, body
    except HttpError as e:
        try:
            return e.resp.status, json.loads(e.content)
        except ValueError:
            return e.resp.status, {"raw": e.content.decode(errors="replace")}
    except (ConnectionError, OSError) as e:
        return "transport", repr(e)
    except Exception as e:  # httplib2 raises its own types for dropped sockets
        if type(e).__module__.startswith(("httplib2", "http.client")):
            return "transport", repr(e)
        raise


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--log-out")
    args = ap.parse_args()
    base = args.base_url if args.base_url.endswith("/") else args.base_url + "/"
    scenario = json.load(open(args.scenario))

    control(base, "POST", "/__control/reset")
    os.makedirs(args.workdir, exist_ok=True)
    key_path = os.path.join(args.workdir, "python-sa.json")
    control(base, "POST", "/__control/service-accounts/generate",
            {"clientEmail": scenario["clientEmail"], "path": os.path.abspath(key_path)})
    mode = stat.S_IMODE(os.stat(key_path).st_mode)
    assert mode == 0o600, f"key file mode {oct(mode)}, expected 0o600"
    for seed in scenario["seeds"]:
        control(base, "POST", "/__control/spreadsheets", seed)

    creds = service_account.Credentials.from_service_account_file(key_path, scopes=SCOPES)
    svc = build("sheets", "v4", credentials=creds, static_discovery=True,
                client_options={"api_endpoint": base}, num_retries=0)

    passed = failed = 0
    for step in scenario["steps"]:
        name = step["name"]
        if "control" in step:
            c = step["control"]
            control(base, c["method"], c["path"], c.get("body"))
            continue
        exp = step["expect"]
        status, body = run_step(svc, step)
        diffs = []
        if exp.get("transportError"):
            if status != "transport":
                diffs.append(f"expected a transport error, got HTTP {status}: {body!r}")
        else:
            if status != exp["status"]:
                diffs.append(f"HTTP {status}, expected {exp['status']}: {json.dumps(body)[:400]}")
            else:
                diffs += match(exp.get("body", {}), body, exp.get("exact", False))
                for k in exp.get("absent", []):
                    if k in body:
                        diffs.append(f"$.{k}: must be absent, got {body[k]!r}")
        if diffs:
            failed += 1
            print(f"FAIL  {name}")
            for d in diffs:
                print(f"        {d}")
        else:
            passed += 1
            print(f"ok    {name}")

    # Client-specific behaviour (not in the shared scenario, since clients differ here):
    # google-auth refreshes its token when the API answers 401 and the call then succeeds.
    before = control(base, "GET", "/__control/counts")["counts"].get("oauth2.token", 0)
    control(base, "POST", "/__control/tokens/expire")
    status, body = run_step(svc, {"call": "spreadsheets.values.get",
                                  "params": {"spreadsheetId": "conformance-book", "range": "Operaciones!A1"}})
    after = control(base, "GET", "/__control/counts")["counts"].get("oauth2.token", 0)
    name = "google-auth refreshes an expired token after a 401 and the call succeeds"
    if status == 200 and body.get("values") == [["TAG"]] and after == before + 1:
        passed += 1
        print(f"ok    {name}")
    else:
        failed += 1
        print(f"FAIL  {name}\n        HTTP {status}, token requests {before} -> {after}: {body!r}")

    counts = control(base, "GET", "/__control/counts")
    print(f"requests per method: {json.dumps(counts['counts'], sort_keys=True)}")
    if args.log_out:
        log = control(base, "GET", "/__control/log")
        with open(args.log_out, "w") as f:
            json.dump(log, f)
        print(f"{len(log)} responses recorded in {args.log_out}")
    print(f"googleapiclient: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
