#!/bin/sh
# Runs every test tier and ends with one summary line "N passed, N failed"
# counting test cases across the cmocka unit tests and the pytest suite.
set -u
cd "$(dirname "$0")/.."

passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

count() {
	# cmocka prints "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s)...".
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
	passed=$((passed + p))
	failed=$((failed + f))
}

echo "== unit tests (cmocka) =="
for t in "$@"; do
	: >"$log"
	if ! "$t" >"$log" 2>&1; then
		cat "$log"
		# A crash prints no cmocka summary: count the binary as one failure.
		grep -q '^\[  FAILED  \]' "$log" || failed=$((failed + 1))
	else
		cat "$log"
	fi
	count
done

echo "== end-to-end tests (pytest) =="
: >"$log"
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/e2e 2>&1 | tee "$log"
p=$(grep -Eo '[0-9]+ passed' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
f=$(grep -Eo '[0-9]+ (failed|error)' "$log" | grep -Eo '[0-9]+' | awk '{s+=$1} END {print s+0}')
grep -Eq '[0-9]+ (passed|failed)' "$log" || f=$((f + 1))
passed=$((passed + p))
failed=$((failed + f))

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
