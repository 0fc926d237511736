#!/usr/bin/python3
"""dealmail corpus runner (stdlib only).

Each case is tests/corpus/cases/NNN-slug.eml + NNN-slug.json.  For every case:

  1. fresh temporary directory; `dealmail -c CONF --db DB init`
  2. the "setup" commands (each a list of arguments after `--db DB`, or
     {"args": [...], "now": ISO} to run it at another clock; "{cases}" in an
     argument is the cases folder), exit 0
  3. the "before" messages ingested through stdin, each exit 0 (or "before_exit")
  4. `explain FILE --format json` (dry run, before the case is ingested):
     subset-checked against "explain"
  5. the case ingested through stdin "ingest_times" times (default 1), each exit
     code checked against "exit" (an int, or a list with one code per delivery)
  6. `export --json` subset-checked against "export"

DEALMAIL_NOW is fixed for every call.  Subset matching:
  * dict: each expected key matched recursively (extra actual keys ignored)
  * list: exact length, element-wise subset match
  * special dict forms (every given condition must hold):
      {"contains": [items]}       each item subset-matches some element
      {"not_contains": [items]}   no element subset-matches any item
      {"len": N}                  list (or string) length
      {"count": [[item, N], ...]} exactly N elements subset-match item
      {"contains_text": s | [s]}  string contains (case-sensitive)
      {"not_contains_text": s|[s]}
      {"one_of": [values]}        actual equals one of the values
      {"absent": true}            key must be missing (or null)
  * export "deals_by_id": {"1": {...}} matches the deal whose id is 1.

Env: DEALMAIL_BIN (default ./build/dealmail), WRAP (prefix, split on spaces),
CORPUS_ONLY (substring filter), CORPUS_KEEP=1 (keep temp dirs), CORPUS_VERBOSE=1,
CORPUS_JOBS=N (run N cases at once; the report stays in case order).
"""
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(HERE, "cases")
NOW = "2026-11-23T15:00:00Z"
SECRET = "corpus-test-secret-0123456789abcdef"
TIMEOUT = 120
VG_LINE = re.compile(r"^==\d+==")

SPECIAL = {"contains", "not_contains", "len", "count", "contains_text",
           "not_contains_text", "one_of", "absent"}


def short(v, n=300):
    s = json.dumps(v, ensure_ascii=False, sort_keys=True)
    return s if len(s) <= n else s[:n] + "…"


def is_special(e):
    return isinstance(e, dict) and e and set(e) <= SPECIAL


def match(exp, act, path, errs):
    """Append (path, message) to errs for each mismatch."""
    if is_special(exp):
        if "absent" in exp:
            if exp["absent"] and act is not None:
                errs.append((path, "expected absent/null, got %s" % short(act)))
            return
        if "one_of" in exp:
            if act not in exp["one_of"]:
                errs.append((path, "expected one of %s, got %s" % (short(exp["one_of"]), short(act))))
        if "len" in exp:
            if not isinstance(act, (list, str)) or len(act) != exp["len"]:
                n = len(act) if isinstance(act, (list, str)) else "n/a"
                errs.append((path, "expected length %d, got %s: %s" % (exp["len"], n, short(act, 1500))))
        for key in ("contains_text", "not_contains_text"):
            if key in exp:
                want = exp[key] if isinstance(exp[key], list) else [exp[key]]
                if not isinstance(act, str):
                    errs.append((path, "expected a string, got %s" % short(act)))
                    continue
                for w in want:
                    if (w in act) != (key == "contains_text"):
                        errs.append((path, "%s %r failed; actual text: %r" % (key, w, act[:800])))
        if "contains" in exp:
            if not isinstance(act, list):
                errs.append((path, "expected a list, got %s" % short(act)))
            else:
                for i, item in enumerate(exp["contains"]):
                    if not any(not sub(item, a) for a in act):
                        errs.append(("%s.contains[%d]" % (path, i),
                                     "no element matches %s; actual: %s" % (short(item), short(act, 1500))))
        if "not_contains" in exp:
            if not isinstance(act, list):
                errs.append((path, "expected a list, got %s" % short(act)))
            else:
                for i, item in enumerate(exp["not_contains"]):
                    hits = [a for a in act if not sub(item, a)]
                    if hits:
                        errs.append(("%s.not_contains[%d]" % (path, i),
                                     "unexpected element(s) matching %s: %s" % (short(item), short(hits, 1500))))
        if "count" in exp:
            if not isinstance(act, list):
                errs.append((path, "expected a list, got %s" % short(act)))
            else:
                for item, n in exp["count"]:
                    got = sum(1 for a in act if not sub(item, a))
                    if got != n:
                        errs.append((path, "expected %d element(s) matching %s, got %d; actual: %s"
                                     % (n, short(item), got, short(act, 1500))))
        return
    if isinstance(exp, dict):
        if not isinstance(act, dict):
            errs.append((path, "expected an object, got %s" % short(act)))
            return
        for k, v in exp.items():
            if k not in act:
                if is_special(v) and v.get("absent"):
                    continue
                errs.append(("%s.%s" % (path, k), "missing key"))
                continue
            match(v, act[k], "%s.%s" % (path, k), errs)
        return
    if isinstance(exp, list):
        if not isinstance(act, list) or len(act) != len(exp):
            errs.append((path, "expected a list of %d, got %s" % (len(exp), short(act, 1500))))
            return
        for i, (e, a) in enumerate(zip(exp, act)):
            match(e, a, "%s[%d]" % (path, i), errs)
        return
    if isinstance(exp, bool) or isinstance(act, bool):
        ok = exp is act
    elif isinstance(exp, (int, float)) and isinstance(act, (int, float)):
        ok = abs(exp - act) < 1e-6
    else:
        ok = exp == act
    if not ok:
        errs.append((path, "expected %s, got %s" % (short(exp), short(act))))


