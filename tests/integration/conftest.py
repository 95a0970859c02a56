# SPDX-License-Identifier: Apache-2.0
import os
import shutil
import tempfile

import pytest

import harness


@pytest.fixture(scope="session")
def scratch():
    """A directory every server's worker user can read: pytest's own
    temporary directories are private to the user running the tests."""
    directory = tempfile.mkdtemp(prefix="tokengate-it-")
    os.chmod(directory, 0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def world(scratch):
    assert os.access(harness.TOKENGATE, os.X_OK), "build tokengate first: " + harness.TOKENGATE
    directory = os.path.join(scratch, "world")
    os.mkdir(directory)
    return harness.World(directory)


@pytest.fixture
def workdir(scratch, request):
    """A fresh readable directory for one test."""
    directory = tempfile.mkdtemp(prefix=request.node.name[:40] + "-", dir=scratch)
    os.chmod(directory, 0o755)
    return directory
