"""bench/acl_cost.py at a smoke size: a private Mosquitto with the gateway's ACL carries every message."""

from __future__ import annotations

import re
import shutil

import pytest

import acl_cost


@pytest.mark.skipif(not (shutil.which("mosquitto") or shutil.which("/usr/sbin/mosquitto")),
                    reason="Mosquitto is not installed (stack/install.sh installs it)")
def test_the_bench_prints_a_rate_per_acl_size_beside_no_acl(capsys):
    assert acl_cost.main(["--registered", "0", "50", "--messages", "300"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[1].lstrip().startswith("no login, no ACL")
    rates = [float(re.split(r"\s+", row.strip())[-2]) for row in rows[1:]]
    assert len(rates) == 3 and all(r > 0 for r in rates)
