"""The floor of a plan (DESIGN section 5), as a whole process: the work no implementation
can skip. Parse the YAML with PyYAML's C loader, validate it against the JSON Schema,
fetch the actual list page by page. Nothing else.

    python bench/plan_floor.py CONFIG API_URL TOKEN
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import jsonschema
import yaml

REPO = Path(__file__).resolve().parent.parent


def main(config: str, api_url: str, token: str) -> None:
    with open(config, "rb") as fh:
        doc = yaml.load(fh, Loader=yaml.CSafeLoader)
    schema = json.loads((REPO / "schemas" / "webhooks.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(doc)
    rows = 0
    cursor = None
    with httpx.Client(base_url=api_url, headers={"Authorization": f"Bearer {token}"},
                      timeout=30) as client:
        while True:
            params: dict[str, str | int] = {"limit": 1000}
            if cursor:
                params["cursor"] = cursor
            page = client.get("/v1/webhooks", params=params).json()
            rows += len(page["data"])
            cursor = page.get("next_cursor")
            if not cursor:
                break
    assert rows >= len(doc["webhooks"]), (rows, len(doc["webhooks"]))


if __name__ == "__main__":
    main(*sys.argv[1:4])
