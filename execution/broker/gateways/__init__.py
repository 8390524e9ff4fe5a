"""Broker gateways: one async interface (:mod:`execution.broker.gateways.base`) and its implementations."""
