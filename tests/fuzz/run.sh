#!/usr/bin/env bash
# libFuzzer targets (issue 6 item 1).  Usage: tests/fuzz/run.sh [SECONDS] [TARGET...]
#
# Builds every tests/fuzz/fuzz_<target>.c with clang -fsanitize=fuzzer,address,
# undefined against the library sources (src/*.c but main.c, instrumented the
# same way), seeds each target's corpus from tests/corpus/ (the .eml cases;
# the configs and shipped templates too for config_load/template_render),
# runs each for SECONDS (default 60), and prints one line per target with the
# executions, the coverage (libFuzzer's cov: edges and ft: features) and the
# corpus size.  A crash, leak, timeout or OOM leaves its reproducer in
# $FUZZ_OUT/crashes/ and makes the script exit 1; reproduce with
#   $FUZZ_OUT/fuzz_<target> FILE
# Committed reproducers live in tests/fuzz/crashes/ (see README there).
#   CC_FUZZ   clang to use (default: clang, else clang-14)
#   FUZZ_OUT  build/work directory (default build/fuzz)
#   FUZZ_PARALLEL  targets fuzzed at once (default 1): 2 on two cores halves
#             the wall time, each target still gets SECONDS
#   FUZZ_JOBS libFuzzer workers per target (default 1): each runs SECONDS, so
#             more executions for a target, not a shorter run
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
secs=${1:-60}
shift || true
CC_FUZZ=${CC_FUZZ:-$(command -v clang || command -v clang-14 || true)}
if [ -z "$CC_FUZZ" ]; then
	echo "fuzz: clang not found (apt-get install clang-14)" >&2
	exit 2
fi
out=${FUZZ_OUT:-$root/build/fuzz}
mkdir -p "$out/obj" "$out/crashes" "$out/seeds" "$out/corpus" "$out/logs"
PKGS="libetpan libcurl sqlite3 libpcre2-8 libssl nettle inih libxml-2.0"
pkg_cflags=$(pkg-config --cflags $PKGS 2>/dev/null)
pkg_libs="$(pkg-config --libs $PKGS 2>/dev/null | tr ' ' '\n' | grep -v '^-specs=' | tr '\n' ' ') -lunistring -lm"
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cflags="-O1 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -I$root/include $pkg_cflags $san \
 -DDEALMAIL_DATADIR=\"/usr/local/share/dealmail\" -DDEALMAIL_SRCDIR=\"$root\""

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for f in "$here"/fuzz_*.c; do
		t=$(basename "$f" .c)
		targets+=("${t#fuzz_}")
	done
fi

