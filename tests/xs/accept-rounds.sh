#!/usr/bin/env bash
# The Xen bed's accept choreography (tests/xen/ivt-checks.sh, group
# accept) without Xen: ivt-xs-open accept through a private ivtd's local
# socket (shm). Client a's two connections must end on their own while the
# listener still waits for more (each served connection is closed at once:
# its connector waits for that end of stream); only then does client b
# connect, twice more. ivt-xs-open once kept every connection open until
# its accept loop ended, so a waited for the listener's timeout and b
# found no listener (the bed's "no listener" after a client's destroy).
set -uo pipefail
BIN=${IVT_BIN_DIR:?}
T_PREFIX=ivt-accept-rounds
. "$(dirname "$0")/../lib/private-ivtd.sh"
private_ivtd <<'JSON'
{"version": 1,
 "channels": [{"name": "acc-*", "listeners": ["*"], "connectors": ["*"], "backend": "shm"}]}
JSON
X=("$BIN/ivt-xs-open")
COMMON=(--registry local --backend shm --timeout 30)
die() { fail "$*"; for f in "$T"/*.log; do echo "== $f"; cat "$f"; done; finish; }

# The listener's timeout (30 s) only bounds a broken run: a round that
# needs it fails on what the clients say, not on a clock.
"${X[@]}" accept acc-rounds --count 4 "${COMMON[@]}" >"$T/listener.log" 2>&1 &
LIS=$!
PIDS+=($LIS)
for _ in $(seq 100); do grep -q listening "$T/listener.log" && break; sleep 0.1; done
round() { # round <name> <seed>: two connections at once, both must pass
	"${X[@]}" connect acc-rounds --seed "$2" --bytes 4194304 "${COMMON[@]}" >"$T/$1-1.log" 2>&1 &
	local p1=$!
	"${X[@]}" connect acc-rounds --seed $(($2 + 1)) --bytes 4194304 "${COMMON[@]}" \
		>"$T/$1-2.log" 2>&1
	local rc2=$?
	wait $p1
	local rc1=$?
	[ $rc1 = 0 ] && [ $rc2 = 0 ] || die "client $1: exit $rc1/$rc2"
	grep -q 'end of stream: yes' "$T/$1-1.log" && grep -q 'end of stream: yes' "$T/$1-2.log" ||
		fail "client $1: no clean end of stream"
}
round a 1
# a is done; the listener must still be listening, not timed out
grep -q 'no connector within' "$T/listener.log" && die "the listener gave up while a waited"
round b 3
wait $LIS
rc=$?
grep -q '^accept acc-rounds: 4 accepted, 4 verified, 0 peer died, 0 failed$' "$T/listener.log" &&
	[ $rc = 0 ] || die "listener exit $rc: $(tail -n 2 "$T/listener.log" | tr '\n' ' ')"
finish "PASS: one listener, two rounds of two connections, the second after the first ended"
