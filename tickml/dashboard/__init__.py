"""The dashboard app the stack serves (``tickml dashboard``): Dash and Plotly over InfluxQL.

| module | holds |
|---|---|
| ``panels.py`` | every panel and its InfluxQL, defined once (the app and the Grafana JSON both read them) |
| ``influxql.py`` | a query for a range and a page's choices, its values bound as parameters; what a query reads |
| ``timerange.py`` | the range picker's choices, ranges, the bucket that bounds a series |
| ``settings.py`` | dashboards/dashboard.toml, checked |
| ``source.py`` | the queries run through ``tickml.influx.Influx``; failures in words |
| ``figures.py`` | results as figures, tables and numbers (pure) |
| ``layout.py`` | the pages' components |
| ``callbacks.py`` | what fills them, and refreshes them |
| ``app.py``, ``server.py`` | the Dash app, served by waitress |
| ``guard.py`` | in front of it: the Host allowlist and the login (HTTP basic auth) |
| ``grafana.py`` | dashboards/grafana/tickml.json generated from the panels |
"""
