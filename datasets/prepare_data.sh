#!/usr/bin/env bash
# datasets/prepare_data.sh DATA_DIR: make plat's two real data sets from Debian packages
# (notes/06a-data.md). Writes DATA_DIR/kjv.txt (the King James Bible, cleaned: one verse per
# line) and DATA_DIR/fashion-mnist/*-ubyte (the four idx files, gunzipped). Idempotent: a file
# that is already present and verified is left alone. Every output is written to a temporary
# name in the same directory and renamed, so an interrupted run never leaves a half-written file.
# Run by `make data`; by hand: bash datasets/prepare_data.sh data
set -euo pipefail

DATA_DIR=${1:-data}
FMNIST_SRC=/usr/share/datasets/fashion-mnist
PKGS="bible-kjv bible-kjv-text dataset-fashion-mnist"

say() { echo "prepare_data: $*"; }
die() { echo "prepare_data: error: $*" >&2; exit 1; }

start_ns=$(date +%s%N)

# --- 1. Debian packages ---------------------------------------------------------------------
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO=sudo
    say "installing$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
else
    say "packages present: $PKGS"
fi
command -v bible >/dev/null || die "the 'bible' program is missing after installing bible-kjv"

mkdir -p "$DATA_DIR/fashion-mnist"

# --- 2. KJV ---------------------------------------------------------------------------------
# `bible gen1:1-rev22:21` prints, for each of the 1189 chapters, a blank line, a heading
# ("Genesis 1", "1 Samuel 3", "Song of Solomon 2"), a blank line, then the verses: a verse
# starts with two spaces, its number and a space ("  1 In the beginning ...") and is wrapped
# at word boundaries onto further lines that start in column 0; the width follows $COLUMNS.
# Cleaning rules (notes/06a-data.md, "Cleaning the KJV"):
#   1. a non-blank line that starts with a non-space and follows a blank line is a chapter
#      heading: kept as its own line; chapters after the first are preceded by one blank line;
#   2. a line "  N text" starts a verse: the number N and the indentation are dropped;
#   3. any other non-blank line continues the current verse: joined with one space;
#   4. inside a verse, runs of spaces become one space; leading and trailing spaces go;
#   5. the file ends with one newline; only bytes 0x0A and 0x20-0x7E may appear.
# Joining makes the result independent of the wrap width: COLUMNS is fixed anyway.
clean_kjv() {
    COLUMNS=80 bible gen1:1-rev22:21 | LC_ALL=C awk '
        function flush() {
            if (verse != "") {
                gsub(/  +/, " ", verse); sub(/^ /, "", verse); sub(/ $/, "", verse)
                print verse; verses++
            }
            verse = ""
        }
        /^$/ { flush(); blank = 1; next }
        blank && /^[^ ]/ {
            if (chapters > 0) print ""
            print $0; chapters++; blank = 0; next
        }
        /^  [0-9]+ / { flush(); line = $0; sub(/^  [0-9]+ /, "", line); verse = line; blank = 0; next }
        /^[^ ]/ && verse != "" { verse = verse " " $0; blank = 0; next }
        { printf "prepare_data: unexpected line %d: [%s]\n", NR, $0 > "/dev/stderr"; bad = 1; exit 1 }
        END {
            flush()
            if (bad) exit 1
            printf "prepare_data: kjv: %d chapters, %d verses\n", chapters, verses > "/dev/stderr"
            if (chapters != 1189 || verses != 31102) {
                print "prepare_data: expected 1189 chapters and 31102 verses" > "/dev/stderr"; exit 1
            }
        }'
}

# The sha256 of the cleaned text made from bible-kjv-text 4.38. A different hash is reported
# (a newer package may have corrected a typo) but is not an error; the counts above are.
KJV_SHA256=07c470deb9cc4b58701c05d9981d4803228519f2635cee3740cf0c076a8d9b05

check_kjv() {  # check_kjv FILE: structure and ASCII checks; prints nothing on success
    local f=$1
    [ -s "$f" ] || { echo "empty or missing"; return 1; }
    if LC_ALL=C grep -q '[^ -~]' "$f"; then echo "has bytes outside 0x20-0x7E besides newline"; return 1; fi
    local lines; lines=$(wc -l < "$f")
    # 31102 verse lines + 1189 headings + 1188 blank separators
    [ "$lines" = 33479 ] || { echo "has $lines lines, expected 33479"; return 1; }
    [ "$(tail -c 1 "$f" | od -An -c | tr -d ' ')" = '\n' ] || { echo "does not end with a newline"; return 1; }
    return 0
}

kjv="$DATA_DIR/kjv.txt"
if [ -f "$kjv" ] && problem=$(check_kjv "$kjv"); then
    say "$kjv present ($(wc -c < "$kjv") bytes), checks pass: left alone"
else
    [ -f "$kjv" ] && say "$kjv fails a check ($problem): rebuilding"
    tmp=$(mktemp "$DATA_DIR/.kjv.txt.XXXXXX")
    trap 'rm -f "$tmp"' EXIT
    clean_kjv > "$tmp" || die "cleaning the KJV failed (see above)"
    problem=$(check_kjv "$tmp") || die "the cleaned KJV $problem"
    chmod 644 "$tmp"  # mktemp makes 0600 files
    mv "$tmp" "$kjv"
    trap - EXIT
    say "wrote $kjv ($(wc -c < "$kjv") bytes, $(wc -l < "$kjv") lines)"
fi
sha=$(sha256sum "$kjv" | cut -d' ' -f1)
if [ "$sha" = "$KJV_SHA256" ]; then
    say "kjv.txt sha256 matches the documented one"
else
    say "note: kjv.txt sha256 $sha differs from the documented $KJV_SHA256 (a different bible-kjv-text version?)"
fi

# --- 3. Fashion-MNIST -----------------------------------------------------------------------
# idx sizes: images 16-byte header + N*28*28 bytes, labels 8-byte header + N bytes.
declare -A SIZE=(
    [train-images-idx3-ubyte]=$((16 + 60000 * 784))
    [train-labels-idx1-ubyte]=$((8 + 60000))
    [t10k-images-idx3-ubyte]=$((16 + 10000 * 784))
    [t10k-labels-idx1-ubyte]=$((8 + 10000))
)
for name in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    out="$DATA_DIR/fashion-mnist/$name"
    want=${SIZE[$name]}
    if [ -f "$out" ] && [ "$(stat -c %s "$out")" = "$want" ]; then
        say "$out present ($want bytes): left alone"
        continue
    fi
    src="$FMNIST_SRC/$name.gz"
    [ -f "$src" ] || die "$src is missing; is dataset-fashion-mnist installed? (dpkg -L dataset-fashion-mnist)"
    tmp=$(mktemp "$DATA_DIR/fashion-mnist/.$name.XXXXXX")
    trap 'rm -f "$tmp"' EXIT
    gzip -dc "$src" > "$tmp" || die "gunzip of $src failed"
    got=$(stat -c %s "$tmp")
    [ "$got" = "$want" ] || die "$src unpacks to $got bytes, expected $want"
    chmod 644 "$tmp"
    mv "$tmp" "$out"
    trap - EXIT
    say "wrote $out ($got bytes) from $src"
done

end_ns=$(date +%s%N)
say "done in $(( (end_ns - start_ns) / 1000000 )) ms; data in $DATA_DIR"
