"""N ranks on this machine through torch.distributed's own launcher (the elastic agent behind torchrun).

`launch(function, args, nproc)` starts nproc processes with the environment torchrun gives (RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT on a free port), runs `function(*args)` in each and returns
{rank: return value}. A rank that fails ends every rank; its error comes back as one LaunchError line.
"""

from __future__ import annotations

import uuid

from zoo.errors import ZooError


class LaunchError(ZooError):
    """A rank failed; the message names it and its error."""


def _first_failure(error) -> str:
    rank, failure = min(error.failures.items())
    message = failure.message if isinstance(failure.message, str) else failure.message.get("message", "")
    lines = [line for line in str(message).splitlines() if line.strip()]
    return f"rank {rank} failed: {lines[0] if lines else f'exit code {failure.exitcode}'}"


def launch(function, args: tuple, nproc: int) -> dict[int, object]:
    """Run `function(*args)` on nproc local ranks; {rank: what it returned}. `function` must be importable
    by name (the ranks are fresh processes)."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=uuid.uuid4().hex,
                          rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0, monitor_interval=0.1)
    try:
        return elastic_launch(config, function)(*args)
    except ChildFailedError as error:
        raise LaunchError(_first_failure(error)) from None
