"""``iotbench ceilings``: each component's standalone ceiling, measured in one go on one stack.

- producer → Kafka through the ``producer-kafka`` link (kafka-python, as fast as it goes, and
  publish delay at 80 % of that);
- Spark alone, draining a pre-filled topic with the processor job, over the span of its
  batches (scheduling between batches included);
- the Mongo-wire server alone, through the sink's write path at a real micro-batch slice's
  size (1,000 rows a call).

Each ceiling is measured the way the pipeline uses the component; flattering variants (Spark
over batch time only, 10,000-row sink calls) are kept beside it in ``ceilings.json``,
labelled ``variants``.

The pipeline's capacity (``iotbench capacity``) can then be stated as a fraction of its
slowest part. Figures are recorded, never asserted: ``ceilings.json`` in the output folder.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks import processor_ceiling, producer_ceiling
from system.stack import kafka
from system.stack.native import NativeStack, StackConfig


def measure(out_dir: Path, *, seconds: float = 10.0, spark_events: int = 100_000,
            sink_events: int = 20_000) -> dict[str, Any]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stack = NativeStack.attach()
    started_here = stack is None
    if stack is None:
        stack = NativeStack(StackConfig(partitions=2, workers=1, dashboard=False))
        stack.up()
    e = stack.endpoints
    try:
        topic = f"ceiling-{uuid.uuid4().hex[:8]}"
        kafka.ensure_topic(e.direct_bootstrap, topic, stack.config.partitions)
        producer = producer_ceiling.measure_producer_ceiling(
            out_dir / "producer.json", bootstrap=e.producer_bootstrap, topic=topic,
            seconds=seconds)
        spark = processor_ceiling.spark_ceiling(e, out_dir / "spark", events=spark_events)
        mongo = processor_ceiling.mongo_ceiling(e.spark_mongo_uri, events=sink_events)
    finally:
        if started_here:
            stack.down()
    ceilings = {
        "producer_eps": producer["ceiling_eps"],
        "spark_eps": spark.get("eps_over_batch_span"),
        "mongo_sink_eps": (mongo.get("sink_write_partition") or {}).get("eps"),
    }
    variants = {
        "spark_eps_over_batch_time_only": spark.get("eps_over_batches"),
        "spark_eps_over_driver_wall_time": spark.get("eps_over_wall"),
        "mongo_sink_eps_10k_rows_per_call": (mongo.get("sink_write_partition_big") or {})
        .get("eps"),
    }
    known = {k: v for k, v in ceilings.items() if v}
    result = {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "ceilings_eps": ceilings,
        "variants": variants,
        "slowest": min(known, key=known.get) if known else None,
        "producer": producer, "spark": spark, "mongo": mongo,
    }
    (out_dir / "ceilings.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    return result


def ceilings_main(out: Path) -> int:
    result = measure(out)
    for name, value in result["ceilings_eps"].items():
        print(f"  {name:<16} {value:>10,.0f} events/s" if value else f"  {name:<16} n/a")
    print(f"slowest part: {result['slowest']}; details in {out / 'ceilings.json'}")
    return 0
