"""Fault injection for the appliance: power cuts at named points, disk corruption, bad firmware."""
