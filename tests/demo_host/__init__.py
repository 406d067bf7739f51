"""The reference host: an Aperture-style Flask app that carries the host contract.

``create_app`` builds it; see :mod:`tests.demo_host.app`.
"""

from tests.demo_host.app import create_app

__all__ = ["create_app"]
