#!/usr/bin/env python3
"""Validates recorded emulator responses against the JSON schemas of Google's discovery document
for Sheets v4 (the copy shipped inside google-api-python-client). Every 2xx body must match the
method's `response.$ref` schema; every error body must be Google's error envelope. Properties a
schema does not declare are failures, as are wrong types and values outside an enum.

usage: validate_schemas.py LOG.json [LOG.json...]   (logs from GET /__control/log)
"""
import json
import os
import sys

import googleapiclient

DISCOVERY = os.path.join(os.path.dirname(googleapiclient.__file__),
                         "discovery_cache", "documents", "sheets.v4.json")

# google.rpc.Status as the JSON error envelope (not in the discovery document).
RPC_CODES = ["OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
             "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
             "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
             "UNAUTHENTICATED"]
ERROR_SCHEMAS = {
    "ErrorEnvelope": {"type": "object", "properties": {"error": {"$ref": "Status"}}},
    "Status": {"type": "object", "properties": {
        "code": {"type": "integer", "format": "int32"},
        "message": {"type": "string"},
        "status": {"type": "string", "enum": RPC_CODES},
        "details": {"type": "array", "items": {"type": "object",
                                                "additionalProperties": {"type": "any"}}},
    }},
}


class Validator:
    def __init__(self, doc):
        self.schemas = dict(doc["schemas"])
        self.schemas.update(ERROR_SCHEMAS)
        self.methods = {}
        self._collect(doc["resources"])

    def _collect(self, resources):
        for r in resources.values():
            for m in r.get("methods", {}).values():
                self.methods[m["id"]] = m
            self._collect(r.get("resources", {}))

    def check(self, schema, value, path, errors):
        if "$ref" in schema:
            return self.check(self.schemas[schema["$ref"]], value, path, errors)
        t = schema.get("type", "any")
        if t == "any":
            return
        if t == "object":
            if not isinstance(value, dict):
                errors.append(f"{path}: expected object, got {type(value).__name__}")
                return
            props = schema.get("properties", {})
            extra = schema.get("additionalProperties")
            for k, v in value.items():
                if k in props:
                    self.check(props[k], v, f"{path}.{k}", errors)
                elif extra is not None:
                    self.check(extra, v, f"{path}.{k}", errors)
                else:
                    errors.append(f"{path}.{k}: not declared by the schema")
            if "required" in schema:
                for k in schema["required"]:
                    if k not in value:
                        errors.append(f"{path}.{k}: required")
        elif t == "array":
            if not isinstance(value, list):
                errors.append(f"{path}: expected array, got {type(value).__name__}")
                return
            for i, item in enumerate(value):
                self.check(schema.get("items", {}), item, f"{path}[{i}]", errors)
        elif t == "string":
            fmt = schema.get("format")
            if fmt in ("int64", "uint64") and isinstance(value, str):
                pass
            elif not isinstance(value, str):
                errors.append(f"{path}: expected string, got {value!r}")
                return
            if "enum" in schema and value not in schema["enum"]:
                errors.append(f"{path}: {value!r} not in enum")
        elif t == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                errors.append(f"{path}: expected integer, got {value!r}")
            elif schema.get("format") == "int32" and not -2**31 <= value < 2**31:
                errors.append(f"{path}: {value} out of int32 range")
        elif t == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                errors.append(f"{path}: expected number, got {value!r}")
        elif t == "boolean":
            if not isinstance(value, bool):
                errors.append(f"{path}: expected boolean, got {value!r}")
        else:
            errors.append(f"{path}: unknown schema type {t}")

    def validate(self, entry):
        method, status, body = entry["method"], entry["status"], entry["body"]
        errors = []
        if 200 <= status < 300:
            ref = self.methods["sheets." + method]["response"]["$ref"]
            self.check({"$ref": ref}, body, ref, errors)
        else:
            ref = "ErrorEnvelope"
            self.check({"$ref": ref}, body, ref, errors)
            err = body.get("error", {}) if isinstance(body, dict) else {}
            if err.get("code") != status:
                errors.append(f"error.code {err.get('code')} != HTTP status {status}")
            for k in ("code", "message", "status"):
                if k not in err:
                    errors.append(f"error.{k}: missing")
        return ref, errors


def main(paths):
    doc = json.load(open(DISCOVERY))
    v = Validator(doc)
    print(f"discovery document {doc['revision']} ({DISCOVERY})")
    passed = failed = 0
    for p in paths:
        for i, entry in enumerate(json.load(open(p))):
            ref, errors = v.validate(entry)
            if errors:
                failed += 1
                print(f"FAIL  {os.path.basename(p)}#{i} {entry['method']} {entry['status']} as {ref}")
                for e in errors[:20]:
                    print(f"        {e}")
            else:
                passed += 1
    print(f"schemas: {passed} passed, {failed} failed")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
