"""The ``runcode`` directive: tutorial code that runs while the documentation builds.

``.. runcode::`` executes its content in a namespace shared by all blocks of one page (so a
tutorial's steps build on each other), then shows the code and what it printed. With the option
``:figure: NAME`` the matplotlib figure bound to ``fig`` afterwards is saved and shown below.
An exception fails the build (it is reported as an error naming the page and the block).
"""
from __future__ import annotations

import contextlib
import io
import time
import traceback
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

_log = logging.getLogger(__name__)


class RunCode(SphinxDirective):
    """Run a Python block at build time; show its source, output and optional figure."""

    has_content = True
    option_spec = {"figure": directives.unchanged, "hide-output": directives.flag, "width": directives.unchanged}

    def run(self) -> list[nodes.Node]:
        env = self.env
        namespaces: dict[str, dict[str, Any]] = env.temp_data.setdefault("runcode_namespaces", {})
        ns = namespaces.setdefault(env.docname, {"__name__": f"docs_{env.docname.replace('/', '_')}"})
        code = "\n".join(self.content)
        out = io.StringIO()
        t0 = time.perf_counter()
        try:
            with contextlib.redirect_stdout(out):
                exec(compile(code, f"<{env.docname} line {self.lineno}>", "exec"), ns)
        except Exception:
            _log.error("runcode block failed in %s (line %s):\n%s", env.docname, self.lineno, traceback.format_exc(),
                       location=(env.docname, self.lineno))
            return [nodes.literal_block(code, code, language="python")]
        _log.info("runcode %s:%s %.1f s", env.docname, self.lineno, time.perf_counter() - t0)
        result: list[nodes.Node] = [nodes.literal_block(code, code, language="python")]
        text = out.getvalue().rstrip()
        if text and "hide-output" not in self.options:
            block = nodes.literal_block(text, text, language="none")
            block["classes"].append("runcode-output")
            result.append(block)
        if "figure" in self.options:
            fig = ns.get("fig")
            if fig is None or not hasattr(fig, "savefig"):
                _log.error("runcode :figure: needs a matplotlib figure bound to 'fig' in %s", env.docname,
                           location=(env.docname, self.lineno))
                return result
            name = f"{env.docname.replace('/', '-')}-{self.options['figure']}.png"
            folder = Path(env.srcdir) / "_generated"
            folder.mkdir(exist_ok=True)
            fig.savefig(folder / name, dpi=100, bbox_inches="tight")
            node = nodes.image(uri=f"/_generated/{name}", alt=self.options["figure"])
            if "width" in self.options:
                node["width"] = self.options["width"]
            result.append(node)
            ns.pop("fig", None)
        return result


def setup(app: Any) -> dict[str, Any]:
    """Register the directive."""
    app.add_directive("runcode", RunCode)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
