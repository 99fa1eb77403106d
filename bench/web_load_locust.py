"""The simulated users of ``bench/web_load.py`` as locust users (used when locust is
installed; ``web_load.py`` writes the plan and runs locust headless on this file).

Each role is a user class whose sessions, paths and mean wait come from the plan file named by
``WEB_LOAD_PLAN``; each request is named ``role|endpoint`` so that the statistics come out per
role and endpoint, as the built-in driver reports them. The users are ``FastHttpUser``
(geventhttpclient): the load generator shares the machine with the server, and
python-requests costs several times the CPU per request.
"""

from __future__ import annotations

import itertools
import json
import os
import random
from pathlib import Path
from typing import Any

from locust import between, task
from locust.contrib.fasthttp import FastHttpUser

PLAN = json.loads(Path(os.environ["WEB_LOAD_PLAN"]).read_text(encoding="utf-8"))
WAIT = float(PLAN["wait"])


def _user_class(role: str, spec: dict[str, Any]) -> type:
    sessions = itertools.cycle(spec["sessions"])
    paths: dict[str, list[str]] = spec["paths"]

    class RoleUser(FastHttpUser):
        wait_time = between(0.5 * WAIT, 1.5 * WAIT)
        weight = len(spec["sessions"])

        def on_start(self) -> None:
            self.headers = {"Cookie": f"sessionid={next(sessions)}",
                            "Accept-Language": "zh-hans"}

        @task
        def one(self) -> None:
            name = random.choice(list(paths))
            with self.client.get(random.choice(paths[name]), name=f"{role}|{name}",
                                 headers=self.headers,
                                 catch_response=True) as resp:
                if resp.status_code != 200:
                    resp.failure(f"HTTP {resp.status_code}")

    RoleUser.__name__ = f"{role.title().replace('_', '')}User"
    return RoleUser


for _role, _spec in PLAN["roles"].items():
    globals()[f"{_role}_user"] = _user_class(_role, _spec)
