"""Translate template.yaml (SAM) into plain CloudFormation, offline, for cfn-lint.

cfn-lint skips circular-dependency checks on SAM resources; on the translated template
it runs them (E3004), so the bucket notification -> function -> policy cycle shows up.
Run with the SAM CLI environment's Python: ``.venv-sam/bin/python scripts/translate_template.py``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from cfnlint.decode import decode
from samtranslator.translator.transform import transform


class OfflinePolicyLoader:
    """Managed-policy names SAM may attach, mapped without calling IAM (no network here)."""

    def load(self) -> dict[str, str]:
        return {
            "AWSXrayWriteOnlyAccess": "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
            "AWSLambdaBasicExecutionRole": (
                "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
            ),
        }


def main(source: str = "template.yaml", target: str = "build/translated-template.json") -> int:
    template, errors = decode(source)
    if errors or template is None:
        for error in errors:
            print(error, file=sys.stderr)
        return 1
    # Local code folders are uploaded by `sam deploy`; the translator wants S3 URIs.
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        for uri_property in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(uri_property), str):
                properties[uri_property] = "s3://artifacts-bucket/placeholder.zip"
    # The translator builds ARNs for a Region; any Region gives the same resource graph.
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    translated = transform(template, {}, OfflinePolicyLoader())
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    Path(target).write_text(json.dumps(translated, indent=2, default=str) + "\n")
    print(f"translated {source} -> {target} ({len(translated.get('Resources', {}))} resources)")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
