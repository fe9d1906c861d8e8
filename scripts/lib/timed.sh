# shellcheck shell=bash disable=SC2154 # $work is the sourcing script's
# Timing for the benchmark scripts, which set $work, a scratch directory.
#
#   timed NAME CMD...   runs CMD once, appending "seconds KiB CPU-seconds"
#                       (wall time, peak RSS, user and system time) to
#                       $work/NAME
#   col NAME N          the median of column N of $work/NAME

timed() {
	local name=$1
	shift
	/usr/bin/time -f '%e %M %U %S' -o "$work/t" "$@" >/dev/null 2>&1 || true
	awk '{print $1, $2, $3 + $4}' "$work/t" >>"$work/$name"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

col() { awk -v c="$2" '{print $c}' "$work/$1" | median; }
