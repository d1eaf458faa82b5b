"""py_classifier: pass on only points whose temperature is out of band.

The Edge Insights sample socket UDF: a point comes out, unchanged, when its
``field`` (``temperature`` by default) is below ``low`` (20) or above
``high`` (25); points inside the band are dropped. Points without a usable
number in ``field`` are logged (rate-limited) and skipped.

Contract: wants stream, provides stream; options ``field`` (string),
``low`` (double), ``high`` (double); stateless (snapshot/restore carry no
state).

Run as a socket UDF with ``python -m udfs.py_classifier --socket PATH``, or
as a process UDF with ``python -m udfs.py_classifier``.

Examples
--------
>>> PyClassifier.info_response().info.options["low"].valueTypes
[2]
"""


from udfs.agent import Handler, Option


class PyClassifier(Handler):
    """Pass on points whose field is below low or above high."""

    name = "py_classifier"
    wants = "stream"
    provides = "stream"
    options = (
        Option("field", "string", "temperature", help="Field to classify."),
        Option("low", "double", 20.0, help="Points below this pass."),
        Option("high", "double", 25.0, help="Points above this pass."),
    )

    def check_options(self, opts):
        if opts.low > opts.high:
            return [f"option 'low' ({opts.low}) must not be above option 'high' ({opts.high})"]
        return ()

    def point(self, p):
        value = p.number(self.opts.field)
        if value < self.opts.low or value > self.opts.high:
            self.forward(p)

