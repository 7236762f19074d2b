"""The live line: machines speaking MQTT through a real broker, both ways.

``topics`` is the convention (Sparkplug B namespace, JSON payloads), ``broker`` runs the local
Mosquitto with per-gateway credentials and ACLs, ``mqtt`` connects a client to any broker.
"""
