"""``mlflow.pyfunc.spark_udf`` on a local PySpark session returns entity structs."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from typing import Any

import mlflow
import pytest

pytestmark = pytest.mark.slow

# The README's result type: one struct per sentence, entities as an array of structs.
ENTITY = "struct<type:string,text:string,token_start:int,token_end:int,char_start:int,char_end:int>"
RESULT_TYPE = (
    f"struct<text:string,tokens:array<string>,tags:array<string>,entities:array<{ENTITY}>>"
)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    if shutil.which("java") is None:
        pytest.skip("PySpark needs a Java runtime (java not on PATH)")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("kashgari-mlflow-tests")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    try:
        yield session
    finally:
        session.stop()


def test_spark_udf_scores_sentences_like_in_process(spark, saved_model_dir, demo_data):
    sentences = [" ".join(tokens) for tokens in demo_data[2][:40]]
    udf = mlflow.pyfunc.spark_udf(
        spark, str(saved_model_dir), result_type=RESULT_TYPE, env_manager="local"
    )
    frame = spark.createDataFrame([(s,) for s in sentences], ["text"])
    rows = frame.withColumn("ner", udf("text")).collect()

    expected = mlflow.pyfunc.load_model(str(saved_model_dir)).predict(sentences)
    assert [row.text for row in rows] == sentences
    assert [row.ner.asDict(recursive=True) for row in rows] == json.loads(json.dumps(expected))
    assert any(row.ner.entities for row in rows)


def test_spark_udf_scores_token_arrays(spark, saved_model_dir):
    tokens = [["John", "Smith", "visited", "Berlin"], ["Mary"]]
    udf = mlflow.pyfunc.spark_udf(
        spark, str(saved_model_dir), result_type=RESULT_TYPE, env_manager="local"
    )
    frame = spark.createDataFrame([(t,) for t in tokens], "tokens array<string>")
    rows = frame.select(udf("tokens").alias("ner")).collect()

    expected = mlflow.pyfunc.load_model(str(saved_model_dir)).predict(tokens)
    assert [row.ner.asDict(recursive=True) for row in rows] == json.loads(json.dumps(expected))
