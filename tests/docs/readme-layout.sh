#!/bin/sh
# README's Layout table names every folder a newcomer looks for: each
# top-level folder, each folder under src/, and each of ivtd's concerns.
# Usage: readme-layout.sh SOURCE_DIR
src=${1:?source dir}
cd "$src" || exit 2
missing=0
for d in */ src/*/ src/ivtd/*/; do
    d=${d%/}
    case $d in build*|tests) continue ;; esac   # build trees; tests/ listed by component
    if ! grep -q "^| \`$d/" README.md; then
        echo "README.md Layout: no row for $d/" >&2
        missing=$((missing + 1))
    fi
done
[ "$missing" -eq 0 ] && echo "README Layout lists every folder"
exit "$missing"
