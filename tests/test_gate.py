"""The launchers' meeting point for sessions that share one machine (--gate-dir, the container
targets and `tox -e all`): a session's fast runs wait until every session's slow runs are going,
and nothing in the folder can keep them waiting for good (the gate opens after GATE seconds
whatever it says)."""

import errno
import os
import time

from harness.gate import Peers


def test_a_session_waits_until_every_peer_says_going(tmp_path):
    first, second = Peers(tmp_path, "first"), Peers(tmp_path, "second")
    assert not first.going(), "the second session's slow runs are not going yet"
    assert second.going()
    assert first.going()


def test_an_earlier_sessions_leftover_is_no_peer(tmp_path):
    (tmp_path / "killed-before-going.started").touch()
    old = time.time() - 2 * Peers.FRESH
    os.utime(tmp_path / "killed-before-going.started", (old, old))
    assert Peers(tmp_path, "me").going()


def test_a_container_started_again_must_say_going_again(tmp_path):
    # A container keeps its host name when compose starts it again, and its pid 1 child keeps its pid.
    Peers(tmp_path, "target").going()
    me = Peers(tmp_path, "me")
    Peers(tmp_path, "target")  # the next `docker compose up`
    assert not me.going()


def test_an_unwritable_folder_waits_for_nobody(tmp_path):
    blocked = tmp_path / "a-file"
    blocked.touch()
    assert Peers(blocked / "gate", "me").going()


def test_an_expected_session_is_waited_for_before_it_starts(tmp_path):
    (tmp_path / "target.going").touch()  # the last meeting's
    Peers.expect(tmp_path, ["local", "target"])
    local = Peers(tmp_path, "local")
    assert not local.going(), "the target has not said its slow runs are going in this meeting"
    Peers(tmp_path, "target").going()
    assert local.going()


def test_a_file_of_another_user_is_made_fresh(tmp_path, monkeypatch):
    # tox -e all runs as root and expects each target; later a container (user 10001) on its own
    # cannot change the time of root's file, and would be no peer of the others.
    (tmp_path / "target.started").touch()
    old = time.time() - 2 * Peers.FRESH
    os.utime(tmp_path / "target.started", (old, old))
    real_touch = type(tmp_path).touch

    def touch(path, *args, **kwargs):
        if path.exists() and path.name == "target.started":
            raise PermissionError(errno.EPERM, os.strerror(errno.EPERM))
        return real_touch(path, *args, **kwargs)

    monkeypatch.setattr(type(tmp_path), "touch", touch)
    Peers(tmp_path, "target")
    assert not Peers(tmp_path, "other").going(), "the target started again: it is a peer"
