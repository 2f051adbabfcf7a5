#!/usr/bin/env python3
"""tests/exercises/exercises.py: prepare, grade and check the exercises of notes/exercises/.

  exercises.py prepare N   copy the exercise's source file into tests/exercises/work/NN-name/ with
                           the part to write replaced by a stub that fails loudly
  exercises.py grade N     build that copy against the rest of plat and run the checks that judge it
  exercises.py grade       a table of every exercise's state
  exercises.py check       CI: for each exercise the stub builds and fails, the real code passes

What each exercise removes and which checks grade it is data: tests/exercises/exercises.ini. A part
is found by code anchors (a function's signature, a line of code inside it), never by line number,
so the file may change around it; if an anchor disappears, `check` names the exercise.
Only the changed file is compiled: it is linked, ahead of the archive, with the objects of the
project's build folder (BUILD, made by the project's own Makefile rules), so its definitions win and
the archive's copy of the file is never pulled in. Python 3 standard library only.
"""
import configparser
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
HERE = os.path.join(ROOT, "tests", "exercises")
WORK = os.path.join(HERE, "work")
# The project's build folder (the Makefile's BUILD): the library archives and test objects are
# taken from it, so after `make test` only the exercise's own file is compiled.
SHARED = os.environ.get("EX_SHARED", "build")
CXX = os.environ.get("CXX", "g++")
CXXFLAGS = shlex.split(os.environ.get("EX_CXXFLAGS", "-std=c++17 -O3 -march=native -fopenmp -I."))
LDFLAGS = shlex.split(os.environ.get("EX_LDFLAGS", "-fopenmp"))
LDLIBS = shlex.split(os.environ.get("EX_LDLIBS", "-lopenblas -lfmt -lm"))
CHECK_TIMEOUT = 600  # seconds for one check; a stub inside a parallel region aborts at once


class ExerciseError(Exception):
    pass


# ---- the exercise data ----------------------------------------------------------------------------


class Exercise:
    def __init__(self, name, sec):
        self.name = name  # "11-plap-backward-v"
        self.number = int(name.split("-")[0])
        self.title = sec["title"]
        self.chapter = sec["chapter"]
        self.reread = sec["reread"]
        self.solution = sec["solution"]
        self.file = sec["file"]
        self.function = sec["function"]
        self.parts = []  # (kind, begin, end)
        for i in range(1, 10):
            kind = sec.get(f"part{i}")
            if kind is None:
                break
            self.parts.append((kind, sec.get(f"part{i}.begin", ""), sec.get(f"part{i}.end", "")))
        self.checks = []  # (flavour, test file, test case name)
        for line in sec["checks"].strip().splitlines():
            flavour, rest = line.strip().split(None, 1)
            test_file, case = [s.strip() for s in rest.split("|", 1)]
            if flavour not in ("f32", "f64"):
                raise ExerciseError(f"exercises.ini [{name}]: check flavour '{flavour}' is not f32 or f64")
            self.checks.append((flavour, test_file, case))

    @property
    def page(self):
        return f"notes/exercises/{self.name}.md"

    @property
    def work(self):
        return os.path.join(WORK, self.name)

    @property
    def copy(self):
        return os.path.join(self.work, os.path.basename(self.file))

    def flavours(self):
        return sorted({c[0] for c in self.checks})


def load():
    cp = configparser.ConfigParser(interpolation=None, comment_prefixes=("#",), inline_comment_prefixes=None)
    cp.optionxform = str
    cp.read(os.path.join(HERE, "exercises.ini"))
    return [Exercise(s, cp[s]) for s in cp.sections()]


def find(exercises, arg):
    try:
        n = int(arg)
    except ValueError:
        n = None
    for ex in exercises:
        if ex.number == n or ex.name == arg:
            return ex
    raise ExerciseError(f"no exercise '{arg}'; the exercises are 1 to {len(exercises)} "
                        "(notes/exercises/README.md lists them)")


# ---- finding a part by its anchors ----------------------------------------------------------------
# The source is scanned once into a mask of "code" characters (not in a comment, string or character
# literal), so that anchors and braces are matched in code only.


def code_mask(src):
    """mask[k]: 1 for code, 2 inside a string or character literal, 0 inside a comment."""
    mask = bytearray(len(src))
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if src.startswith("//", i):
            j = src.find("\n", i)
            i = n if j < 0 else j
        elif src.startswith("/*", i):
            j = src.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == '"' or c == "'":
            j = i + 1
            while j < n and src[j] != c:
                j += 2 if src[j] == "\\" else 1
            mask[i : j + 1] = b"\x02" * (min(j + 1, n) - i)
            i = j + 1
        else:
            mask[i] = 1
            i += 1
    return mask


