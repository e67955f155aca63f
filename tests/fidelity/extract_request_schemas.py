#!/usr/bin/env python3
"""Extracts, from Google's Sheets v4 discovery document (the copy inside google-api-python-client),
the JSON schemas of the request bodies the emulator accepts, into
tests/fidelity/request-schemas.json, which the emulator embeds to reject unknown fields and wrong
types the way Google does. Request kinds the emulator does not implement keep their name but no
schema (the emulator answers them with its own 'not implemented' error).

usage: extract_request_schemas.py [--check]   (--check: fail if the committed file is stale)
"""
import json
import os
import sys

import googleapiclient

DISCOVERY = os.path.join(os.path.dirname(googleapiclient.__file__),
                         "discovery_cache", "documents", "sheets.v4.json")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "request-schemas.json")
ROOTS = ["ValueRange", "BatchUpdateValuesRequest", "ClearValuesRequest",
         "BatchClearValuesRequest", "BatchUpdateSpreadsheetRequest"]
SUPPORTED = {"updateCells", "appendCells", "appendDimension", "insertDimension",
             "deleteDimension", "addSheet", "deleteSheet", "updateSheetProperties"}
KEEP = ("type", "format", "enum", "$ref", "items", "properties", "additionalProperties")


def slim(schema):
    out = {}
    for k in KEEP:
        if k not in schema:
            continue
        v = schema[k]
        if k in ("items", "additionalProperties"):
            v = slim(v)
        elif k == "properties":
            v = {name: slim(p) for name, p in v.items()}
        out[k] = v
    return out


def refs(schema):
    if "$ref" in schema:
        yield schema["$ref"]
    for k in ("items", "additionalProperties"):
        if k in schema:
            yield from refs(schema[k])
    for p in schema.get("properties", {}).values():
        yield from refs(p)


def build():
    doc = json.load(open(DISCOVERY))
    out = {}
    todo = list(ROOTS)
    while todo:
        name = todo.pop()
        if name in out:
            continue
        s = slim(doc["schemas"][name])
        if name == "Request":
            s["properties"] = {k: (v if k in SUPPORTED else {"type": "any"})
                               for k, v in s["properties"].items()}
        out[name] = s
        todo.extend(refs(s))
    return {"revision": doc["revision"], "schemas": dict(sorted(out.items()))}


def main(argv):
    text = json.dumps(build(), sort_keys=True, separators=(",", ":")) + "\n"
    if "--check" in argv:
        current = open(OUT).read() if os.path.exists(OUT) else ""
        if current != text:
            print(f"{OUT} is stale: run tests/fidelity/extract_request_schemas.py")
            return 1
        print(f"request schemas up to date ({len(text)} bytes)")
        return 0
    open(OUT, "w").write(text)
    print(f"wrote {OUT} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
