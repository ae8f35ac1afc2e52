#!/usr/bin/env bash
# Serve a logged Kashgari NER model over REST on 127.0.0.1 and query it with curl.
#
#   examples/serve.sh models:/kashgari-ner@champion        # after examples/sweep.py
#   examples/serve.sh runs:/<run_id>/model 5001
#
# The tracking store is MLFLOW_TRACKING_URI, else sqlite:///mlflow.db.
set -euo pipefail

model_uri=${1:?usage: examples/serve.sh MODEL_URI [PORT]}
port=${2:-5000}
export MLFLOW_TRACKING_URI=${MLFLOW_TRACKING_URI:-sqlite:///mlflow.db}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-3}
mlflow_cmd=${MLFLOW_CMD:-mlflow}

log=$(mktemp -t kashgari-serve.XXXXXX.log)
$mlflow_cmd models serve -m "$model_uri" --env-manager local -h 127.0.0.1 -p "$port" >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true; rm -f "$log"' EXIT

for _ in $(seq 1 180); do
  if curl -sf "http://127.0.0.1:$port/ping" >/dev/null; then break; fi
  if ! kill -0 "$server" 2>/dev/null; then
    echo "mlflow models serve exited:" >&2
    tail -n 30 "$log" >&2
    exit 1
  fi
  sleep 1
done
curl -sf "http://127.0.0.1:$port/ping" >/dev/null || { echo "server did not start in 180 s" >&2; exit 1; }

query() {
  echo "\$ curl -d '$1'"
  curl -s -H 'Content-Type: application/json' "http://127.0.0.1:$port/invocations" -d "$1"
  echo
}
query '{"inputs": ["John lives in New York", "Mary works at Google in Paris ."], "params": {"output": "entities"}}'
query '{"inputs": [["Angela", "Merkel", "visited", "Berlin"], ["Mary"]], "params": {"output": "tags"}}'
query '{"dataframe_split": {"columns": ["text"], "data": [["Yesterday John flew to Tokyo ."]]}}'
query '{"inputs": [["John", 3]]}'