# --- build the library once (instrumented for coverage, not linked with main)
echo "fuzz: building with $CC_FUZZ into $out"
objs=()
for src in "$root"/src/*.c; do
	[ "$(basename "$src")" = main.c ] && continue
	o="$out/obj/$(basename "$src" .c).o"
	if [ ! -e "$o" ] || [ "$src" -nt "$o" ] || [ -n "$(find "$root/include" -newer "$o" -name '*.h' -print -quit)" ]; then
		# shellcheck disable=SC2086
		$CC_FUZZ $cflags -fsanitize=fuzzer-no-link -c -o "$o" "$src" || { echo "fuzz: cannot compile $src" >&2; exit 2; }
	fi
	objs+=("$o")
done
# an archive, as for the unit tests: only the objects a target needs are linked
rm -f "$out/libdealmail-fuzz.a" && ar rcs "$out/libdealmail-fuzz.a" "${objs[@]}" || exit 2
for t in "${targets[@]}"; do
	# shellcheck disable=SC2086
	$CC_FUZZ $cflags -Werror -fsanitize=fuzzer -o "$out/fuzz_$t" "$here/fuzz_$t.c" "$out/libdealmail-fuzz.a" $pkg_libs \
		|| { echo "fuzz: cannot build fuzz_$t" >&2; exit 2; }
done

# --- seeds
seed() {  # target -> seed dir
	local t=$1 d="$out/seeds/$1"
	rm -rf "$d"
	mkdir -p "$d"
	cp "$root"/tests/corpus/cases/*.eml "$d/" 2>/dev/null
	case $t in
	config_load)
		for c in "$root"/tests/corpus/*.conf "$root"/contrib/*.conf "$root"/contrib/demo/*.conf; do
			[ -f "$c" ] && cp "$c" "$d/conf-$(echo "$c" | md5sum | cut -c1-8)"
		done ;;
	template_render)
		find "$root/templates" -type f \( -name '*.txt' -o -name '*.html' \) 2>/dev/null | while read -r f; do
			cp "$f" "$d/tpl-$(echo "$f" | md5sum | cut -c1-8)"
		done ;;
	parse_value)
		i=0
		for v in "12000" "12.000,50 EUR" '$12,000.50' "R\$ 1.234,56" "1 234,5 €" "USD 3k" "-5" "2026-12-15" "15/12/2026" \
			 "+14d" "+2w" "2026-02-29" "31/04/2026" "2026-11-23
+1d"; do
			printf '%s' "$v" > "$d/v$i"; i=$((i + 1))
		done ;;
	commands_parse)
		printf 'etapa: propuesta\nvalor: 12.000,50 EUR\ncierre: +14d\n#12 stage: demo\n[deal #3] lost: price\ntarea: llamar @ 2026-12-01\nprobabilidad: 60%%\npuntos: -10\ndrip: start proposal-followup\n' > "$d/cmds"
		;;
	esac
	# the committed reproducers of earlier crashes are regression seeds
	cp "$here"/crashes/"$t"-* "$d/" 2>/dev/null
	echo "$d"
}

max_len() {  # longer inputs only slow a target down without new paths
	case $1 in
	message_parse) echo 1048576 ;;
	reply_visible|commands_parse) echo 262144 ;;
	config_load|template_render) echo 65536 ;;
	*) echo 4096 ;;
	esac
}

# --- run: FUZZ_PARALLEL targets at once, each with FUZZ_JOBS libFuzzer workers
par=${FUZZ_PARALLEL:-1}
njobs=${FUZZ_JOBS:-1}
# the temporary files of config_load/template_render, private to this run
tmp="$out/tmp"
rm -rf "$tmp" && mkdir -p "$tmp"

run_target() {  # target -> its report on stdout and in logs/<target>.report; status in logs/<target>.rc
	local t=$1 s c log wd rc execs cov n line
	s=$(seed "$t")
	c="$out/corpus/$t"
	mkdir -p "$c"
	log="$out/logs/$t.log"
	# libFuzzer writes its workers' fuzz-N.log in the cwd: one directory a target
	wd="$out/logs/$t.d"
	rm -rf "$wd" && mkdir -p "$wd" && : >"$wd/start"
	echo "fuzz: $t for ${secs}s ($(ls "$s" | wc -l) seeds)"
	local extra=()
	[ -f "$here/$t.dict" ] && extra+=("-dict=$here/$t.dict")
	[ "$njobs" -gt 1 ] && extra+=("-jobs=$njobs" "-workers=$njobs")
	(cd "$wd" && TMPDIR="$tmp" ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1} \
	UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
	"$out/fuzz_$t" "$c" "$s" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len "$t")" \
		-print_final_stats=1 \
		-artifact_prefix="$out/crashes/$t-" "${extra[@]}" >"$log" 2>&1)
	rc=$?
	# with FUZZ_JOBS > 1 the log holds every worker's: executions add up, coverage is the best worker's
	execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{s+=$2} END {print s+0}')
	cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | awk '$2>c {c=$2} $4>f {f=$4} END {if (NR) printf "cov: %d ft: %d", c, f}')
	n=$(ls "$c" | wc -l)
	line=$(printf '%-16s %10s execs  %-22s corpus %5s  %s' "$t" "$execs" "${cov:-cov: ?}" "$n" \
		"$([ $rc -eq 0 ] && echo ok || echo "FAILED (exit $rc, see $log)")")
	{
		echo "$line"
		if [ $rc -ne 0 ]; then
			grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|SUMMARY' "$log" | sed 's/^/    /'
			# this run's reproducers only (older ones stay in crashes/ too)
			find "$out/crashes" -name "$t-*" -newer "$wd/start" | sort | sed 's/^/    reproducer: /'
		fi
	} >"$out/logs/$t.report"
	echo "$rc" >"$out/logs/$t.rc"
	cat "$out/logs/$t.report"
}

if [ "$par" -gt 1 ]; then
	# each target in its own process group, so that an interrupt stops its fuzzers too
	set -m
	pids=()
	trap 'for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null; done; exit 130' INT TERM
	for t in "${targets[@]}"; do
		while [ "$(jobs -rp | wc -l)" -ge "$par" ]; do wait -n; done
		run_target "$t" &
		pids+=($!)
	done
	wait
	trap - INT TERM
else
	for t in "${targets[@]}"; do
		run_target "$t"
	done
fi

status=0
echo "fuzz: summary (${secs}s per target)"
for t in "${targets[@]}"; do
	rc=$(cat "$out/logs/$t.rc" 2>/dev/null || echo 2)
	if [ "$rc" != 0 ]; then
		status=1
		cat "$out/logs/$t.report" 2>/dev/null || echo "$t: no report"
	else
		head -1 "$out/logs/$t.report"
	fi
done
rm -rf "$tmp"
exit $status
