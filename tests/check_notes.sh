#!/bin/bash
# tests/check_notes.sh: the notes cannot point at code that is not there. Reads every notes/**/*.md
# and README.md and prints one line "FILE.md:LINE: problem" for each citation that is wrong:
#
#   1. A cited path that does not exist. A path is a `backticked` word or a markdown link target that
#      starts with core/ autograd/ nn/ datasets/ experiments/ tests/ notes/ figures/ (figures/ and
#      links are relative to the chapter's folder), or is Makefile or README.md; or such a path to a
#      .cpp .h .sh .py .awk .md file written in plain text. `path:123`, `path arguments` and
#      `bash path` are checked by the path part; `dir/*.cpp` must match a file; in
#      `tests/fuzz/corpus/<target>/` or `a/{b,c}.h` the folder before the placeholder must exist;
#      `notes/03` names chapter notes/03-*.md. A file named without its folder (`var.cpp`,
#      `plat_torch.py`; .cpp .h .sh .py .awk .md) must be the name of some file in the repository.
#      Never checked: paths under build*/, runs/, data/ or tests/exercises/work/ (made by running
#      plat or `make exercise`, not in the tree)
#      and web links.
#   2. A cited function or type that is not defined in the file(s) named beside it. The forms, taken
#      from how the notes write citations ("group" = one path, or several joined by ", " "/" "and",
#      where `probe.cpp` or `.cpp` after a full path means the same folder or the same stem):
#        `nn/attention.cpp`: `attention_forward`, `attention_backward` (sentence up to ". " or ";")
#        `nn/attention.cpp` (`attention_forward`, `attention_backward`)
#        `nn/attention.cpp`, `attention_backward`      `nn/attention.cpp` `attention_backward`
#        `attention_backward` (`nn/attention.cpp`)     `attention_backward` in/of `nn/attention.cpp`
#        | ... | `nn/attention.cpp` | `attention_forward`, ... |   (the cell after the path's cell,
#            unless that column's header says the row's file "calls" or "uses" them)
#      A list of names may have a parenthesis after each name; names inside count when it opens
#      with one, as in `Tensor` (`reshape`, `clone`). The list ends at the first other word, so
#      prose after it ("`fast_exp`, used by `gelu`") is not read as a citation.
#      A name counts as defined in C++ when the file (comments and strings removed) has it as
#      `Type name(` or `Type Class::name(` or `name(` at column 0 (a function), `Type name =|;|{|[`
#      (a variable, member or constant), after class/struct/enum/union/namespace/using/#define, or
#      as an enumerator; `Class::name` is defined by an out-of-line `Class::name` or by Class and
#      name both defined in the group. Shell: `name()`; Python: def/class/`name =`; awk: function;
#      Makefile: a target or variable. ALL_CAPS names (environment variables, macros) need only
#      appear in the file. A call such as `x = name(` or `return name(` is not a definition.
#      Not checked: `std::`, `json::`, `CLI::` names (not plat's) and suffixes such as `_naive`.
#
# Usage: tests/check_notes.sh             the notes and README.md; exit 1 when a problem is found
#        tests/check_notes.sh FILE.md...  only those files
#        tests/check_notes.sh --list FILE.md  the citations it finds, as "P where path" (a path) and
#                                         "D where files name" (a name defined in one of the files)
#        tests/check_notes.sh --self-test tests/fixtures/notes_check: good.md must give no problem,
#                                         bad.md exactly one per line marked "<!-- bad -->"
#        CHECK_NOTES_DEBUG=1 tests/check_notes.sh ...  also prints the line that defines each name
# Needs bash, awk (mawk is enough), sort; runs in about a second.
set -u
cd "$(dirname "$0")/.." || exit 2

