"""The EC2 emulation's fixtures (shared with the backend contract suite)."""

from support.ec2_fixtures import (  # noqa: F401
    aws,
    emulator,
    no_emulated_instance_left,
    pushed_framework_image,
    pushed_image,
    pushed_serving_image,
    pushed_toolkit_image,
)
from support.moto import moto_server  # noqa: F401
