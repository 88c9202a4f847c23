#!/bin/sh
# Runs every test tier and ends with one summary line "N passed, N failed"
# counting test cases across the cmocka unit tests and the pytest suite.
# Usage: tests/run-all.sh UNIT_TEST_BINARY...
#
# When build/asan/sipsgate exists (make asan), both tiers run a second
# time against the sanitizer build: the unit tests of the same names from
# build/asan/, and the pytest suite with SIPSGATE_BIN pointing at the
# sanitizer daemon. The summary line sums both passes.
set -u
cd "$(dirname "$0")/.."

ASAN_DIR=build/asan
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

run_unit() {
	for t in "$@"; do
		: >"$log"
		if ! "$t" >"$log" 2>&1; then
			cat "$log"
			# A crash, or a leak found at exit, prints no cmocka
			# failure: count the binary as one failure.
			grep -q '^\[  FAILED  \]' "$log" || failed=$((failed + 1))
		else
			cat "$log"
		fi
		count
	done
}

# Runs pytest with the given extra arguments and adds its counts.
run_e2e() {
	: >"$log"
	/usr/bin/python3 -m pytest -q -p no:cacheprovider "$@" tests/e2e 2>&1 | tee "$log"
	p=$(grep -Eo '[0-9]+ passed' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
	f=$(grep -Eo '[0-9]+ (failed|error)' "$log" | grep -Eo '[0-9]+' | awk '{s+=$1} END {print s+0}')
	grep -Eq '[0-9]+ (passed|failed)' "$log" || f=$((f + 1))
	passed=$((passed + p))
	failed=$((failed + f))
}

echo "== unit tests (cmocka) =="
run_unit "$@"

echo "== end-to-end tests (pytest) =="
run_e2e

if [ -x "$ASAN_DIR/sipsgate" ]; then
	# Leaks at exit count as failures; UBSan stops at the first report.
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:exitcode=66
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
	export ASAN_OPTIONS UBSAN_OPTIONS

	echo "== unit tests, sanitizer build ($ASAN_DIR) =="
	asan_units=""
	for t in "$@"; do
		asan_units="$asan_units $ASAN_DIR/$(basename "$t")"
	done
	# shellcheck disable=SC2086 # the names contain no blanks
	run_unit $asan_units

	echo "== end-to-end tests, sanitizer build ($ASAN_DIR/sipsgate) =="
	SIPSGATE_BIN="$PWD/$ASAN_DIR/sipsgate"
	export SIPSGATE_BIN
	run_e2e
	unset ASAN_OPTIONS UBSAN_OPTIONS SIPSGATE_BIN
else
	echo "== sanitizer pass skipped: $ASAN_DIR/sipsgate not built (make asan) =="
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
