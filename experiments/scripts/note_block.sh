#!/usr/bin/env bash
# experiments/scripts/note_block.sh NOTES TAG FILE: replace the lines between "<!-- TAG -->" and
# "<!-- /TAG -->" in the notes file NOTES by the contents of FILE (with a blank line on each side),
# so that a script regenerates its table or status inside a chapter. The result is written to a
# temporary file and renamed: an interrupted run never leaves half a chapter. Missing markers: a
# warning, exit 0, the notes untouched. Used by experiments/scripts/study/report.sh, vit_quality.sh and
# compare_torch.sh.
set -euo pipefail
notes=$1 tag=$2 file=$3
if ! grep -qxF "<!-- $tag -->" "$notes" || ! grep -qxF "<!-- /$tag -->" "$notes"; then
    echo "note_block: $notes has no <!-- $tag --> ... <!-- /$tag --> block; skipped" >&2
    exit 0
fi
tmp=$(mktemp "$notes.XXXXXX")
awk -v start="<!-- $tag -->" -v end="<!-- /$tag -->" -v file="$file" '
    $0 == start { print; print ""; while ((getline line < file) > 0) print line; print ""; skip = 1; next }
    $0 == end { skip = 0 }
    !skip { print }' "$notes" > "$tmp"
mv "$tmp" "$notes"
