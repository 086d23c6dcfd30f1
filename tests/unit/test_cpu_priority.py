"""Parts off the paging path yield the CPU on a shared host (docs/adr/cpu-priority.md)."""
import os
import subprocess
import sys

import pytest

from closedloop.cli import lower_cpu_priority
from closedloop.stack import CPU_NICE, cpu_nice


def test_capa_and_the_console_run_nicer_than_the_paging_path(monkeypatch):
    monkeypatch.delenv(CPU_NICE, raising=False)
    assert cpu_nice("capa") == {CPU_NICE: "10"}
    assert cpu_nice("console") == {CPU_NICE: "10"}
    for part in ("detector", "incidents", "notifier"):
        assert cpu_nice(part) == {}


def test_a_niceness_in_the_environment_applies_to_every_part_instead(monkeypatch):
    monkeypatch.setenv(CPU_NICE, "0")
    assert cpu_nice("capa") == {}  # inherited: every part runs at 0


def test_the_process_takes_the_niceness_it_is_given():
    code = ("import os; from closedloop.cli import lower_cpu_priority; "
            "before = os.nice(0); lower_cpu_priority('5'); print(os.nice(0) - before)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    assert done.stdout.strip() == "5"


@pytest.mark.parametrize("value", ["-5", "20", "low", "1.5"])
def test_a_niceness_out_of_range_is_refused_with_the_range(value):
    with pytest.raises(SystemExit) as refused:
        lower_cpu_priority(value)
    assert "CLOSEDLOOP_CPU_NICE must be a whole number from 0 to 19" in str(refused.value)


def test_no_niceness_changes_nothing():
    before = os.nice(0)
    lower_cpu_priority("")
    assert os.nice(0) == before
