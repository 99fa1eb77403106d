"""Check that the scope tests notice an unscoped list: each mutation below replaces one list's
area-scoped queryset with the whole table (every area's rows shown to everyone); the scope
tests must fail for every one. Source files are changed in place and restored after each run.

    python tools/scope_mutations.py [pytest args, default tests/web/test_list_scope.py]
"""

import os
import pathlib
import subprocess
import sys

root = pathlib.Path(__file__).resolve().parent.parent
#: (what, file, the scoped call as it stands): the mutation appends ``.model.objects.all()``
#: to the call, i.e. the same model's whole table
M = [
    ("person list", "src/huimin/registry/views.py", "qs = persons_for(request.user)\n"),
    ("case list", "src/huimin/cases/views.py", "cases_for(request.user), request.GET)"),
    ("notice list", "src/huimin/cases/notice_views.py", "notices_for(request.user), request.GET)"),
    ("batch list", "src/huimin/payments/views.py", "qs = batches_for(request.user).select"),
    ("cycle list", "src/huimin/payments/views.py", "cycles_for(request.user), request.GET)"),
    ("summary", "src/huimin/reports/views.py", "cases = cases_for(request.user)\n"),
    ("/api/cycles", "src/huimin/payments/api.py", "cycles_for(request.user)[page.offset"),
    ("/api/batches", "src/huimin/payments/api.py", "batches_for(request.user)[page.offset"),
    ("/api/cases", "src/huimin/cases/api.py", 'qs = cases_for(request.user).order_by("id")'),
    ("/api/persons", "src/huimin/registry/api.py", "search.by_name(request.user, q).order_by"),
]


def mutate(text: str) -> str:
    call_end = text.index(")") + 1
    return text[:call_end] + ".model.objects.all()" + text[call_end:]

tests = sys.argv[1:] or ["tests/web/test_list_scope.py"]
failed = 0
for label, f, old in M:
    new = mutate(old)
    p = root / f
    s = p.read_text()
    assert s.count(old) == 1, (label, s.count(old))
    p.write_text(s.replace(old, new))
    try:
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-x",
                            *tests], cwd=root, env={**os.environ, "PYTHONPATH": "src"},
                           capture_output=True, text=True)
        last = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr[-200:]
        print(f"{label:14} {'caught' if r.returncode else 'NOT CAUGHT'}  {last}", flush=True)
        failed += r.returncode == 0
    finally:
        p.write_text(s)
sys.exit(1 if failed else 0)
