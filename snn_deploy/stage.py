"""Stage packages that are also functions: ``snn_deploy.train(...)`` next to ``snn_deploy.train.checkpoint``.

The Python API has the names the stages have (``sd.train``, ``sd.convert``, ``sd.energy``). A plain
function bound to ``snn_deploy.train`` would be replaced by the import system the moment any
``snn_deploy.train.<module>`` is imported (it sets the subpackage as an attribute of its parent), so
instead the stage package *itself* is callable: its ``__init__`` calls ``make_callable``, which
swaps the module's class for a ``ModuleType`` subclass whose ``__call__`` forwards to the stage's
API function. The function is imported on the first call, so importing the package stays light
(no torch, no Lava).
"""
from __future__ import annotations

import importlib
import sys
import types
from typing import Any


class CallableStage(types.ModuleType):
    """A stage package whose call runs ``self.__api__`` (``"module:function"``)."""

    __api__ = ""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.api_function()(*args, **kwargs)

    def api_function(self):
        module_name, _, function = self.__api__.partition(":")
        return getattr(importlib.import_module(module_name), function)


def make_callable(module_name: str, api: str) -> None:
    """Make the already-imported module ``module_name`` callable, forwarding to ``api`` ("mod:func")."""
    module = sys.modules[module_name]
    cls = type(f"{module_name.rsplit('.', 1)[-1].capitalize()}Stage", (CallableStage,),
               {"__api__": api, "__module__": __name__,
                "__doc__": f"The {module_name} stage; calling it runs {api.replace(':', '.')}."})
    module.__class__ = cls
