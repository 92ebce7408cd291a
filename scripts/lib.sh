# Helpers for the scripts that start the services (scripts/bench, scripts/profile,
# scripts/callgrind, scripts/schemathesis), sourced from the project's root. `healthy` needs
# $bin, the folder of the binaries.

# A free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# healthy URL [tries]: waits until URL's health check passes, 0.2 s between tries (100 unless
# given; a process under valgrind needs more). Ends the script if it never does.
healthy() {
  local tries=${2:-100}
  for _ in $(seq 1 "$tries"); do "$bin/healthcheck" "$1" 2>/dev/null && return; sleep 0.2; done
  echo "FATAL: $1 not healthy after $tries tries" >&2
  exit 1
}

# routed GATEWAY_URL [tries]: waits until the gateway has found an audio instance in the
# registry (its file list answers), 0.2 s between tries (100 unless given). Ends the script if
# it never does: a load run through a gateway with no instance would measure nothing but errors.
routed() {
  local tries=${2:-100}
  for _ in $(seq 1 "$tries"); do curl -sf "$1/api/files" >/dev/null && return; sleep 0.2; done
  echo "FATAL: the gateway at $1 found no audio instance after $tries tries" >&2
  exit 1
}
