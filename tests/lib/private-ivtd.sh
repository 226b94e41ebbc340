# Sourced by test scripts: a scratch dir $T (removed at exit with every
# process in PIDS killed), fail/finish, and private_ivtd to start an ivtd
# of our own on $T/ivtd.sock with the policy given on stdin. Needs
# $BIN (the build's bin dir) and $T_PREFIX (the scratch dir's name).
T=$(mktemp -d "/tmp/$T_PREFIX.XXXXXX")
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
# The end of a script: exit 1 keeping the logs after failures, else say $1.
finish() {
	if [ $fails -ne 0 ]; then
		echo "$fails failure(s); logs in $T"
		trap - EXIT
		for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
		exit 1
	fi
	echo "$1"
}
# private_ivtd <<JSON ... JSON: the local registry, IVT_SOCKET exported.
private_ivtd() {
	cat >"$T/policy.json"
	"$BIN/ivtd" -r local -c "$T/policy.json" -s "$T/ivtd.sock" >"$T/ivtd.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 50); do [ -S "$T/ivtd.sock" ] && break; sleep 0.1; done
	[ -S "$T/ivtd.sock" ] || { cat "$T/ivtd.log"; echo "FAIL: ivtd did not start"; exit 1; }
	export IVT_SOCKET=$T/ivtd.sock
}
