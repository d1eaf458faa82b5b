"""The device side of the demo: device models and the fleet simulator."""
