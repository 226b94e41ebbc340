# Shared by the preload test scripts (sourced): checks the programs named
# in $NEED, starts a private ivtd whose policy allows tcp.*, and defines
# the helpers (with, start_bg, wait_port, check_ivt, fail). Needs
# IVT_BIN_DIR and IVT_LIB_DIR; every process in PIDS is killed at exit.
. "$(dirname "${BASH_SOURCE[0]}")/../lib/ivt-lib.sh"
BIN=${IVT_BIN_DIR:?}
LIB=${IVT_LIB_DIR:?}
PRELOAD=$LIB/libivt-preload.so
# An ASan build (IVT_ASAN_RUNTIME: its libasan.so): the runtime must be the
# first library in a process, and these programs are not built with it, so
# it goes first in LD_PRELOAD. Their own exit-time leaks (redis, python)
# are not ours: leak checking is off for them, memory errors stay fatal.
PRELOAD_LIST=$PRELOAD
PRELOAD_ASAN=()
if [ -n "${IVT_ASAN_RUNTIME:-}" ]; then
	PRELOAD_LIST="$IVT_ASAN_RUNTIME $PRELOAD"
	PRELOAD_ASAN=(ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0")
fi
for p in $NEED; do
	command -v "$p" >/dev/null || { echo "SKIP: $p missing (scripts/install-deps.sh)"; exit 77; }
done
PY=$(command -v /usr/bin/python3 || command -v python3)

T_PREFIX=ivt-preload
. "$(dirname "${BASH_SOURCE[0]}")/../lib/private-ivtd.sh"
# PRELOAD_RING: the rings' size; PRELOAD_BACKLOG: the listeners' backlog,
# also per identity (policy "backlog", "backlog_per_identity"), else the
# defaults (a script may set either before sourcing).
backlog=
[ -n "${PRELOAD_BACKLOG:-}" ] &&
	backlog=", \"backlog\": $PRELOAD_BACKLOG, \"backlog_per_identity\": $PRELOAD_BACKLOG"
private_ivtd <<JSON
{"version": 1,
 "channels": [{"name": "tcp.*", "listeners": ["*"], "connectors": ["*"],
               "backend": "shm", "ring_size": ${PRELOAD_RING:-262144}, "max_ring_size": 4194304$backlog}]}
JSON

# A port per scenario and mode, in this script's own range (ivt_port).
PORT=$(ivt_port "$(basename "$0" .sh)") || exit 1
next_port() { PORT=$(ivt_free_port $((PORT + 1))); }
with() { # mode: kernel|ivt, then the command
	local mode=$1; shift
	if [ "$mode" = ivt ]; then
		env LD_PRELOAD="$PRELOAD_LIST" "${PRELOAD_ASAN[@]}" IVT_PRELOAD_LOG=1 "$@"
	else
		"$@"
	fi
}
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
# A server started by start_bg listens: the kernel socket, and in ivt mode
# also the preload's ivt listener (its log line), with no probe connection
# (iperf3 -s -1 serves exactly one). mode, port, server log.
wait_listen() { ivt_wait_listen "$@" 2>/dev/null || fail "nothing listens on port $2 ($1)"; }
# The client log says ivt for every connect and never kernel.
check_ivt() { # log, what, minimum ivt connects
	local n k
	n=$(grep -c "connect .*: ivt tcp\." "$1")
	k=$(grep -c "connect .*: kernel" "$1")
	if [ "$n" -lt "$3" ] || [ "$k" -ne 0 ]; then
		fail "$2: $n ivt connects (want >= $3), $k fell back to TCP"
		grep "ivt-preload" "$1" | head -5
	fi
}
# A program's output over TCP and through the preload must be the same,
# the preload's and libivt's own log lines left out. kernel log, ivt log,
# what differs (for the failure).
same_output() {
	diff <(grep -v -e ivt-preload -e 'libivt: ' "$1") <(grep -v -e ivt-preload -e 'libivt: ' "$2") ||
		fail "$3"
}
start_bg() { # log, mode, command...: BG is the program's own pid
	local log=$1 mode=$2; shift 2
	if [ "$mode" = ivt ]; then
		env LD_PRELOAD="$PRELOAD_LIST" "${PRELOAD_ASAN[@]}" IVT_PRELOAD_LOG=1 "$@" >"$log" 2>&1 &
	else
		"$@" >"$log" 2>&1 &
	fi
	PIDS+=($!)
	BG=$!
}

