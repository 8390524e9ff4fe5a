"""Process entry points for test_multiprocess (importable by spawned interpreters)."""

import json
import time
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.synchronize import Barrier

import redis

from execution.safety.clock import SystemClock
from execution.safety.pause import Permit, SafetyPause
from execution.safety.speed import Priority, SpeedControl, Start
from execution.safety.state import RedisStateBackend


def run_operations(
    url: str,
    prefix: str,
    account: str,
    worker: int,
    threads: int,
    ops: int,
    duration: float,
    barrier: Barrier,
) -> None:
    """Run ``threads x ops`` operations of ``duration`` seconds through the speed control; log them."""
    client = redis.Redis.from_url(url)
    speed = SpeedControl(RedisStateBackend(client, prefix), SystemClock())
    barrier.wait(timeout=30)

    def operate(thread: int) -> None:
        for i in range(ops):
            op_id = f"w{worker}-t{thread}-{i}"
            speed.enqueue(account, op_id, list(Priority)[(worker + thread + i) % 3])
            deadline = time.time() + 60
            while not isinstance(decision := speed.try_start(account, op_id), Start):
                if time.time() > deadline:
                    raise TimeoutError(op_id)
                time.sleep(decision.seconds)
            time.sleep(duration)  # the broker call
            finished_at = time.time()
            event = {"op": op_id, "started_at": decision.started_at, "finished_at": finished_at}
            client.rpush(prefix + "events", json.dumps(event))
            speed.finish(account, op_id)

    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(operate, t) for t in range(threads)]:
            future.result()


def ask_for_test_permit(url: str, prefix: str, account: str, worker: int, barrier: Barrier) -> None:
    client = redis.Redis.from_url(url)
    pause = SafetyPause(RedisStateBackend(client, prefix), SystemClock())
    barrier.wait(timeout=30)
    result = pause.acquire(account)
    granted = isinstance(result, Permit) and result.testing
    client.rpush(prefix + "permits", json.dumps({"worker": worker, "granted": granted, "state": str(result)}))
