"""Score a file of sentences in Spark with a logged Kashgari NER model (``spark_udf``).

    uv run python examples/spark_scoring.py models:/kashgari-ner@champion sentences.txt out/
    uv run python examples/spark_scoring.py runs:/<run_id>/model   # built-in sentences

Each line of the input file is one sentence. The output folder gets Parquet
with the sentence, its tokens, tags and entity structs; a few rows are printed.
"""

from __future__ import annotations

import argparse
import sys

SENTENCES = [
    "John lives in New York",
    "Mary works at Google in Paris .",
    "Yesterday Angela Merkel flew from Berlin to Tokyo .",
]
ENTITY = "struct<type:string,text:string,token_start:int,token_end:int,char_start:int,char_end:int>"
RESULT_TYPE = f"struct<tokens:array<string>,tags:array<string>,entities:array<{ENTITY}>>"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_uri")
    parser.add_argument("input", nargs="?", help="text file, one sentence per line")
    parser.add_argument("output", nargs="?", help="folder for the Parquet result")
    args = parser.parse_args(argv)

    import mlflow
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[*]")
        .appName("kashgari-ner-scoring")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    try:
        if args.input:
            frame = spark.read.text(args.input).withColumnRenamed("value", "text")
            frame = frame.filter(frame.text != "")
        else:
            frame = spark.createDataFrame([(s,) for s in SENTENCES], ["text"])
        ner = mlflow.pyfunc.spark_udf(
            spark, args.model_uri, result_type=RESULT_TYPE, env_manager="local"
        )
        scored = frame.withColumn("ner", ner("text")).select(
            "text", "ner.tokens", "ner.tags", "ner.entities"
        )
        if args.output:
            scored.write.mode("overwrite").parquet(args.output)
            print(f"Wrote {scored.count()} scored sentences to {args.output}")
        for row in scored.limit(5).collect():
            entities = ", ".join(f"{e.text} ({e.type})" for e in row.entities) or "none"
            print(f"{row.text}\n  entities: {entities}")
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
