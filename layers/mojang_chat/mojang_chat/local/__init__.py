"""Running the application on a developer's machine: no AWS account, no Docker.

Not part of the Lambda layer (its Makefile leaves this folder out): it reads template.yaml
(``template``), maps HTTP requests to API Gateway events (``events``) and serves the very
handlers Lambda runs over HTTP (``server``), runs Step Functions and DynamoDB in-process through
moto (``aws``), and ships the demo (``demo``) with its stand-in model and Mojang API
(``standins``), all behind the command line (``cli``).
"""
