"""Broker gateways: one async interface (:mod:`execution.gateways.base`) and its implementations."""
