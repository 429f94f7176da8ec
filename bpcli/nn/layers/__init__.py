"""Built-in layers, one module per family. Importing this package registers them all.

The import order is the order `bpcli show` and the docs list the layers in.
"""

# isort: off
from bpcli.nn.layers import dense  # noqa: F401
from bpcli.nn.layers import activations  # noqa: F401
from bpcli.nn.layers import log_softmax  # noqa: F401
from bpcli.nn.layers import dropout  # noqa: F401
from bpcli.nn.layers import norm  # noqa: F401
from bpcli.nn.layers import groupnorm  # noqa: F401
from bpcli.nn.layers import conv  # noqa: F401
from bpcli.nn.layers import conv1d  # noqa: F401
from bpcli.nn.layers import shape  # noqa: F401
from bpcli.nn.layers import merge  # noqa: F401
from bpcli.nn.layers import expr  # noqa: F401
# isort: on
