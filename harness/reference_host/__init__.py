"""The reference host: an Aperture-style Flask app that carries the host contract.

``create_app`` builds it; see :mod:`harness.reference_host.app`.
"""

from harness.reference_host.app import create_app

__all__ = ["create_app"]
