"""Two Ray nodes of one CPU each (`ray.cluster_utils.Cluster`): the level's tasks run on both at
once, and the program and banks are the in-process ones.

The simulated cluster lives in a child process: a Ray driver that has shut one instance down
and joins another in the same process loses track of its own objects (OwnerDiedError).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dsl.language import get_dsl
from synth.int_engine.engine import InProcess
from test_distributed import search

pytestmark = pytest.mark.integration

CHILD = """
import hashlib, json, os, sys, threading, time
sys.path.insert(0, sys.argv[1])
import ray
from ray.cluster_utils import Cluster
from dsl.language import get_dsl
from synth.int_engine.distributed import RayExecutor
from test_distributed import ITEM_CANDIDATES, search

# cluster_utils' default 150 MB object store makes Ray spill constantly (the level then crawls at
# a few tasks per second); 1 GiB per node is still far below a real node's.
store = {"num_cpus": 1, "object_store_memory": 1 << 30}
cluster = Cluster(initialize_head=True, head_node_args={**store, "include_dashboard": False})
try:
    cluster.add_node(**store)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    cpus = [n["Resources"]["CPU"] for n in ray.nodes() if n["Alive"]]
    executor = RayExecutor(2, task_candidates=ITEM_CANDIDATES)
    result = {}
    run = threading.Thread(target=lambda: result.update(found=search(executor)))
    run.start()
    both_busy = False            # one CPU per node: no free CPU = both nodes running tasks
    while run.is_alive() and not both_busy:
        both_busy = ray.available_resources().get("CPU", 0) == 0
        time.sleep(0.02)
    run.join()
    executor.close()
    program, levels, seen = result["found"]
    print(json.dumps({"cpus": cpus, "both_busy": both_busy, "levels": levels,
                      "program": get_dsl("int").show(program),
                      "seen": {t: hashlib.sha256(v.tobytes()).hexdigest() for t, v in seen.items()}}))
finally:
    ray.shutdown()
    cluster.shutdown()
"""


def test_two_nodes_find_the_in_process_program():
    import hashlib

    # Nodes started by cluster_utils enable token auth that the driver does not pick up (it
    # hangs connecting); the simulated cluster is private to the child, so auth is off there.
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    env.pop("RAY_ADDRESS", None)
    child = subprocess.run([sys.executable, "-c", CHILD, str(Path(__file__).resolve().parent)],
                           env=env, capture_output=True, text=True, timeout=300)
    assert child.returncode == 0, child.stderr[-3000:]
    report = json.loads(child.stdout.strip().splitlines()[-1])

    program, levels, seen = search(InProcess())
    assert report["cpus"] == [1.0, 1.0]
    assert report["program"] == get_dsl("int").show(program)
    assert [tuple(level) for level in report["levels"][:-1]] == levels[:-1]   # completed levels
    assert report["seen"] == {t: hashlib.sha256(v.tobytes()).hexdigest() for t, v in seen.items()}
    assert report["both_busy"], "never saw both nodes running tasks at once"
