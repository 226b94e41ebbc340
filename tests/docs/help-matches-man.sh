#!/bin/bash
# SPDX-License-Identifier: MIT
# Each program's --help and its man page (docs/<prog>.<N>.md) name the same
# options (and, for ivtd, the same environment variables). Usage:
#   help-matches-man.sh BIN_DIR SOURCE_DIR
set -u
bin=$1 src=$2
failed=0

# Long options (--name) mentioned in a text, one per line, sorted.
longopts() { grep -o -- '--[a-z][a-z-]*' | sort -u; }
envvars() { grep -o 'IVT_[A-Z_]*\|NOTIFY_SOCKET' | sort -u; }

check() { # name what help-list page-list
	local d
	d=$(diff <(echo "$3") <(echo "$4"))
	if [ -n "$d" ]; then
		echo "FAIL $1: $2 differ between --help (<) and the man page (>):"
		echo "$d"
		failed=1
	else
		echo "ok   $1: $2: $(echo "$3" | tr '\n' ' ')"
	fi
}

for page in ivtd.8 ivtctl.8 ivt-demo.1 ivt-cat.1; do
	prog=${page%.*}
	exe=$bin/$prog
	md=$src/docs/$page.md
	help=$("$exe" --help 2>&1) || { echo "FAIL $prog --help exits non-zero"; failed=1; continue; }
	# The page's OPTIONS and SYNOPSIS sections.
	opts=$(awk '/^# (SYNOPSIS|OPTIONS)/{on=1; next} /^# /{on=0} on' "$md")
	check "$prog" options "$(echo "$help" | longopts)" "$(echo "$opts" | longopts)"
	if [ "$prog" = ivtd ]; then
		envs=$(awk '/^# ENVIRONMENT/{on=1; next} /^# /{on=0} on' "$md")
		hen=$(echo "$help" | awk '/^ENVIRONMENT/{on=1; next} /^[A-Z]/{on=0} on')
		check ivtd environment "$(echo "$hen" | envvars)" "$(echo "$envs" | envvars)"
	fi
done
exit $failed
