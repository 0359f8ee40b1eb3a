"""Prints the CloudFormation template SAM deploys for a SAM template.

Usage: transform.py TEMPLATE [Name=Value ...]. Runs samtranslator (the
library behind `sam deploy`'s server-side transform, shipped with cfn-lint)
with inline policies only, so no AWS call is made.
"""
import json
import os
import sys

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

from samtranslator.translator.transform import transform  # noqa: E402
from samtranslator.yaml_helper import yaml_parse  # noqa: E402


class NoManagedPolicies:
    """The stack names no AWS managed policy; asking for one is a bug."""

    def load(self):
        return {}


def main():
    with open(sys.argv[1]) as f:
        template = yaml_parse(f.read())
    params = dict(arg.split("=", 1) for arg in sys.argv[2:])
    # `sam package` uploads local code and rewrites CodeUri before the
    # transform runs; do the same with a placeholder object.
    for res in template.get("Resources", {}).values():
        props = res.get("Properties", {})
        if res.get("Type") == "AWS::Serverless::Function" and not str(props.get("CodeUri", "")).startswith("s3://"):
            props["CodeUri"] = "s3://packaged/code.zip"
    out = transform(template, params, NoManagedPolicies())
    json.dump(out, sys.stdout, indent=1, default=str)


if __name__ == "__main__":
    main()