# check FILE.md...: prints the problems sorted by file and line, returns 1 when there is one.
check() {
    local tmp
    tmp=$(mktemp -d) || return 2
    # Pass 1: the citations, as "P<TAB>where<TAB>path", "B<TAB>where<TAB>file name" (no folder) and
    # "D<TAB>where<TAB>file file...<TAB>name" (a name defined in one of the files).
    awk -f - "$@" > "$tmp/cites" <<'AWK'
function is_repo_path(s) {
    return s ~ /^(core|autograd|nn|datasets|experiments|tests|notes|figures)\// || s == "Makefile" || s == "README.md"
}
# The path part of a backticked span, "" when the span is not a repository path.
function path_of(s,   p) {
    p = s
    sub(/^(bash|sh|python3|\/usr\/bin\/python3)[ \t]+/, "", p)   # `bash experiments/scripts/demo.sh`
    sub(/[ \t].*$/, "", p)              # `tests/run.sh BUILD` -> tests/run.sh
    sub(/:[0-9][0-9,-]*$/, "", p)       # `nn/attention.cpp:120` -> nn/attention.cpp
    sub(/[,;:.]$/, "", p)
    if (!is_repo_path(p)) return ""
    return p
}
function resolve(p) {                   # figures/ is relative to the chapter's folder
    if (p ~ /^figures\// && mddir != ".") return mddir "/" p
    return p
}
function is_short(s) { return s ~ /^[A-Za-z0-9_.-]*\.(cpp|h|sh|py|awk|md)$/ && s !~ /\// }
# The identifier a span names, "" when it is not one: `plat::Var::backward()` -> Var::backward,
# `record("linear", y)` -> record.
function ident_of(s,   t) {
    t = s
    if (t ~ /\(.*\)$/) sub(/\(.*\)$/, "", t)
    sub(/^plat::/, "", t)
    if (t ~ /^(std|json|nlohmann|CLI)::/) return ""   # the standard library's and dependencies' names
    if (t !~ /^[A-Za-z_][A-Za-z0-9_]*(::~?[A-Za-z_][A-Za-z0-9_]*)*$/) return ""
    if (t in keyword || t ~ /^_/) return ""      # `_naive`: a suffix, not a name
    return t
}
function flush_block(   i) {
    if (nt > 0) scan_block()
    nt = 0
}
# Splits one line into text and span tokens of the current block.
function add_line(line, ln,   pos, rest, q) {
    rest = line
    while ((pos = index(rest, "`")) > 0) {
        q = index(substr(rest, pos + 1), "`")
        if (q == 0) break
        add_text(substr(rest, 1, pos - 1), ln)
        add_tok("S", substr(rest, pos + 1, q - 1), ln)
        rest = substr(rest, pos + q + 1)
    }
    add_text(rest " ", ln)
    links(line, ln)
}
# Text, with a path written without backticks (nn/config.h) made a span of its own.
function add_text(text, ln,   before, c) {
    before = ""
    while (match(text, /(core|autograd|nn|datasets|experiments|tests|notes)\/[A-Za-z0-9_.\/-]*\.(cpp|h|sh|py|awk|md)/)) {
        c = RSTART > 1 ? substr(text, RSTART - 1, 1) : substr(before, length(before), 1)
        if (c ~ /[A-Za-z0-9_.\/-]/ || substr(text, RSTART + RLENGTH, 1) ~ /[A-Za-z0-9_\/-]/) {   # part of a URL or a longer word
            before = before substr(text, 1, RSTART + RLENGTH - 1); text = substr(text, RSTART + RLENGTH); continue
        }
        add_tok("T", before substr(text, 1, RSTART - 1), ln)
        add_tok("S", substr(text, RSTART, RLENGTH), ln)
        before = ""; text = substr(text, RSTART + RLENGTH)
    }
    add_tok("T", before text, ln)
}
function add_tok(type, text, ln) {
    if (type == "T") { gsub(/\*/, "", text) }   # emphasis around spans: **`core/x.h`**:
    if (type == "T" && nt > 0 && ttype[nt] == "T") { ttext[nt] = ttext[nt] "\n" text; return }
    nt++; ttype[nt] = type; ttext[nt] = text; tline[nt] = ln
}
# Markdown links and images outside spans: [text](target), ![alt](target).
function links(line, ln,   s, t) {
    s = line
    gsub(/`[^`]*`/, "", s)
    while (match(s, /\]\([^) \t]+[) \t]/)) {
        t = substr(s, RSTART + 2, RLENGTH - 3)
        s = substr(s, RSTART + RLENGTH)
        if (t ~ /^[a-z]+:/ || t ~ /^#/) continue
        sub(/#.*$/, "", t)
        if (t == "") continue
        if (mddir != ".") t = mddir "/" t
        while (t ~ /(^|\/)[^\/.][^\/]*\/\.\.\//) sub(/[^\/.][^\/]*\/\.\.\//, "", t)
        sub(/^\.\//, "", t)
        print "P\t" where(ln) "\t" t
    }
}
function where(ln) { return curfile ":" ln }
function emit_def(group, k, name) {
    if (group == "" || name == "") return
    print "D\t" where(tline[k]) "\t" group "\t" name
}
# Reads the path group starting at span k; sets gend (its last token) and returns the files.
# With emit, prints each path for the existence check.
function read_group(k, emit,   g, p, last, j) {
    p = resolve(path_of(ttext[k])); g = p; last = p; j = k
    if (emit) print "P\t" where(tline[k]) "\t" p
    while (j + 2 <= nt && ttype[j + 1] == "T" && ttext[j + 1] ~ /^[ \t\n]*(,|\/|and|, and)[ \t\n]*$/ && ttype[j + 2] == "S") {
        if (path_of(ttext[j + 2]) != "") p = resolve(path_of(ttext[j + 2]))
        else if (is_short(ttext[j + 2]) && ttext[j + 2] ~ /^\./) { p = last; sub(/\.[^.\/]*$/, "", p); p = p ttext[j + 2] }
        else if (is_short(ttext[j + 2])) { p = last; sub(/[^\/]*$/, "", p); p = p ttext[j + 2] }
        else break
        if (emit) { print "P\t" where(tline[j + 2]) "\t" p; ingroup[j + 2] = 1 }
        g = g " " p; last = p; j += 2
    }
    gend = j
    return g
}
# Identifiers in a chain of spans ending at k, joined by ", " "/" "and": `a`, `b` and `c` (`path`).
function chain_backward(group, k,   j) {
    j = k
    while (j >= 1 && ttype[j] == "S" && ident_of(ttext[j]) != "") {
        emit_def(group, j, ident_of(ttext[j])); claimed[j] = 1
        if (j - 2 >= 1 && ttext[j - 1] ~ /^[ \t\n]*(,|\/|and|, and|or)[ \t\n]*$/) j -= 2; else break
    }
}
# The names of a list that starts at token k (first = that token's text): spans joined by
# separators (, ; : / and or ...), each perhaps followed by a parenthesis; the names inside a
# parenthesis count when it opens with a name, as in `Tensor` (`reshape`, `clone`). Ends at other
# words (prose), a path, a table cell's end, or (mode "paren") the parenthesis it starts with.
function collect(group, k, first, mode,   j, depth, i, c, txt, outside, opened, rest) {
    depth = 0; listok[0] = 1; opened = 0
    for (j = k; j <= nt; j++) {
        if (ttype[j] == "S") {
            if (path_of(ttext[j]) != "") return
            if (listok[depth] && ident_of(ttext[j]) != "" && !(j in claimed)) { emit_def(group, j, ident_of(ttext[j])); claimed[j] = 1 }
            continue
        }
        txt = (j == k) ? first : ttext[j]
        outside = ""
        for (i = 1; i <= length(txt); i++) {
            c = substr(txt, i, 1)
            if (c == "|") return
            if (c == "(") {
                depth++; opened = 1
                rest = substr(txt, i + 1)
                listok[depth] = listok[depth - 1] && rest ~ /^[ \t\n]*$/ && j + 1 <= nt && ident_of(ttext[j + 1]) != ""
            } else if (c == ")") {
                if (--depth < 0) return
                if (depth == 0 && mode == "paren") return
            } else if (depth == 0) outside = outside c
        }
        gsub(/\.\.\./, "", outside)
        if (outside !~ /^[ \t\n,;:\/]*((and|or)[ \t\n,;:\/]+)*$/) return
        if (mode == "paren" && !opened) return
    }
}
function scan_block(   k, g, t, n, col, pathcol, j) {
    split("", claimed); split("", ingroup)
    # First the names written before their path (they win over a table row's file).
    for (k = 1; k <= nt; k++) {
        if (ttype[k] != "S" || path_of(ttext[k]) == "") continue
        g = read_group(k, 1)
        if (k >= 3 && ttype[k - 1] == "T" && ttext[k - 1] ~ /^[ \t\n]*\([ \t\n]*$/) chain_backward(g, k - 2)
        if (k >= 3 && ttype[k - 1] == "T" && ttext[k - 1] ~ /^[ \t\n]+(in|of)[ \t\n]+$/) chain_backward(g, k - 2)
        k = gend
    }
    # A file named without its folder, outside a group: some file of that name must exist.
    for (k = 1; k <= nt; k++)
        if (ttype[k] == "S" && is_short(ttext[k]) && ttext[k] !~ /^\./ && !(k in ingroup)) print "B\t" where(tline[k]) "\t" ttext[k]
    # Then the names after a path group, and in a table row the cell after the path's cell.
    col = 0; pathcol = 0
    for (k = 1; k <= nt; k++) {
        if (ttype[k] == "T") {
            t = ttext[k]; n = gsub(/\|/, "|", t)
            if (pathcol > 0 && col < pathcol + 1 && col + n >= pathcol + 1 && !((pathcol + 1) in uses_col)) {
                for (j = col; j < pathcol + 1; j++) t = substr(t, index(t, "|") + 1)
                collect(rowgroup, k, t, "cell")
            }
            col += n; continue
        }
        if (path_of(ttext[k]) == "") continue
        g = read_group(k, 0); k = gend
        if (block_is_row && pathcol == 0) { pathcol = col; rowgroup = g }
        if (k + 1 > nt) continue
        t = ttext[k + 1]
        if (t ~ /^[ \t\n]*:/) { sub(/^[ \t\n]*:/, "", t); collect(g, k + 1, t, "colon") }
        else if (t ~ /^[ \t\n]*\([ \t\n]*$/) collect(g, k + 1, t, "paren")
        else if (t ~ /^[ \t\n]*(,[ \t\n]*(functions?[ \t\n]+)?|[ \t\n]+)$/ && k + 2 <= nt && ident_of(ttext[k + 2]) != "") collect(g, k + 1, "", "colon")
    }
}
BEGIN {
    nk = split("return throw new delete else case goto do sizeof and or not true false nullptr void " \
               "int float double char bool auto const static inline constexpr struct class enum " \
               "unsigned long short signed template typename this operator", kw, " ")
    for (i = 1; i <= nk; i++) keyword[kw[i]] = 1
}
FNR == 1 {
    flush_block(); curfile = FILENAME; fence = 0; prevblank = 1; incode = 0; split("", uses_col)
    mddir = FILENAME; if (mddir ~ /\//) sub(/\/[^\/]*$/, "", mddir); else mddir = "."
}
{
    line = $0
    if (line ~ /^[ \t]*(```|~~~)/) { flush_block(); fence = !fence; next }
    if (fence) next
    if (line ~ /^[ \t]*$/) { flush_block(); prevblank = 1; incode = 0; next }
    if (line ~ /^    / && (prevblank || incode) && line !~ /^[ \t]*([-*+]|[0-9]+\.)[ \t]/) { incode = 1; prevblank = 0; next }
    incode = 0
    if (line ~ /^[ \t]*([-*+]|[0-9]+\.|#+|>|\|)[ \t]/ || line ~ /^[ \t]*\|/) flush_block()
    if (line ~ /^#/) { add_line(line, FNR); flush_block(); prevblank = 0; next }   # a heading
    block_is_row = (line ~ /^[ \t]*\|/)
    if (block_is_row && line ~ /^[ \t]*\|[ \t:|-]*$/) {
        # The separator under a table's header: note the columns whose header says "calls"/"uses".
        split("", uses_col)
        nc = split(header, hc, "|")
        for (i = 1; i <= nc; i++) if (hc[i] ~ /call|uses/) uses_col[i - 1] = 1
        prevblank = 0; next
    }
    if (block_is_row) header = line
    add_line(line, FNR)
    if (block_is_row) flush_block()
    prevblank = 0
}
END { flush_block() }
AWK

    if [ -n "${LIST_CITATIONS:-}" ]; then cat "$tmp/cites"; rm -rf "$tmp"; return 0; fi
    # Pass 2: each cited path must exist (a glob must match something).
    local kind loc rest p base
    : > "$tmp/problems"
    while IFS=$'\t' read -r kind loc rest; do
        [ "$kind" = P ] || continue
        p=$rest
        case "$p" in build*|runs/*|data/*|tests/exercises/work*) continue ;; esac
        case "$p" in
            *'<'*|*'{'*) base=${p%%[<{]*}; base=${base%/*}
                         [ -e "$base" ] || echo "$loc: cited path \`$p\` does not exist (no folder \`$base\`)" ;;
            *'*'*|*'?'*) compgen -G "$p" > /dev/null || echo "$loc: cited path \`$p\` matches no file" ;;
            notes/[0-9][0-9]|notes/[0-9][0-9][a-z])   # a chapter by its number: `notes/03`
                         compgen -G "$p-*.md" > /dev/null || echo "$loc: cited chapter \`$p\` does not exist" ;;
            *)           [ -e "$p" ] || echo "$loc: cited path \`$p\` does not exist" ;;
        esac
    done < "$tmp/cites" >> "$tmp/problems"

    # A bare file name: some file of the repository has it (outside build*/, runs/, data/).
    local -A base_names
    while read -r f; do base_names[${f##*/}]=1; done < <(find . \( -path ./.git -o -path './build*' -o -path ./runs -o -path ./data \) -prune -o -type f -print)
    while IFS=$'\t' read -r kind loc rest; do
        [ "$kind" = B ] || continue
        [ -n "${base_names[$rest]+set}" ] || echo "$loc: cited file \`$rest\` is in no folder of the repository"
    done < "$tmp/cites" >> "$tmp/problems"

    # Pass 3: each cited name must be defined in one of the files beside it. Each group's files are
    # listed once (globs and folders expanded) for awk to read.
    local -A files_of
    local files f name group
    while IFS=$'\t' read -r kind loc rest; do
        [ "$kind" = D ] || continue
        name=${rest##*$'\t'} group=${rest%$'\t'*}
        if [ -z "${files_of[$group]+set}" ]; then
            files=""
            for p in $group; do
                case "$p" in
                    *'<'*|*'{'*) ;;
                    *'*'*|*'?'*) for f in $(compgen -G "$p"); do [ -f "$f" ] && files="$files $f"; done ;;
                    *) if [ -f "$p" ]; then files="$files $p"
                       elif [ -d "$p" ]; then files="$files $(find "$p" -type f \( -name '*.cpp' -o -name '*.h' -o -name '*.sh' -o -name '*.py' -o -name '*.awk' \) | sort | tr '\n' ' ')"; fi ;;
                esac
            done
            files_of[$group]=$files
        fi
        printf '%s\t%s\t%s\n' "$loc" "$name" "${files_of[$group]}"
    done < "$tmp/cites" > "$tmp/defs"
    awk -f - "$tmp/defs" >> "$tmp/problems" <<'AWK'
function lang(f) {
    if (f ~ /\.(cpp|h|hpp|cc)$/) return "cpp"
    if (f ~ /\.sh$/) return "sh"
    if (f ~ /\.py$/) return "py"
    if (f ~ /\.awk$/) return "awk"
    if (f ~ /(^|\/)Makefile$/) return "make"
    return ""
}
# Reads a file once: raw lines, and for C++ the code with comments and string literals removed,
# plus its enumerators.
function load(f,   line, n, incomment, code, p, inenum, body, parts, i, m, e) {
    if (f in loaded) return
    loaded[f] = 1; n = 0; incomment = 0; inenum = 0; body = ""
    while ((getline line < f) > 0) {
        n++; raw[f, n] = line
        if (lang(f) != "cpp") { code_[f, n] = line; continue }
        code = line
        if (incomment) {
            if ((p = index(code, "*/")) == 0) { code_[f, n] = ""; continue }
            code = substr(code, p + 2); incomment = 0
        }
        gsub(/'([^'\\]|\\.)'/, "' '", code)
        gsub(/"([^"\\]|\\.)*"/, "\"\"", code)
        gsub(/\/\*([^*]|\*+[^*\/])*\*+\//, " ", code)
        sub(/\/\/.*$/, "", code)
        if ((p = index(code, "/*")) > 0) { code = substr(code, 1, p - 1); incomment = 1 }
        code_[f, n] = code
        # enumerators: the names between the braces of an enum
        if (code ~ /(^|[^A-Za-z0-9_])enum([^A-Za-z0-9_]|$)/) { inenum = 1; body = "" }
        if (inenum) {
            body = body " " code
            if (index(body, "}") > 0) {
                sub(/^[^{]*\{/, "", body); sub(/}.*$/, "", body)
                m = split(body, parts, ",")
                for (i = 1; i <= m; i++) {
                    e = parts[i]; sub(/^[ \t]*/, "", e)
                    if (match(e, /^[A-Za-z_][A-Za-z0-9_]*/)) enumer[f, substr(e, 1, RLENGTH)] = 1
                }
                inenum = 0
            }
        }
    }
    close(f)
    nlines[f] = n
}
# Text before a name that makes it a definition: a type (word, >, *, &) then a space, not a keyword.
function def_prefix(pre, line,   w) {
    while (match(pre, /[A-Za-z_][A-Za-z0-9_]*(<[^<>]*>)?::$/)) pre = substr(pre, 1, RSTART - 1)
    if (pre == "") return line !~ /^[ \t]/
    if (pre ~ /[*&][ \t]*$/) return 1
    if (pre !~ /[A-Za-z0-9_>][ \t]+$/) return 0
    w = pre; sub(/[ \t]+$/, "", w)
    if (w ~ />$/) return 1
    match(w, /[A-Za-z0-9_]+$/); w = substr(w, RSTART)
    return !(w in keyword)
}
# Does line define name (possibly qualified, as in Class::name)?
function cpp_line_defines(line, name,   rest, pos, pre, after, off) {
    if (index(line, name) == 0) return 0
    if (name !~ /::/ && line ~ ("(^|[^A-Za-z0-9_])(class|struct|union|enum|namespace)[ \t]+((class|struct)[ \t]+)?" name "([^A-Za-z0-9_]|$)")) return 1
    if (name !~ /::/ && line ~ ("(^|[^A-Za-z0-9_])using[ \t]+" name "[ \t]*=")) return 1
    if (name !~ /::/ && line ~ ("^[ \t]*#[ \t]*define[ \t]+" name "([^A-Za-z0-9_]|$)")) return 1
    if (name !~ /::/ && line ~ ("(^|[^A-Za-z0-9_])typedef[^;]*[^A-Za-z0-9_]" name "[ \t]*;")) return 1
    rest = line; off = 0
    while ((pos = index(rest, name)) > 0) {
        pre = substr(line, 1, off + pos - 1)
        after = substr(rest, pos + length(name))
        rest = after; off += pos + length(name) - 1
        if (pre ~ /[A-Za-z0-9_]$/ || after ~ /^[A-Za-z0-9_]/) continue
        if (name !~ /::/ && pre ~ /::$/ && !def_prefix(pre, line)) continue
        if (after ~ /^[ \t]*(\(|=[^=]|;|\{|\[|:[^:]|$)/ && def_prefix(pre, line)) return 1
    }
    return 0
}
function defined_in(f, name,   i, L, m, cls, mem, re) {
    L = lang(f)
    if (L == "cpp") {
        if (name ~ /^[A-Z][A-Z0-9_]*$/) {           # environment variables and macros
            for (i = 1; i <= nlines[f]; i++) if (raw[f, i] ~ ("(^|[^A-Za-z0-9_])" name "([^A-Za-z0-9_]|$)")) return 1
            return 0
        }
        for (i = 1; i <= nlines[f]; i++) if (cpp_line_defines(code_[f, i], name)) { if (ENVIRON["CHECK_NOTES_DEBUG"] != "") print "debug: " f ":" i ": " code_[f, i] > "/dev/stderr"; return 1 }
        if (name !~ /::/ && ((f, name) in enumer)) return 1
        return 0
    }
    if (L == "sh") re = "^[ \t]*((function[ \t]+)?" name "[ \t]*\\(\\)|(export[ \t]+|readonly[ \t]+|local[ \t]+)?" name "=)"
    else if (L == "py") re = "^([ \t]*(async[ \t]+)?def[ \t]+" name "[ \t]*\\(|[ \t]*class[ \t]+" name "[ \t]*[(:]|" name "[ \t]*(:[^=]*)?=)"
    else if (L == "awk") re = "(^|[^A-Za-z0-9_])function[ \t]+" name "[ \t]*\\("
    else if (L == "make") re = "^(" name "[ \t]*:|" name "[ \t]*[:?+]?=|\\.PHONY:.*[ \t]" name "([ \t]|$))"
    else return 0
    if (name ~ /::/) return 0
    for (i = 1; i <= nlines[f]; i++) if (raw[f, i] ~ re) return 1
    return 0
}
BEGIN {
    FS = "\t"
    nk = split("return throw new delete else case goto do sizeof and or not co_return co_yield co_await", kw, " ")
    for (i = 1; i <= nk; i++) keyword[kw[i]] = 1
}
{
    loc = $1; name = $2; nf = split($3, files, " ")
    checkable = 0
    for (i = 1; i <= nf; i++) if (lang(files[i]) != "") { load(files[i]); checkable++ }
    if (checkable == 0) next
    ok = 0
    for (i = 1; i <= nf && !ok; i++) if (lang(files[i]) != "" && defined_in(files[i], name)) ok = 1
    if (!ok && name ~ /::/) {
        # Class::member: the class and the member both defined in the group
        n = split(name, q, "::"); cls = q[n - 1]; mem = q[n]
        hascls = 0; hasmem = 0
        for (i = 1; i <= nf; i++) if (lang(files[i]) == "cpp") {
            if (defined_in(files[i], cls)) hascls = 1
            if (mem == cls) { for (j = 1; j <= nlines[files[i]]; j++) if (code_[files[i], j] ~ ("^[ \t]*(explicit[ \t]+)?" mem "[ \t]*\\(")) hasmem = 1 }
            else if (defined_in(files[i], mem)) hasmem = 1
        }
        ok = hascls && hasmem
    }
    if (!ok) {
        list = ""
        for (i = 1; i <= nf; i++) list = list (i > 1 ? ", " : "") "`" files[i] "`"
        printf "%s: `%s` is not defined in %s\n", loc, name, list
    }
}
AWK
    local problems
    problems=$(sort -t: -k1,1 -k2,2n -k3 "$tmp/problems" | uniq)
    local npaths ndefs
    npaths=$(grep -c '^[PB]' "$tmp/cites"); ndefs=$(grep -c '^D' "$tmp/cites")
    rm -rf "$tmp"
    [ -n "$problems" ] && printf '%s\n' "$problems"
    local n=0
    [ -n "$problems" ] && n=$(printf '%s\n' "$problems" | wc -l)
    echo "check_notes: $# files, $npaths path and $ndefs name citations checked, $n problems" >&2
    [ "$n" = 0 ]
}

if [ "${1:-}" = --self-test ]; then
    dir=tests/fixtures/notes_check
    good=$(check "$dir/good.md" 2>/dev/null); good_rc=$?
    bad=$(check "$dir/bad.md" 2>/dev/null); bad_rc=$?
    want=$(grep -n '<!-- bad -->' "$dir/bad.md" | cut -d: -f1 | sort -n | tr '\n' ' ')
    got=$(printf '%s\n' "$bad" | sed -n 's/^[^:]*:\([0-9]*\):.*/\1/p' | sort -n | tr '\n' ' ')
    status=0
    if [ $good_rc != 0 ]; then echo "check_notes self-test: good.md gave problems:"; echo "$good"; status=1; fi
    if [ $bad_rc = 0 ] || [ "$want" != "$got" ]; then
        echo "check_notes self-test: bad.md should be reported on lines $want, was on lines $got:"
        echo "$bad"; status=1
    fi
    [ $status = 0 ] && echo "check_notes self-test: good.md passes, bad.md fails on its $(echo $want | wc -w) marked lines"
    exit $status
fi
if [ "${1:-}" = --list ]; then shift; LIST_CITATIONS=1 check "$@"; exit; fi
if [ $# -gt 0 ]; then check "$@"; exit; fi
check $(find notes -name '*.md' | sort) README.md
