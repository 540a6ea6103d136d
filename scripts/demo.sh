#!/usr/bin/env bash
# The README's demo: a fresh automation repository from examples/minimal,
# validated, planned, run on the built-in local target, and its record shown.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
opsc() { node "$here/runner/bin/opsc.js" "$@"; }

work="$(mktemp -d "${TMPDIR:-/tmp}/opsc-demo.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cp -R "$here/examples/minimal/." "$work/"
cd "$work"
git init -q -b main
git -c user.name=demo -c user.email=demo@example.invalid add -A
git -c user.name=demo -c user.email=demo@example.invalid commit -qm "automation repository from examples/minimal"

step() { printf '\n\033[1m$ opsc %s\033[0m\n' "$*"; }
step validate;        opsc validate
step plan hello;      opsc plan hello
step run hello;       opsc run hello --no-push
step audit verify;    opsc audit verify
step runs list;       opsc runs list
run_id="$(opsc runs list --format json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s)[0].id))')"
step runs show "$run_id"; opsc runs show "$run_id"
printf '\nThe record is on the branch opsconductor/runs of the demo repository (removed on exit).\n'
