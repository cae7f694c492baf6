"""A stage job for test/k8s/autoscale.test.ts: demand for the stage's shape, and where it ran.

It runs one Ray task asking for the stage's CPUs (the stage input's "cpu"). The run cluster's head has no CPUs for
tasks (num-cpus 0), so the task waits until Ray's autoscaler has added a worker of a group that fits it. It prints
one line: the marker and the IP and node id of the Ray node the task ran on.
"""

import json
import os

import ray
from sentinel_sdk.contract import ENV_VAR, decode_stage_input

MARKER = "SENTINEL-AUTOSCALE-RAN-ON "


@ray.remote
def where() -> dict[str, str]:
    ctx = ray.get_runtime_context()
    return {"ip": ray.util.get_node_ip_address(), "node": ctx.get_node_id()}  # type: ignore[no-untyped-call]


def main() -> None:
    stage_input = decode_stage_input(os.environ.get(ENV_VAR))
    cpus = float(stage_input["cpu"])
    ray.init()
    ran_on = ray.get(where.options(num_cpus=cpus).remote())
    print(MARKER + json.dumps(ran_on), flush=True)


if __name__ == "__main__":
    main()
