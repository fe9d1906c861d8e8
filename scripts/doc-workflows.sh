#!/usr/bin/env bash
# make lint: checks the workflows docs/imgcompare.md shows (its ```yaml blocks that
# are whole workflows, starting with name:) with the actionlint command
# given, as the repository's own workflows are checked.
#   scripts/doc-workflows.sh ACTIONLINT...
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# actionlint reads workflows from a repository's .github/workflows.
mkdir -p "$work/.github/workflows"
awk -v dir="$work/.github/workflows" '
	/^```yaml$/ { inblock = 1; n++; file = sprintf("%s/readme-%d.yml", dir, n); first = 1; next }
	/^```$/ && inblock { inblock = 0; close(file); next }
	inblock {
		if (first && $0 !~ /^name:/) { inblock = 0; next }
		first = 0
		print > file
	}
' docs/imgcompare.md
files=("$work"/.github/workflows/*.yml)
[ -e "${files[0]}" ] || { echo "doc-workflows: docs/imgcompare.md shows no workflow" >&2; exit 1; }
echo "doc-workflows: ${#files[@]} workflows in docs/imgcompare.md" >&2
"$@" "${files[@]}"
