"""The EC2 emulation's fixtures (shared with the backend contract suite)."""

from support.ec2_fixtures import aws, emulator, no_emulated_instance_left, pushed_image, pushed_toolkit_image  # noqa: F401
from support.moto import moto_server  # noqa: F401
