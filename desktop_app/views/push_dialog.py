"""``PushDialog``: `docker push` of an image name (tagged with its registry's name first)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from desktop_app.state.pushes import PushProgress, run_push
from desktop_app.state.transfers import TransferProgress
from desktop_app.views.transfer_dialog import TransferDialog


class PushDialog(TransferDialog):
    verb = "Push"
    title = "Push an image"
    placeholder = "registry.example:5000/team/app:1"
    hint = "Tag the image with the registry's name first to push it there."

    def new_progress(self, reference: str) -> TransferProgress:
        return PushProgress(reference)

    def run(self, progress: TransferProgress, on_message: Callable[[], None]) -> Awaitable[object]:
        assert isinstance(progress, PushProgress)
        return run_push(self._client, progress, on_message)
