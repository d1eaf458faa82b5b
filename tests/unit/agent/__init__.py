"""Unit and protocol tests of udfs.agent and the sample socket UDFs."""
