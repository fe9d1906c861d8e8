#!/usr/bin/env bash
# The action's second step: runs imgcompare on the baseline and the
# images with the gates set, writes the markdown report to the job
# summary, the figures of the last image to the step's outputs, one
# annotation per broken rule, and, with INPUT_COMMENT=true, creates or
# updates the pull request's comment marked with INPUT_COMMENT_KEY. Exits
# with imgcompare's status: 0, 1 when a rule is broken, 2 when an image
# cannot be read. Needs bash, curl and jq (GitHub's runners have them).
set -uo pipefail
export LC_ALL=C.UTF-8 # string lengths and cuts count characters

key=${INPUT_COMMENT_KEY:-imgcompare}
out="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/imgcompare-action/$(printf %s "$key" | tr -c 'A-Za-z0-9._-' _)"
mkdir -p "$out"
command -v jq >/dev/null || { echo "::error::imgcompare: the action needs jq on the runner"; exit 2; }

read -r -a images <<<"$(printf '%s' "$INPUT_IMAGES" | tr '\n' ' ')"
[ ${#images[@]} -gt 0 ] || { echo "::error::imgcompare: no image given (input images)"; exit 2; }
list=()
[ -n "${INPUT_BASELINE:-}" ] && list+=("$INPUT_BASELINE")
list+=("${images[@]}")

args=(--quiet -o markdown --report "json=$out/report.json" --report "junit=$out/junit.xml")
flag() { [ -n "$2" ] && args+=("--$1" "$2"); }
flag max-size "${INPUT_MAX_SIZE:-}"
flag max-compressed-size "${INPUT_MAX_COMPRESSED_SIZE:-}"
flag min-reduction "${INPUT_MIN_REDUCTION:-}"
flag min-efficiency "${INPUT_MIN_EFFICIENCY:-}"
flag max-wasted-bytes "${INPUT_MAX_WASTED_BYTES:-}"
flag max-wasted-percent "${INPUT_MAX_WASTED_PERCENT:-}"
flag forbid "${INPUT_FORBID:-}"
flag platform "${INPUT_PLATFORM:-}"

"$IMGCOMPARE" "${args[@]}" "${list[@]}" >"$out/report.md" 2>"$out/stderr"
status=$?
cat "$out/stderr" >&2
if [ $status -ne 0 ] && [ $status -ne 1 ]; then
	echo "::error title=imgcompare::$(grep -v '^imgcompare: budget: ' "$out/stderr" | tail -n 1)"
	exit $status
fi
mapfile -t violations < <(sed -n 's/^imgcompare: budget: //p' "$out/stderr")
for v in "${violations[@]}"; do
	echo "::error title=imgcompare budget::$v"
done

# The outputs: the figures of the last image.
last='.images[-1]'
{
	echo "size=$(jq -r "$last.size.uncompressed // empty" "$out/report.json")"
	echo "compressed-size=$(jq -r "$last.size.compressed" "$out/report.json")"
	echo "reduction=$(jq -r "$last.reduction.uncompressed.percent // empty" "$out/report.json")"
	echo "efficiency=$(jq -r "$last.waste.efficiency // empty" "$out/report.json")"
	echo "wasted-bytes=$(jq -r "$last.waste.wasted_bytes // empty" "$out/report.json")"
	echo "report=$out/report.md"
	echo "violations=${#violations[@]}"
} >>"${GITHUB_OUTPUT:-/dev/null}"

# The report: a verdict, the table, the broken rules, and the diffs.
{
	echo "<!-- imgcompare: $key -->"
	echo "## imgcompare"
	echo
	if [ ${#violations[@]} -eq 0 ]; then
		echo "All rules kept."
	else
		echo "**${#violations[@]} rule(s) broken.**"
	fi
	echo
	cat "$out/report.md"
	if [ "${INPUT_DIFF:-false}" = true ] && [ -n "${INPUT_BASELINE:-}" ]; then
		for img in "${images[@]}"; do
			"$IMGCOMPARE" diff --quiet -o markdown --largest 20 "$INPUT_BASELINE" "$img" >"$out/diff.md" 2>"$out/diff.stderr"
			code=$?
			cat "$out/diff.stderr" >&2
			if [ $code -gt 1 ]; then
				echo "::error title=imgcompare diff::$(tail -n 1 "$out/diff.stderr")" >&2
				status=2
				continue
			fi
			echo
			echo "<details><summary>What changed from <code>$INPUT_BASELINE</code> to <code>$img</code></summary>"
			echo
			cat "$out/diff.md"
			echo
			echo "</details>"
		done
	fi
} >"$out/body.md"

# cut_to FILE LIMIT UNIT NOTE: FILE's text, cut at a line end to hold within
# LIMIT characters (UNIT c) or bytes (UNIT b) with NOTE after it.
cut_to() {
	local text limit=$2 note=$4
	text=$(cat "$1")
	local size=${#text}
	[ "$3" = b ] && size=$(wc -c <"$1")
	if [ "$size" -le "$limit" ]; then
		printf '%s\n' "$text"
		return
	fi
	local keep=$((limit - ${#note} - 2))
	if [ "$3" = b ]; then
		text=$(printf '%s' "$text" | head -c "$keep" | iconv -c -f UTF-8 -t UTF-8)
	else
		text=${text:0:keep}
	fi
	printf '%s\n\n%s\n' "${text%$'\n'*}" "$note"
}

run_url="${GITHUB_SERVER_URL:-https://github.com}/${GITHUB_REPOSITORY:-}/actions/runs/${GITHUB_RUN_ID:-}"
# A step's summary holds 1 MiB.
cut_to "$out/body.md" 1048576 b "… the report is longer than a job summary holds (1 MiB): the whole of it is the action's output report." >"$out/summary.md"
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
	cat "$out/summary.md" >>"$GITHUB_STEP_SUMMARY"
fi

if [ "${INPUT_COMMENT:-false}" = true ]; then
	pr=${INPUT_PULL_REQUEST:-}
	if [ -z "$pr" ] && [ -f "${GITHUB_EVENT_PATH:-}" ]; then
		pr=$(jq -r '.pull_request.number // .issue.number // empty' "$GITHUB_EVENT_PATH")
	fi
	if [ -z "$pr" ]; then
		echo "::warning title=imgcompare::comment: true, but this run is not for a pull request (set pull-request)"
	else
		api=${GITHUB_API_URL:-https://api.github.com}
		repo=$GITHUB_REPOSITORY
		# A comment holds 65,536 characters.
		cut_to "$out/body.md" 65536 c "… the report is longer than a comment holds: the whole of it is in [the job summary]($run_url)." >"$out/comment.md"
		# request METHOD URL [BODY-FILE]: the response in $out/response,
		# the HTTP status in $code; fails unless the status is 2xx.
		request() {
			local extra=()
			[ $# -gt 2 ] && extra=(--data-binary "@$3" -H "Content-Type: application/json")
			code=$(curl -sS -X "$1" -o "$out/response" -w '%{http_code}' \
				-H "Authorization: Bearer $GITHUB_TOKEN" -H "Accept: application/vnd.github+json" \
				-H "X-GitHub-Api-Version: 2022-11-28" "${extra[@]}" "$2") || code=none
			case $code in 2??) return 0 ;; esac
			return 1
		}
		marker="<!-- imgcompare: $key -->"
		jq -Rs '{body: .}' "$out/comment.md" >"$out/comment.json"
		id="" page=1 ok=true
		while :; do
			request GET "$api/repos/$repo/issues/$pr/comments?per_page=100&page=$page" || { ok=false; break; }
			id=$(jq -r --arg m "$marker" '[.[] | select(.body | startswith($m))][0].id // empty' "$out/response")
			[ -n "$id" ] && break
			[ "$(jq length "$out/response")" -lt 100 ] && break
			page=$((page + 1))
		done
		if $ok && [ -n "$id" ]; then
			request PATCH "$api/repos/$repo/issues/comments/$id" "$out/comment.json" && echo "imgcompare: updated comment $id on pull request $pr" || ok=false
		elif $ok; then
			request POST "$api/repos/$repo/issues/$pr/comments" "$out/comment.json" && echo "imgcompare: commented on pull request $pr" || ok=false
		fi
		if ! $ok; then
			echo "::warning title=imgcompare::the pull request comment failed (HTTP $code $(jq -r '.message // empty' "$out/response" 2>/dev/null)); a pull request from a fork gets a read-only token: see the README's workflow_run pattern"
		fi
	fi
fi
exit $status
