#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""bench/fleet.py - the PropelAuth validations a fleet's shared cache saves.

Two tokengate nodes in front of the test suite's PropelAuth stand-in, run
twice side by side in one go: once each on its own, once sharing a local
redis-server ([fleet]). The same workload goes to both pairs: KEYS API keys,
each used REQUESTS times, spread over the two nodes, in bursts of
concurrent requests. Prints the provider calls of each pair and what the
fleet saved. Nothing leaves 127.0.0.1.

Usage: TOKENGATE=build/plain/tokengate /usr/bin/python3 bench/fleet.py [KEYS] [REQUESTS]
"""
import concurrent.futures
import os
import secrets
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))

import harness  # noqa: E402
from provider import Provider  # noqa: E402
from test_apikeys import Keys, Node, status_of  # noqa: E402
from test_fleet import Redis, fleet_section  # noqa: E402


def run(pair, keys, requests):
    """Sends the workload to PAIR; returns the statuses seen."""
    jobs = [(pair[(k + r) % 2], key) for r in range(requests) for k, key in enumerate(keys)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
        return list(pool.map(lambda job: status_of(job[0].request("/keys/x", job[1])), jobs))


def main():
    key_count = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    requests = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    directory = tempfile.mkdtemp(prefix="tokengate-fleet-bench-")
    os.chmod(directory, 0o755)
    os.mkdir(os.path.join(directory, "world"))
    world = harness.World(os.path.join(directory, "world"))
    provider = Provider(directory)
    answers = Keys().answers
    template = next(iter(answers.values()))
    redis = Redis(directory)
    started = []
    try:
        alone = [Node(world, os.path.join(directory, "alone"), provider, name=n)
                 for n in ("a", "b")]
        shared = [Node(world, os.path.join(directory, "shared"), provider,
                       sections=fleet_section(redis), name=n) for n in ("a", "b")]
        started = alone + shared
        for node in shared:
            harness.wait_for(lambda: "tokengate_redis_up 1" in node.metrics(), "Redis")
        results = {}
        for name, pair in (("alone", alone), ("fleet", shared)):
            keys = [secrets.token_hex(32) for _ in range(key_count)]
            for key in keys:
                provider.api_keys[key] = template
            before = provider.validations()
            statuses = run(pair, keys, requests)
            assert statuses == [200] * len(statuses), "a request was refused"
            results[name] = provider.validations() - before
        total = key_count * requests
        print("requests=%d keys=%d nodes=2 provider_calls_alone=%d provider_calls_fleet=%d "
              "saved=%d (%.0f%%)" % (total, key_count, results["alone"], results["fleet"],
                                     results["alone"] - results["fleet"],
                                     100.0 * (results["alone"] - results["fleet"])
                                     / max(results["alone"], 1)))
    finally:
        for node in started:
            node.stop()
        redis.kill()
        provider.stop()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