def find_code(src, mask, anchor, start, end):
    """Offsets of every occurrence of anchor, whitespace-insensitive, wholly in code, in [start, end)."""
    pattern = r"\s*".join(re.escape(tok) for tok in anchor.split())
    hits = []
    for m in re.finditer(pattern, src[start:end]):
        a, b = start + m.start(), start + m.end()
        if all(mask[k] or src[k].isspace() for k in range(a, b)) and mask[a]:  # not in a comment
            hits.append(a)
    return hits


def matching_brace(src, mask, open_at):
    depth = 0
    for k in range(open_at, len(src)):
        if mask[k] != 1:
            continue
        if src[k] == "{":
            depth += 1
        elif src[k] == "}":
            depth -= 1
            if depth == 0:
                return k
    raise ExerciseError("unbalanced braces")


def first_brace(src, mask, start, stop=None):
    """The first '{' in code at or after start (and before stop)."""
    for k in range(start, len(src) if stop is None else stop):
        if mask[k] == 1 and src[k] == "{":
            return k
    return -1


def opening_brace(src, mask, k):
    """The '{' on k's line that opens a block going past the line's end (not {a, b}); -1 if none."""
    end = line_end(src, k)
    for j in range(line_start(src, k), end):
        if mask[j] == 1 and src[j] == "{" and matching_brace(src, mask, j) > end:
            return j
    return -1


def line_start(src, k):
    return src.rfind("\n", 0, k) + 1


def line_end(src, k):
    j = src.find("\n", k)
    return len(src) if j < 0 else j


def locate(ex, src):
    """The (start, end, indent) character ranges of the parts to replace, in file order."""
    mask = code_mask(src)
    where = f"exercise {ex.number:02d} ({ex.name}), {ex.file}"
    hits = find_code(src, mask, ex.function, 0, len(src))
    if len(hits) != 1:
        raise ExerciseError(f"{where}: the function anchor '{ex.function}' is found {len(hits)} times (expected once); "
                            "was it renamed or moved? update tests/exercises/exercises.ini")
    open_at = first_brace(src, mask, hits[0])
    fn_start, fn_end = open_at, matching_brace(src, mask, open_at)
    ranges = []
    for kind, begin, end in ex.parts:
        if kind == "body":
            a, b = fn_start + 1, fn_end
        elif kind in ("block", "lines"):
            hit = find_code(src, mask, begin, fn_start, fn_end)
            if not hit:
                raise ExerciseError(f"{where}: the anchor '{begin}' is not inside the function '{ex.function}'; "
                                    "update tests/exercises/exercises.ini")
            if kind == "block":
                brace = opening_brace(src, mask, hit[0])
                if brace < 0:
                    raise ExerciseError(f"{where}: the line of '{begin}' opens no block")
                a, b = brace + 1, matching_brace(src, mask, brace)
            else:
                a = line_start(src, hit[0])
                # Comment lines right above the part describe it: they go with it.
                while a > 0:
                    prev = line_start(src, a - 1)
                    if not src[prev:a].strip().startswith("//"):
                        break
                    a = prev
                stop = find_code(src, mask, end, hit[0], fn_end)
                if not stop:
                    raise ExerciseError(f"{where}: the end anchor '{end}' does not follow '{begin}' in "
                                        f"'{ex.function}'; update tests/exercises/exercises.ini")
                brace = opening_brace(src, mask, stop[0])
                b = line_end(src, matching_brace(src, mask, brace) if brace >= 0 else stop[0])
        else:
            raise ExerciseError(f"{where}: part kind '{kind}' is not body, block or lines")
        # Indentation: that of the first non-blank line of the part.
        body = src[a:b]
        first = next((l for l in body.splitlines() if l.strip()), "")
        indent = first[: len(first) - len(first.lstrip())] or "    "
        ranges.append((a, b, indent))
    return ranges


def stubbed(ex, src):
    out, last = [], 0
    for a, b, indent in locate(ex, src):
        lines = [f"{indent}// Exercise {ex.number:02d}: write this part ({ex.page}).",
                 f'{indent}fail("not implemented: see {ex.page}");']
        text = "\n".join(lines)
        # A whole line range keeps its line breaks around it; a brace body gets its own lines.
        if src[a - 1: a] == "{":
            closing = src[line_start(src, b): b]
            text = "\n" + text + "\n" + closing
        out.append(src[last:a])
        out.append(text)
        last = b
    out.append(src[last:])
    return "".join(out)


# ---- building ----------------------------------------------------------------------------------------


