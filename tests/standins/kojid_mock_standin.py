"""Stand-in kojid plugin for the real-kojid test: buildroots run ``mock_standin``.

kojid runs ``options.mockpath`` (default /usr/bin/mock) but takes no config
option for it; this sets it from $DISCOMY_MOCK_STANDIN before each task. It
also drops ``mockuser``: kojid would switch to that user and to the ``mock``
group that mock's package creates, and neither exists here.
"""

import os

import koji.daemon

_stock_take_task = koji.daemon.TaskManager.takeTask


def takeTask(self, task):
    self.options.mockpath = os.environ["DISCOMY_MOCK_STANDIN"]
    if hasattr(self.options, "mockuser"):
        del self.options.mockuser
    return _stock_take_task(self, task)


koji.daemon.TaskManager.takeTask = takeTask