def sub(exp, act):
    errs = []
    match(exp, act, "", errs)
    return errs


def clip_stderr(err):
    """The first 2000 characters of a call's stderr; a valgrind report (its
    "==PID==" lines, under WRAP=valgrind) is kept whole, up to 400 lines."""
    if len(err) <= 2000:
        return err
    lines = err.split("\n")
    vg = [l for l in lines if VG_LINE.match(l)]
    other = "\n".join(l for l in lines if not VG_LINE.match(l))
    if len(other) > 2000:
        other = other[:2000] + "…"
    if not vg:
        return other
    if len(vg) > 400:
        vg = vg[:400] + ["… (%d more valgrind lines)" % (len(vg) - 400)]
    return (other + "\n" if other else "") + "\n".join(vg)


class Case:
    def __init__(self, name):
        self.name = name
        self.eml = os.path.join(CASES, name + ".eml")
        with open(os.path.join(CASES, name + ".json"), encoding="utf-8") as f:
            self.spec = json.load(f)


class Failure(Exception):
    pass


def run_case(case, binary, wrap):
    spec = case.spec
    tmp = tempfile.mkdtemp(prefix="dealmail-corpus-")
    errs = []
    log = []
    env = dict(os.environ)
    env["DEALMAIL_NOW"] = NOW
    env["DEALMAIL_SECRET"] = SECRET
    env.pop("DEALMAIL_CONFIG", None)
    env["HOME"] = tmp
    env["LC_ALL"] = "C.UTF-8"
    conf = os.path.join(HERE, spec.get("config", "dealmail.conf"))
    db = os.path.join(tmp, "db")

    def dm(args, stdin=None):
        cmd = wrap + [binary, "-c", conf, "--db", db] + args
        try:
            p = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=env, cwd=tmp, timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            log.append("$ %s\n  TIMEOUT after %ds" % (" ".join(args), TIMEOUT))
            return None, b"", b""
        full = p.stderr.decode("utf-8", "replace").rstrip()
        err = clip_stderr(full)
        log.append("$ %s -> %d%s" % (" ".join(args), p.returncode, ("\n" + err) if err else ""))
        # Under WRAP=valgrind -q any "==PID==" line is a report.  The exit
        # code alone does not tell: `ingest` on stdin answers (exits) once
        # its commit is durable, and its worker closes the database after.
        if wrap and any(VG_LINE.match(l) for l in full.split("\n")):
            errs.append(("valgrind", "%s: memcheck reported errors (see the log)" % " ".join(args)))
        return p.returncode, p.stdout, p.stderr

    def need(rc, want, what):
        if rc != want:
            raise Failure("%s: exit %s, expected %s" % (what, rc, want))

    try:
        rc, _, _ = dm(["init"])
        need(rc, 0, "init")
        for item in spec.get("setup", []):
            # a list of arguments, or {"args": [...], "now": ISO} to run it at
            # another clock; "{cases}" in an argument is the cases folder
            args = item["args"] if isinstance(item, dict) else item
            args = [a.replace("{cases}", CASES) for a in args]
            saved = env["DEALMAIL_NOW"]
            if isinstance(item, dict) and "now" in item:
                env["DEALMAIL_NOW"] = item["now"]
            rc, out, _ = dm(args)
            env["DEALMAIL_NOW"] = saved
            need(rc, 0, "setup %s" % " ".join(args))
        before_exit = spec.get("before_exit", 0)
        for i, other in enumerate(spec.get("before", [])):
            with open(os.path.join(CASES, other), "rb") as f:
                data = f.read()
            want = before_exit[i] if isinstance(before_exit, list) else before_exit
            rc, _, _ = dm(["ingest"], data)
            need(rc, want, "ingest before %s" % other)

        with open(case.eml, "rb") as f:
            data = f.read()
        if "explain" in spec:
            rc, out, _ = dm(["explain", case.eml, "--format", "json"])
            if "explain_exit" in spec:
                need(rc, spec["explain_exit"], "explain")
            elif rc is None:
                raise Failure("explain timed out")
            try:
                got = json.loads(out.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as e:
                raise Failure("explain --format json: exit %s, not JSON (%s): %r" % (rc, e, out[:500]))
            match(spec["explain"], got, "explain", errs)

        times = spec.get("ingest_times", 1)
        want_exit = spec.get("exit", 0)
        for i in range(times):
            want = want_exit[i] if isinstance(want_exit, list) else want_exit
            rc, _, _ = dm(["ingest"], data)
            if rc != want:
                errs.append(("ingest#%d" % (i + 1), "exit %s, expected %s" % (rc, want)))

        rc, out, _ = dm(["export", "--json"])
        need(rc, 0, "export --json")
        try:
            got = json.loads(out.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise Failure("export --json is not JSON (%s): %r" % (e, out[:500]))
        exp = dict(spec.get("export", {}))
        by_id = exp.pop("deals_by_id", None)
        match(exp, got, "export", errs)
        if by_id:
            deals = {str(d.get("id")): d for d in got.get("deals", []) if isinstance(d, dict)}
            for k, v in by_id.items():
                if k not in deals:
                    errs.append(("export.deals_by_id.%s" % k, "no deal %s; deals: %s" % (k, short(got.get("deals"), 1500))))
                else:
                    match(v, deals[k], "export.deals_by_id.%s" % k, errs)
    except Failure as e:
        errs.append(("run", str(e)))
    finally:
        if os.environ.get("CORPUS_KEEP") == "1":
            log.append("kept: %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return errs, log


def main():
    binary = os.environ.get("DEALMAIL_BIN") or "./build/dealmail"
    binary = os.path.abspath(binary)
    wrap = os.environ.get("WRAP", "").split()
    only = os.environ.get("CORPUS_ONLY", "")
    verbose = os.environ.get("CORPUS_VERBOSE") == "1"
    if not os.access(binary, os.X_OK):
        print("corpus: %s is not an executable (set DEALMAIL_BIN)" % binary, file=sys.stderr)
        return 2
    names = sorted(n[:-5] for n in os.listdir(CASES) if n.endswith(".json"))
    names = [n for n in names if only in n]
    try:
        jobs = max(1, int(os.environ.get("CORPUS_JOBS") or "1"))
    except ValueError:
        print("corpus: CORPUS_JOBS must be a number", file=sys.stderr)
        return 2
    cases = [Case(name) for name in names]
    # CORPUS_JOBS cases at once (each has its own directory, database and HOME);
    # the reports are printed in case order, each in one piece
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run_case, case, binary, wrap) for case in cases]
        results = (f.result() for f in futures)
        failed = report(cases, results, verbose)
    if failed:
        print("corpus: %d of %d cases failed: %s" % (len(failed), len(names), ", ".join(failed)))
        return 1
    print("corpus: %d cases passed" % len(names))
    return 0


def report(cases, results, verbose):
    failed = []
    for case, (errs, log) in zip(cases, results):
        name = case.name
        if errs:
            failed.append(name)
            print("FAIL %s" % name)
            why = case.spec.get("why")
            if why:
                print("  why: %s" % why)
            for path, msg in errs:
                print("  - %s: %s" % (path, msg))
            print("  calls:")
            for line in log:
                print("    " + line.replace("\n", "\n      "))
        else:
            print("ok   %s" % name)
            if verbose:
                for line in log:
                    print("    " + line.replace("\n", "\n      "))
        sys.stdout.flush()
    return failed


if __name__ == "__main__":
    sys.exit(main())
