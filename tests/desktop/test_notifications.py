"""Tray messages about failing containers: which events call for one (pure), the opt-in switch
and its file, and, with a real system tray (Xvfb + ``trayer``, in a child run as in
``test_tray_menu``), ``docker run busybox false`` against a real doca-engine."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from desktop_app.desktop import DesktopApp
from desktop_app.state.container_alerts import DIED, UNHEALTHY, ContainerAlerts, Notice
from desktop_app.state.notification_settings import NotificationSettings, default_path
from desktop_app.state.rows import COMPOSE_PROJECT
from tests.desktop import test_tray_menu as tray_tests
from tests.desktop.test_tray_menu import TRAY_HOST_ENV, run_under_tray_host
from tests.support.engine import DockerCLI

# The tray tests' fixtures: a real tray, an app on the module's engine, notifications in tmp_path.
system_tray = tray_tests.system_tray
live_desktop = tray_tests.live_desktop
notifications = tray_tests.notifications

CID = "c" * 64


def event(action: str, cid: str = CID, **attributes: str) -> dict[str, Any]:
    attributes.setdefault("name", "web")
    attributes.setdefault("image", "busybox")
    return {"Type": "container", "Action": action, "Actor": {"ID": cid, "Attributes": attributes}}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def alerts(clock: Clock) -> ContainerAlerts:
    return ContainerAlerts(NotificationSettings(enabled=True), repeat_after=5.0, clock=clock)


# --- which events call for a message -----------------------------------------------------


def test_a_non_zero_exit_is_reported(alerts: ContainerAlerts) -> None:
    notice = alerts.decide(event("die", exitCode="1"))
    assert notice == Notice(CID, DIED, "Container web failed", "web (busybox) exited with code 1.")
    assert alerts.decide(event("die", cid="d" * 64, exitCode="0")) is None
    assert alerts.decide(event("die", cid="e" * 64)) is None  # no exit code: nothing to say


def test_nothing_is_reported_while_notifications_are_off(alerts: ContainerAlerts) -> None:
    alerts.notifications.set_enabled(False)
    assert alerts.decide(event("die", exitCode="1")) is None
    assert alerts.decide(event("health_status: unhealthy")) is None
    alerts.notifications.set_enabled(True)
    assert alerts.decide(event("die", exitCode="2")) is not None


def test_the_same_message_is_not_repeated_within_a_few_seconds(
    alerts: ContainerAlerts, clock: Clock
) -> None:
    assert alerts.decide(event("die", exitCode="1")) is not None
    clock.now += 2
    assert alerts.decide(event("die", exitCode="1")) is None  # a restart loop
    assert alerts.decide(event("die", cid="d" * 64, exitCode="1")) is not None  # another one
    assert alerts.decide(event("health_status: unhealthy")) is not None  # another message
    clock.now += 3.5
    assert alerts.decide(event("die", exitCode="1")) is not None


def test_a_container_the_user_stopped_or_killed_is_not_reported(
    alerts: ContainerAlerts, clock: Clock
) -> None:
    alerts.decide(event("kill", signal="15"))
    assert alerts.decide(event("die", exitCode="137")) is None  # docker stop
    assert alerts.decide(event("stop")) is None
    alerts.decide(event("kill", signal="9"))
    clock.now += 61
    notice = alerts.decide(event("die", exitCode="137"))  # long after: not the kill's doing
    assert notice is not None and "code 137" in notice.text


def test_turning_notifications_on_during_a_stop_stays_quiet(alerts: ContainerAlerts) -> None:
    alerts.notifications.set_enabled(False)
    alerts.decide(event("kill", signal="15"))
    alerts.notifications.set_enabled(True)
    assert alerts.decide(event("die", exitCode="143")) is None


def test_out_of_memory_is_reported_even_after_a_kill(alerts: ContainerAlerts) -> None:
    alerts.decide(event("kill", signal="15"))
    alerts.decide(event("oom"))
    notice = alerts.decide(event("die", exitCode="137"))
    assert notice is not None
    assert notice.text == "web (busybox) exited with code 137: it ran out of memory."


def test_an_unhealthy_container_is_reported(alerts: ContainerAlerts) -> None:
    labels = {COMPOSE_PROJECT: "demo"}
    notice = alerts.decide(event("health_status: unhealthy", name="demo-web-1", **labels))
    assert notice == Notice(
        CID,
        UNHEALTHY,
        "Container demo-web-1 is unhealthy",
        "The health check of demo-web-1 (busybox, Compose project demo) is failing.",
    )
    assert alerts.decide(event("health_status: healthy", cid="d" * 64)) is None
    assert alerts.decide(event("health_status: starting", cid="e" * 64)) is None


def test_other_events_are_ignored(alerts: ContainerAlerts) -> None:
    assert alerts.decide({"Type": "image", "Action": "die", "Actor": {"ID": "x"}}) is None
    assert alerts.decide({"Type": "container", "Action": "die", "Actor": {}}) is None
    assert alerts.decide(event("die", exitCode="not a number")) is None
    alerts.decide(event("kill", signal="15"))
    alerts.decide(event("destroy"))  # forgotten with the container
    assert alerts.decide(event("die", exitCode="1")) is not None


def test_a_nameless_container_is_named_by_its_short_id(alerts: ContainerAlerts) -> None:
    bare = {"Type": "container", "Action": "die", "Actor": {"ID": CID, "Attributes": {}}}
    bare["Actor"]["Attributes"]["exitCode"] = "3"
    notice = alerts.decide(bare)
    assert notice is not None and notice.title == f"Container {CID[:12]} failed"
    assert notice.text == f"{CID[:12]} exited with code 3."


# --- the switch ---------------------------------------------------------------------------


def test_settings_are_off_by_default_and_kept_in_their_file(tmp_path: Path) -> None:
    path = tmp_path / "config" / "notifications.json"
    assert not NotificationSettings.load(path).enabled
    assert not NotificationSettings.load(None).enabled
    kept = NotificationSettings.load(path)
    heard: list[bool] = []
    kept.add_listener(heard.append)
    assert kept.set_enabled(True) and not kept.set_enabled(True)
    assert heard == [True]
    kept.save()
    assert NotificationSettings.load(path).enabled
    assert [p.name for p in path.parent.iterdir()] == ["notifications.json"]
    path.write_text("{not json")
    assert not NotificationSettings.load(path).enabled
    path.write_text('["a list"]')
    assert not NotificationSettings.load(path).enabled
    NotificationSettings(None, enabled=True).save()  # memory only: nothing to write


def test_settings_file_sits_beside_the_settings_page_file() -> None:
    expected = Path("/home/u/.xdg/doca/notifications.json")
    assert default_path({"XDG_CONFIG_HOME": "/home/u/.xdg"}) == expected
    assert default_path({"HOME": "/home/u"}) == Path("/home/u/.config/doca/notifications.json")


# --- with a real tray host and a real engine (child run) --------------------------------


def test_notifications_under_xvfb_and_trayer() -> None:
    if os.environ.get(TRAY_HOST_ENV):
        pytest.skip("this is the child run")
    run_under_tray_host(__file__)


def balloons() -> list[str]:
    """The tray messages on screen (Qt draws them itself where no notification service runs)."""
    return [
        w.metaObject().className()
        for w in QApplication.topLevelWidgets()
        if w.metaObject().className() == "QBalloonTip" and w.isVisible()
    ]


def test_tray_host_docker_run_false_is_reported_only_when_enabled(
    qtbot: QtBot, live_desktop: DesktopApp, docker: DockerCLI, notifications: NotificationSettings
) -> None:
    tray = live_desktop.tray
    shown: list[Notice] = []
    tray.notice_shown.connect(shown.append)
    # Subscribed after the app's own handler: once this one has seen a die, the tray has too.
    events: list[dict[str, Any]] = []
    live_desktop.session.pump.subscribe(events.append)

    def died(name: str) -> bool:
        return any(
            e.get("Action") == "die" and e["Actor"]["Attributes"].get("name") == name
            for e in events
        )

    try:
        assert not notifications.enabled  # opt-in
        docker("run", "--name", "quiet-false", "busybox", "false", check=False)
        qtbot.waitUntil(lambda: died("quiet-false"), timeout=5000)
        qtbot.wait(200)  # a message would be on its way by now
        assert shown == [] and balloons() == []

        tray.notify_action.trigger()  # opt in, from the tray
        assert notifications.enabled
        result = docker("run", "--name", "loud-false", "busybox", "false", check=False)
        assert result.returncode == 1
        qtbot.waitUntil(lambda: len(shown) == 1, timeout=5000)
        assert shown[0].title == "Container loud-false failed"
        assert shown[0].text == "loud-false (busybox) exited with code 1."
        qtbot.waitUntil(lambda: balloons() == ["QBalloonTip"], timeout=3000)

        requested: list[str] = []
        tray.logs_requested.connect(requested.append)
        assert tray.icon is not None
        tray.icon.messageClicked.emit()  # a click on the message: that container's logs
        assert requested == [shown[0].container_id]
        window = live_desktop.window
        assert window.isVisible()
        # The message may come before the list holds the container: it is selected once it does.
        qtbot.waitUntil(
            lambda: [r.name for r in window.containers.selected_rows()] == ["loud-false"],
            timeout=3000,
        )

        docker("run", "-d", "--name", "stopped-by-user", "busybox", "sleep", "300")
        docker("stop", "-t", "1", "stopped-by-user")  # killed after 1 s: exit code 137
        qtbot.waitUntil(lambda: died("stopped-by-user"), timeout=5000)
        qtbot.wait(200)
        assert [n.title for n in shown] == ["Container loud-false failed"]

        tray.notify_action.trigger()  # and out again
        assert not notifications.enabled
        docker("run", "--name", "quiet-again", "busybox", "false", check=False)
        qtbot.waitUntil(lambda: died("quiet-again"), timeout=5000)
        qtbot.wait(200)
        assert len(shown) == 1
    finally:
        for name in ("quiet-false", "loud-false", "stopped-by-user", "quiet-again"):
            docker("rm", "-f", name, check=False)
