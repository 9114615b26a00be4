"""Functions through the Python SDK: a function is a local command; executions sync and async."""

from __future__ import annotations

import sys
import time

import pytest
from appwrite.enums.execution_method import ExecutionMethod
from appwrite.enums.execution_status import ExecutionStatus
from appwrite.enums.runtime import Runtime
from appwrite.exception import AppwriteException
from appwrite.role import Role

from tests.compat_python.conftest import uid

ECHO = f"{sys.executable} -c \"import sys; print('got ' + sys.stdin.read())\""


def test_function_lifecycle(admin):
    fid = uid()
    f = admin.functions.create(fid, "echo", Runtime.PYTHON_3_12, execute=[Role.users()], commands=ECHO, timeout=10)
    assert f.id == fid and f.commands == ECHO and f.runtime == "local" and f.execute == ["users"]
    assert admin.functions.get(fid).name == "echo"
    assert fid in [x.id for x in admin.functions.list().functions]
    assert admin.functions.update(fid, "echo two", timeout=20).timeout == 20
    assert admin.functions.delete(fid) == b""
    with pytest.raises(AppwriteException) as err:
        admin.functions.get(fid)
    assert err.value.code == 404 and err.value.type == "function_not_found"


def test_executions(admin, user):
    fid = uid()
    admin.functions.create(fid, "echo", Runtime.PYTHON_3_12, execute=[Role.users()], commands=ECHO, timeout=10)
    run = user.functions.create_execution(fid, body="hi", method=ExecutionMethod.POST, path="/x")
    assert run.status is ExecutionStatus.COMPLETED and run.responsebody.strip() == "got hi" and run.responsestatuscode == 200
    later = user.functions.create_execution(fid, body="later", xasync=True)
    assert later.status.value in ("waiting", "processing", "completed")
    deadline = time.monotonic() + 20
    while admin.functions.get_execution(fid, later.id).status is not ExecutionStatus.COMPLETED:
        assert time.monotonic() < deadline, "the async execution did not complete"
        time.sleep(0.1)
    assert admin.functions.get_execution(fid, later.id).responsebody.strip() == "got later"
    assert {e.id for e in admin.functions.list_executions(fid).executions} == {run.id, later.id}
    assert admin.functions.delete_execution(fid, run.id) == b""
    with pytest.raises(AppwriteException) as err:
        admin.functions.get_execution(fid, run.id)
    assert err.value.code == 404 and err.value.type == "execution_not_found"
    with pytest.raises(AppwriteException) as err:
        user.functions.delete_execution(fid, later.id)
    assert err.value.code == 401


def test_runtimes_and_specifications_say_what_runs(admin):
    runtimes = admin.functions.list_runtimes()
    assert runtimes.total == 1 and runtimes.runtimes[0].key == "local"
    spec = admin.functions.list_specifications()
    assert spec.total == 1 and spec.specifications[0].slug == "local" and spec.specifications[0].cpus >= 1
