#!/usr/bin/env bash
# Run the Flower App with Flower's own tooling, on this machine only (127.0.0.1).
#
#   examples/flower_app/run.sh simulation OUT [key=value ...]   # Flower's simulation runtime
#   examples/flower_app/run.sh deployment OUT [key=value ...]   # a SuperLink and two SuperNodes
#
# The script starts a SuperLink (with `--simulation` for the first mode) and, for the deployment,
# two SuperNodes (partition-id 0 and 1) as separate processes, submits the app with `flwr run`,
# waits for the run to finish and stops every process it started. The final global model and the
# results go to OUT (run config `out-dir`); extra `key=value` pairs override the run config, e.g.
# strategy='"IDA"' num-server-rounds=3. FLWR_HOME is a fresh temporary folder, so the user's
# Flower configuration is left alone. Ports: $FEDKIT_FLOWER_PORT (default 19180) and the next two.
set -euo pipefail
mode=${1:?usage: run.sh simulation|deployment OUT [key=value ...]}
out=$(mkdir -p "${2:?usage: run.sh simulation|deployment OUT [key=value ...]}" && cd "$2" && pwd)
shift 2
app_dir=$(cd "$(dirname "$0")" && pwd)
bin=$(dirname "$(command -v python)")
port=${FEDKIT_FLOWER_PORT:-19180}
export FLWR_HOME=$(mktemp -d)
export FLWR_DISABLE_UPDATE_CHECK=1
pids=()  # each daemon leads its own process group (setsid), stopped with its children at exit
cleanup() {
    for pid in "${pids[@]}"; do kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$FLWR_HOME"
}
trap cleanup EXIT
daemon() { setsid "$@" & pids+=($!); }

cat > "$FLWR_HOME/config.toml" <<TOML
[superlink]
default = "local-$mode"

[superlink.local-simulation]
address = "127.0.0.1:$port"
insecure = true
options.num-supernodes = 2

[superlink.local-deployment]
address = "127.0.0.1:$port"
insecure = true
TOML

link_args=(--insecure --host 127.0.0.1 --port "$port" --disable-runtime-dependency-installation
           --log-file "$out/superlink.log")
case "$mode" in
    simulation) daemon "$bin/flower-superlink" "${link_args[@]}" --simulation >"$out/superlink.out" 2>&1 ;;
    deployment) daemon "$bin/flower-superlink" "${link_args[@]}" >"$out/superlink.out" 2>&1 ;;
    *) echo "run.sh: error: mode: expected 'simulation' or 'deployment', got '$mode'" >&2; exit 2 ;;
esac
for _ in $(seq 1 120); do  # wait for the SuperLink's HTTP API
    python - "$port" <<'PY' && break
import sys, urllib.request
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=1)
except Exception:
    sys.exit(1)
PY
    sleep 0.5
done
if [ "$mode" = deployment ]; then
    for pid_ in 0 1; do
        daemon "$bin/flower-supernode" --insecure --superlink "127.0.0.1:$port" --port $((port + 1 + pid_)) \
            --node-config "partition-id=$pid_ num-partitions=2" >"$out/supernode-$pid_.out" 2>&1
    done
fi
overrides="out-dir='$out'"
for kv in "$@"; do overrides="$overrides $kv"; done
"$bin/flwr" run "$app_dir" "local-$mode" --stream --run-config "$overrides" 2>&1 | tee "$out/flwr-run.out"
test -f "$out/final_model.pt" || { echo "run.sh: error: the run wrote no $out/final_model.pt (logs in $out)" >&2; exit 1; }
echo "run.sh: wrote $out/final_model.pt and $out/results.json"
