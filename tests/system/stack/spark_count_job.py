"""Run by the stack test as a separate driver: count a topic's records with Structured
Streaming (Kafka source, availableNow) on the standalone master; print JSON."""

import json
import sys

from system.processor.session import build_session

master, bootstrap, topic, checkpoint = sys.argv[1:5]
spark = build_session(master, "iotbench-stack-test")
counts: list[int] = []
stream = (spark.readStream.format("kafka")
          .option("kafka.bootstrap.servers", bootstrap)
          .option("subscribe", topic)
          .option("startingOffsets", "earliest")
          .load())
query = (stream.writeStream
         .foreachBatch(lambda df, _id: counts.append(df.count()))
         .option("checkpointLocation", checkpoint)
         .trigger(availableNow=True)
         .start())
query.awaitTermination(180)
apps = spark.sparkContext.master
print(json.dumps({"count": sum(counts), "master": apps}))
spark.stop()