def run(cmd, **kw):
    return subprocess.run(cmd, cwd=ROOT, **kw)


def make_env():
    env = dict(os.environ)
    for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        env.pop(k, None)
    return env


def shared_targets(exercises):
    """The objects the checks need from the shared build, and each flavour's library archive."""
    targets = set()
    for ex in exercises:
        for flavour, test_file, _ in ex.checks:
            lib = "libplat.a" if flavour == "f32" else "libplat64.a"
            targets.add(f"{SHARED}/{lib}")
            targets.add(f"{SHARED}/{flavour}/tests/main.o")
            targets.add(f"{SHARED}/{flavour}/{test_file[:-4]}.o")
    return sorted(targets)


def build_shared(exercises, quiet=False):
    targets = shared_targets(exercises)
    need = [t for t in targets if not os.path.exists(os.path.join(ROOT, t))]
    if need:
        print(f"exercises: building {len(need)} missing target(s) in {SHARED}/ "
              "(the library and test objects: a few minutes the first time)")
    cmd = ["make", "--no-print-directory", f"-j{os.cpu_count() or 1}", f"BUILD={SHARED}"] + targets
    r = run(cmd, env=make_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        print(r.stdout)
        raise ExerciseError("building plat's shared objects failed (above); does `make test` build?")


def up_to_date(obj):
    """obj exists and is newer than every file its .d (written by the compiler's -MMD) names."""
    dep = obj[:-2] + ".d"
    if not (os.path.exists(obj) and os.path.exists(dep)):
        return False
    with open(dep) as f:
        text = f.read().replace("\\\n", " ")
    first = text.split("\n")[0]  # "obj: src header header ...", before the -MP phony rules
    t = os.path.getmtime(obj)
    for path in first.split(":", 1)[1].split():
        full = os.path.join(ROOT, path)
        if not os.path.exists(full) or os.path.getmtime(full) > t:
            return False
    return True


def compile_copy(ex, source, outdir, flavour):
    """Compile the exercise's copy of its file when it is newer than its object; return the object."""
    obj = os.path.join(outdir, flavour, os.path.basename(source)[:-4] + ".o")
    if up_to_date(obj):
        return obj, ""
    os.makedirs(os.path.dirname(obj), exist_ok=True)
    flags = list(CXXFLAGS)  # with -MMD: obj's .d lists the headers it was compiled from
    if flavour == "f64":
        flags.append("-DPLAT_REAL=double")
    r = run([CXX] + flags + ["-c", source, "-o", obj], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        if os.path.exists(obj):
            os.remove(obj)
        return None, r.stdout
    return obj, r.stdout


def link(ex, obj, outdir, flavour):
    """One test program for this exercise: its test files, the copy's object, then the archive."""
    prog = os.path.join(outdir, f"tests_{flavour}")
    os.makedirs(outdir, exist_ok=True)
    lib = os.path.join(SHARED, "libplat.a" if flavour == "f32" else "libplat64.a")
    tests = [f"{SHARED}/{flavour}/tests/main.o"]
    for fl, test_file, _ in ex.checks:
        o = f"{SHARED}/{flavour}/{test_file[:-4]}.o"
        if fl == flavour and o not in tests:
            tests.append(o)
    inputs = tests + ([obj] if obj else []) + [lib]
    if os.path.exists(prog) and all(os.path.getmtime(prog) >= os.path.getmtime(os.path.join(ROOT, i)) for i in inputs):
        return prog, ""
    r = run([CXX] + LDFLAGS + inputs + ["-o", prog] + LDLIBS, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)
    return (prog if r.returncode == 0 else None), r.stdout


def build(ex, source, outdir):
    """Compile (source may be None: the real code) and link; {flavour: program} or an error text."""
    progs, log = {}, ""
    for flavour in ex.flavours():
        obj = None
        if source is not None:
            obj, out = compile_copy(ex, source, outdir, flavour)
            log += out
            if obj is None:
                return None, log
        prog, out = link(ex, obj, outdir, flavour)
        log += out
        if prog is None:
            return None, log
        progs[flavour] = prog
    return progs, log


# ---- running the checks --------------------------------------------------------------------------------


def doctest_filter(case):
    # doctest splits filters at commas; '?' matches any one character, the comma included.
    return case.replace(",", "?")


def run_check(prog, case):
    env = dict(os.environ)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        r = subprocess.run([prog, f"-tc={doctest_filter(case)}", "--no-colors=true", "--no-version=true"],
                           cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=CHECK_TIMEOUT)
        out, rc = r.stdout, r.returncode
    except subprocess.TimeoutExpired:
        return "fail", f"no result after {CHECK_TIMEOUT} s", ""
    m = re.search(r"test cases:\s*(\d+)\s*\|\s*(\d+) passed\s*\|\s*(\d+) failed", out)
    worst = "\n".join(re.findall(r"worst error[^\n]*", out))
    if "not implemented: see" in out:
        return "fail", "the stub is still there: " + re.search(r"not implemented: see \S+", out).group(0), worst
    if m and m.group(1) == "0":
        return "missing", "no test case has this name: renamed? update tests/exercises/exercises.ini", worst
    if rc == 0 and m and m.group(3) == "0":
        return "pass", "", worst
    if m is None:  # the program died before doctest's summary
        tail = [l for l in out.strip().splitlines() if l.strip()][-3:]
        return "fail", f"the test program stopped (exit {rc}): " + " | ".join(tail), worst
    # doctest's failing assertions, with their values, a few lines only
    lines = []
    for l in out.splitlines():
        l = l.strip()
        if re.search(r"ERROR|values:|logged:|threw|gradcheck:", l) and "worst error:" not in l and l not in lines:
            lines.append(l)
    return "fail", "\n".join(l if len(l) <= 300 else l[:297] + "..." for l in lines[:4]), worst


def grade_with(ex, progs, show=True):
    """Run every check; print one line per check; return (passed, failed, missing, stub_seen)."""
    passed = failed = missing = 0
    stub_seen = False
    for flavour, test_file, case in ex.checks:
        state, detail, worst = run_check(progs[flavour], case)
        stub_seen = stub_seen or "stub is still there" in detail
        if state == "pass":
            passed += 1
        elif state == "missing":
            missing += 1
        else:
            failed += 1
        if show:
            label = {"pass": "PASS", "fail": "FAIL", "missing": "MISSING"}[state]
            print(f"  {label:7s} {case}  [{test_file}, {flavour}]")
            for line in worst.splitlines() + detail.splitlines():
                print(f"          {line}")
    return passed, failed, missing, stub_seen


# ---- the commands -------------------------------------------------------------------------------------


def cmd_prepare(exercises, arg):
    ex = find(exercises, arg)
    if os.path.exists(ex.copy):
        print(f"exercise {ex.number:02d} is already open: {os.path.relpath(ex.copy, ROOT)} (your work is kept).\n"
              f"  to start over: rm -r {os.path.relpath(ex.work, ROOT)} && make exercise {ex.number}")
        return 0
    with open(os.path.join(ROOT, ex.file)) as f:
        src = f.read()
    text = stubbed(ex, src)
    os.makedirs(ex.work, exist_ok=True)
    with open(ex.copy, "w") as f:
        f.write(text)
    rel = os.path.relpath(ex.copy, ROOT)
    print(f"exercise {ex.number:02d}: {ex.title}\n"
          f"  read:   {ex.page}\n"
          f"  write:  {rel}  (the part marked 'Exercise {ex.number:02d}'; everything else is {ex.file} as it is)\n"
          f"  grade:  make grade {ex.number}\n"
          f"  reset:  rm -r {os.path.relpath(ex.work, ROOT)} && make exercise {ex.number}")
    return 0


def cmd_grade(exercises, arg):
    ex = find(exercises, arg)
    if not os.path.exists(ex.copy):
        print(f"exercise {ex.number:02d} is not open yet: run `make exercise {ex.number}` first")
        return 2
    build_shared([ex])
    t0 = time.time()
    progs, log = build(ex, ex.copy, os.path.join(ex.work, "build"))
    rel = os.path.relpath(ex.copy, ROOT)
    if progs is None:
        print(log.rstrip())
        print(f"exercise {ex.number:02d}: FAIL: {rel} does not build (the compiler's message is above)")
        state = "failing"
    else:
        print(f"exercise {ex.number:02d}: {ex.title}  ({rel})")
        passed, failed, missing, _ = grade_with(ex, progs)
        state = "passing" if failed == 0 and missing == 0 else "failing"
        if state == "passing":
            print(f"exercise {ex.number:02d}: PASS, {passed} of {len(ex.checks)} checks ({time.time() - t0:.0f} s). "
                  f"Compare with the project's own: {ex.solution}")
        else:
            print(f"exercise {ex.number:02d}: FAIL, {failed + missing} of {len(ex.checks)} checks failed "
                  f"({time.time() - t0:.0f} s). Reread {ex.reread}; the page: {ex.page}")
    with open(os.path.join(ex.work, "last_grade"), "w") as f:
        f.write(state + "\n")
    return 0 if state == "passing" else 1


def cmd_table(exercises):
    print(f"{'N':>2}  {'exercise':26s} {'practises':36s} state")
    for ex in exercises:
        state = "not started"
        if os.path.exists(ex.copy):
            state = "open"
            last = os.path.join(ex.work, "last_grade")
            if os.path.exists(last):
                with open(last) as f:
                    state = f.read().strip()
                if os.path.getmtime(ex.copy) > os.path.getmtime(last):
                    state = f"open (changed since graded {state})"
        chapter = ex.chapter.split(",")[0]
        print(f"{ex.number:2d}  {ex.name:26s} {chapter:36s} {state}")
    print("start one with `make exercise N`, grade it with `make grade N` (notes/exercises/README.md)")
    return 0


def cmd_check(exercises):
    """For every exercise: the stub is found and builds, its grader fails on it, the real code passes."""
    t0 = time.time()
    build_shared(exercises)
    scratch = os.path.join(WORK, ".check")
    results = {}

    def stub_build(ex):
        out = os.path.join(scratch, ex.name)
        os.makedirs(out, exist_ok=True)
        try:
            with open(os.path.join(ROOT, ex.file)) as f:
                text = stubbed(ex, f.read())
        except ExerciseError as e:
            return ex, None, str(e)
        source = os.path.join(out, os.path.basename(ex.file))
        old = open(source).read() if os.path.exists(source) else None
        if old != text:  # rewrite only on change, so an unchanged stub is not recompiled
            with open(source, "w") as f:
                f.write(text)
        progs, log = build(ex, source, os.path.join(out, "build"))
        return ex, progs, (None if progs else "the stubbed copy does not build:\n" + log)

    def real_build(ex):
        progs, log = build(ex, None, os.path.join(scratch, ex.name, "real"))
        return ex, progs, (None if progs else "the real code does not link:\n" + log)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        stubs = list(pool.map(stub_build, exercises))
        reals = list(pool.map(real_build, exercises))
    print(f"exercises: built every stub in {time.time() - t0:.0f} s")
    ok = bad = 0
    for (ex, sprogs, serr), (_, rprogs, rerr) in zip(stubs, reals):
        problems = []
        if serr:
            problems.append(serr)
        if rerr:
            problems.append(rerr)
        if not problems:
            p, f, m, seen = grade_with(ex, sprogs, show=False)
            if m:
                problems.append(f"{m} check(s) name no test case: renamed? update tests/exercises/exercises.ini")
            if f == 0:
                problems.append("the grader passes on the stub: its checks do not reach the part")
            elif not seen:
                problems.append("no check reached the stub's 'not implemented' (they fail for another reason)")
            p, f, m, _ = grade_with(ex, rprogs, show=False)
            if f or m:
                problems.append(f"{f + m} check(s) fail on the real implementation {ex.file}")
                grade_with(ex, rprogs, show=True)
        if problems:
            bad += 1
            print(f"FAIL exercise {ex.number:02d} ({ex.name}, {ex.file}): " + "; ".join(problems))
        else:
            ok += 1
            print(f"ok   exercise {ex.number:02d} ({ex.name}): stub builds and fails, real code passes "
                  f"{len(ex.checks)} checks")
    # `make exercise 3` passes "3" as a goal of its own: the Makefile must take it as the argument.
    for goal in ("exercise", "grade"):
        r = run(["make", "-n", "--no-print-directory", goal, "3"], env=make_env(), stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0 or f"exercises.py {'prepare' if goal == 'exercise' else 'grade'} 3" not in r.stdout:
            bad += 1
            print(f"FAIL `make {goal} 3` does not run exercises.py with 3:\n{r.stdout}")
        else:  # not an exercise: counted only when it fails
            print(f"ok   `make {goal} 3` takes 3 as the exercise")
    print(f"exercises: checked in {time.time() - t0:.0f} s")
    print(f"exercises: {ok} passed, {bad} failed")
    return 0 if bad == 0 else 1


def main(argv):
    try:
        exercises = load()
        args = [a for a in argv[1:] if a.strip()]
        if not args:
            raise ExerciseError("usage: exercises.py prepare N | grade [N] | check")
        cmd, rest = args[0], args[1:]
        if cmd == "prepare":
            if not rest:
                raise ExerciseError("which exercise? `make exercise N`, N from 1 to "
                                    f"{len(exercises)} (notes/exercises/README.md)")
            return cmd_prepare(exercises, rest[0])
        if cmd == "grade":
            return cmd_grade(exercises, rest[0]) if rest else cmd_table(exercises)
        if cmd == "check":
            return cmd_check(exercises)
        raise ExerciseError(f"unknown command '{cmd}'; expected prepare N, grade [N] or check")
    except ExerciseError as e:
        print(f"exercises: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
