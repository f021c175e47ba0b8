"""Running the application on a developer's machine: no AWS account, no Docker.

Not part of the Lambda layer (its Makefile leaves this folder out): it reads template.yaml,
serves the very handlers Lambda runs over HTTP, and runs Step Functions and DynamoDB in-process
through moto.
"""
