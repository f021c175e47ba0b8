"""The runs workflow (functions/run_workflow.asl.json): what the service needs of it
(``Workflow``: start, stop and describe a run's execution) and the Step Functions adapter.

A run's execution is named by the run id, so each run has one execution at most and finding it
needs no lookup.
"""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions import SFNClient
    from mypy_boto3_stepfunctions.literals import ExecutionStatusType

# The workflow's TimeoutSeconds (functions/run_workflow.asl.json; a test keeps them equal).
WORKFLOW_TIMEOUT_SECONDS = 1000
# How long after ``expires_at`` a live workflow may still be ending a run: the step in flight
# with all its retries, then MarkFailed's (192 s by the numbers of the ASL file and the steps
# function's timeout; tests/e2e/test_runs_definition.py computes it). A record still open after
# that is reconciled with the execution's own status.
STEP_GRACE_SECONDS = 200


class Workflow(Protocol):
    """The executions of runs: one per run, started with the run's ids."""

    def start(self, run_id: str, thread_id: str) -> None:
        """Start the run's execution."""

    def stop(self, run_id: str, error: str, cause: str) -> None:
        """Stop the run's execution with ``error`` and ``cause``; an execution that never
        started is no error (there is nothing to stop)."""

    def describe(self, run_id: str) -> ExecutionStatusType | None:
        """The status of the run's execution; None when it never started."""

    def resume(self, task_token: str) -> bool:
        """Resume an execution that waits for the caller's tool outputs; False when it no
        longer waits (it timed out, or was stopped)."""


def execution_arn(state_machine_arn: str, run_id: str) -> str:
    """The ARN of a run's execution: the execution's name is the run id."""
    prefix, _, name = state_machine_arn.rpartition(":stateMachine:")
    return f"{prefix}:execution:{name}:{run_id}"


class StepFunctionsWorkflow:
    """The executions of one state machine, through a boto3 Step Functions client."""

    def __init__(self, client: SFNClient, state_machine_arn: str) -> None:
        self._client = client
        self.state_machine_arn = state_machine_arn

    def resume(self, task_token: str) -> bool:
        """Resume an execution that waits for the caller's tool outputs (``SendTaskSuccess``);
        False when it no longer waits (it timed out, or was stopped)."""
        errors = self._client.exceptions
        try:
            self._client.send_task_success(taskToken=task_token, output="{}")
        except (errors.TaskTimedOut, errors.TaskDoesNotExist, errors.InvalidToken):
            return False
        return True

    def start(self, run_id: str, thread_id: str) -> None:
        """Start the run's execution; its input is the ids the workflow's steps take."""
        self._client.start_execution(
            stateMachineArn=self.state_machine_arn,
            name=run_id,
            input=json.dumps({"run_id": run_id, "thread_id": thread_id}),
        )

    def stop(self, run_id: str, error: str, cause: str) -> None:
        """Stop the run's execution with ``error`` and ``cause``; an execution that never
        started is no error (there is nothing to stop)."""
        with contextlib.suppress(self._client.exceptions.ExecutionDoesNotExist):
            self._client.stop_execution(
                executionArn=execution_arn(self.state_machine_arn, run_id),
                error=error,
                cause=cause,
            )

    def describe(self, run_id: str) -> ExecutionStatusType | None:
        """The status of the run's execution (``DescribeExecution``); None when it never
        started."""
        arn = execution_arn(self.state_machine_arn, run_id)
        try:
            return self._client.describe_execution(executionArn=arn)["status"]
        except self._client.exceptions.ExecutionDoesNotExist:
            return None
