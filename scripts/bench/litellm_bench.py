#!/usr/bin/env python3
"""LiteLLM's Python SDK on the same workload as adapter_bench (a manual benchmark, not CI).

The upstream is adapter_bench's zero-delay loopback server (16 content chunks + finish + usage
chunk + [DONE], keep-alive, TCP_NODELAY), served on its own:

    cargo run -p handshake-core --release --example adapter_bench -- serve 18080

Then, with LiteLLM installed in a venv (python3 -m venv /tmp/litellm-venv &&
/tmp/litellm-venv/bin/pip install litellm):

    /tmp/litellm-venv/bin/python scripts/bench/litellm_bench.py http://127.0.0.1:18080/v1 2000 20000

It runs litellm.completion(model="openai/m", api_base=..., api_key="x", stream=True) and reads
the whole stream, the same request the adapter sends (stream, max_tokens 64, temperature 0), at
concurrency 1 (p50/p99) and litellm.acompletion at concurrency 64 with asyncio (calls/s), and
prints process CPU per call (getrusage). Compare with adapter_bench run against the same upstream
(`--upstream http://127.0.0.1:18080`), alternating runs; see docs/benchmarks.md.
"""

import asyncio
import os
import resource
import sys
import time


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def percentile(sorted_values, p):
    return sorted_values[round((len(sorted_values) - 1) * p)]


MESSAGES = [{"role": "user", "content": "hi"}]


def call(litellm, api_base):
    stream = litellm.completion(
        model="openai/m",
        api_base=api_base,
        api_key="x",
        messages=MESSAGES,
        stream=True,
        max_tokens=64,
        temperature=0.0,
    )
    text = 0
    for chunk in stream:
        delta = chunk.choices[0].delta.content if chunk.choices else None
        text += len(delta or "")
    return text


async def acall(litellm, api_base):
    stream = await litellm.acompletion(
        model="openai/m",
        api_base=api_base,
        api_key="x",
        messages=MESSAGES,
        stream=True,
        max_tokens=64,
        temperature=0.0,
    )
    text = 0
    async for chunk in stream:
        delta = chunk.choices[0].delta.content if chunk.choices else None
        text += len(delta or "")
    return text


async def concurrent(litellm, api_base, calls, concurrency):
    remaining = calls

    async def worker():
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await acall(litellm, api_base)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        sys.exit(2)
    api_base = sys.argv[1]
    n1 = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    n64 = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
    os.environ.setdefault("LITELLM_LOG", "ERROR")
    # Use the bundled model cost map instead of fetching it from GitHub at import.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm  # imported late: a missing venv fails here, with the usage above

    litellm.telemetry = False
    print(f"litellm {getattr(litellm, 'version', '?')}; load average at start: {os.getloadavg()}")
    for _ in range(50):
        assert call(litellm, api_base) > 0
    times = []
    cpu0 = cpu_seconds()
    for _ in range(n1):
        t = time.perf_counter()
        call(litellm, api_base)
        times.append(time.perf_counter() - t)
    cpu1 = cpu_seconds()
    times.sort()
    print(f"concurrency 1, {n1} calls")
    print(
        f"  L litellm.completion p50 {percentile(times, 0.5) * 1e6:9.1f} us  "
        f"p99 {percentile(times, 0.99) * 1e6:9.1f} us  "
        f"process CPU per call {(cpu1 - cpu0) / n1 * 1e6:.1f} us"
    )
    if n64 > 0:
        cpu0 = cpu_seconds()
        elapsed = asyncio.run(concurrent(litellm, api_base, n64, 64))
        cpu1 = cpu_seconds()
        print(f"concurrency 64 (asyncio acompletion), {n64} calls")
        print(
            f"  L litellm.acompletion {n64 / elapsed:9.0f} calls/s  "
            f"process CPU per call {(cpu1 - cpu0) / n64 * 1e6:.1f} us"
        )
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
