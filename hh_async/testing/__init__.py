"""A fake HeadHunter for tests and demos: a real server on loopback that follows HH's spec and rules.

Needs the ``testing`` extra: ``pip install 'hh-async[testing]'``.
"""

from .faults import Faults
from .served import ServedApp
from .server import CLIENT_ID, CLIENT_SECRET, FakeHH
from .webhooks import DeliveryPolicy

__all__ = ["CLIENT_ID", "CLIENT_SECRET", "DeliveryPolicy", "FakeHH", "Faults", "ServedApp"]
