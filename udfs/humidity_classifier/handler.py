"""humidity_classifier: pass on only points whose humidity is above a threshold.

The Edge Insights sample socket UDF: a point comes out, unchanged, when its
``field`` (``humidity`` by default) is above ``threshold`` (25). In the
seed's words such points are "filtered out", meaning picked out, as for
``py_classifier``. Points without a usable number in ``field`` are logged
(rate-limited) and skipped.

Contract: wants stream, provides stream; options ``field`` (string),
``threshold`` (double); stateless.

Run as a socket UDF with ``python -m udfs.humidity_classifier --socket PATH``,
or as a process UDF with ``python -m udfs.humidity_classifier``.

Examples
--------
>>> sorted(HumidityClassifier.info_response().info.options)
['field', 'threshold']
"""


from udfs.agent import Handler, Option


class HumidityClassifier(Handler):
    """Pass on points whose field is above threshold."""

    name = "humidity_classifier"
    wants = "stream"
    provides = "stream"
    options = (
        Option("field", "string", "humidity", help="Field to classify."),
        Option("threshold", "double", 25.0, help="Points above this pass."),
    )

    def point(self, p):
        if p.number(self.opts.field) > self.opts.threshold:
            self.forward(p)

