"""The course's criteria catalog: every module in this folder registers its criteria.

Adding a criterion means adding a module here (or a function to one) and its tests.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
